"""One module, no package."""

ANSWER = 42
