"""Nix's internal-json log, folded into per-derivation logs and plain text."""

from __future__ import annotations

import json

from pywrap.progress import NixLog, fetch_item, fetch_summary, plain_text

DRV = "/nix/store/x0ic3pk179p75i3hahgliddmyzhwnnjz-herm-tool-git.drv"
OTHER = "/nix/store/zrp71qw784wzvv6yxr9h5vydrqkndkw2-herm-import-requests.drv"


def _event(**fields: object) -> str:
    return "@nix " + json.dumps(fields)


STREAM = [
    _event(action="msg", level=3, msg="these 2 derivations will be built:"),
    _event(action="start", id=1, level=3, type=105, text=f"building '{DRV}'", fields=[DRV, "", 1, 1]),
    _event(action="start", id=2, level=3, type=105, text=f"building '{OTHER}'", fields=[OTHER, "", 1, 1]),
    _event(action="result", id=2, type=105, fields=[0, 1, 0, 0]),
    _event(action="result", id=2, type=101, fields=["ModuleNotFoundError: No module named 'requests'"]),
    _event(action="result", id=1, type=101, fields=["run.sh: line 1: git: not found"]),
    _event(action="stop", id=1),
    _event(action="msg", level=0, msg=f"\x1b[31;1merror:\x1b[0m builder for '\x1b[35;1m{DRV}\x1b[0m' failed"),
    _event(action="msg", level=6, msg="a debug message nix-build would not show"),
    "not json at all",
    "@nix {broken",
]


def test_build_logs_are_kept_per_derivation() -> None:
    clock = iter(range(100))
    log = NixLog(clock=lambda: float(next(clock)))
    started = [log.feed(line) for line in STREAM]
    assert [activity.name for activity in started if activity] == ["herm-tool-git", "herm-import-requests"]
    assert log.log_of("herm-tool-git") == "run.sh: line 1: git: not found"
    assert log.log_of("herm-import-requests") == "ModuleNotFoundError: No module named 'requests'"
    assert log.log_of("absent") == ""
    assert [activity.name for activity in log.running()] == ["herm-import-requests"]
    assert log.derivation_path("herm-tool-git") == DRV and log.derivation_path("herm-tool") is None


def test_the_plain_text_is_what_nix_build_prints() -> None:
    text = plain_text("\n".join(STREAM))
    assert f"error: builder for '{DRV}' failed" in text  # colours stripped: the failed stage is found
    assert "git: not found" in text and "these 2 derivations will be built:" in text
    assert "debug message" not in text
    assert "not json at all" in text and "@nix {broken" in text


def test_fetch_messages_carry_sizes() -> None:
    human = lambda size: f"{size} B"  # noqa: E731
    assert fetch_summary(3, 1200, human) == "fetching 3 artifacts (1200 B)"
    assert fetch_summary(1, 5, human) == "fetching 1 artifact (5 B)"
    assert fetch_item(2, 3, "fetching wheel x", 10, human) == "[2/3] fetching wheel x, 10 B"
    assert fetch_item(1, 1, "fetching wheel x", None, human) == "[1/1] fetching wheel x"
