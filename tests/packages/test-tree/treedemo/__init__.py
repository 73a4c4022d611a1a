"""A stale copy at the root (as in a flat layout): the tests must never import it."""

WHERE = "sources"
