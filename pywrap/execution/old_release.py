"""An old release meets today's tools: what a failed stage's hint says about ``exclude-newer``.

Pure.  The source's date is its SOURCE_DATE_EPOCH (``source-date-epoch``, else the last
commit's date); each locked wheel carries the time the index received it (the pylock's
``upload-time``).  When a stage of a source older than its newest wheel fails, the tools of
the source's day are one setting away: ``exclude-newer`` at the source's date, then
``pyrel lock``.  Debian packages do not count: exclude-newer resolves Python requirements only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from pywrap.config.model import FALLBACK_SOURCE_DATE_EPOCH
from pywrap.locking.lockfile import WheelEntry


def source_date(source_date_epoch: int) -> str:
    """SOURCE_DATE_EPOCH as ``exclude-newer`` takes it: an RFC 3339 time in UTC."""
    moment = datetime.datetime.fromtimestamp(source_date_epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def newer_than_source(wheels: Sequence[WheelEntry], source_date_epoch: int) -> list[WheelEntry]:
    """The wheels the index received after the source's date, newest first (those without an upload time
    are not counted: nothing says when they appeared)."""
    cutoff = datetime.datetime.fromtimestamp(source_date_epoch, tz=datetime.UTC)
    newer = [wheel for wheel in wheels if wheel.upload_time is not None and wheel.upload_time > cutoff]
    return sorted(newer, key=lambda wheel: (wheel.upload_time, wheel.name), reverse=True)


def exclude_newer_hint(
    stage: str,
    wheels: Sequence[WheelEntry],
    source_date_epoch: int,
    *,
    exclude_newer: str | None = None,
    table: str = "[tool.pyrel]",
) -> str:
    """What to try when a stage of a source older than its newest locked wheel failed; "" otherwise.

    ``table`` is where the project's pyrel keys live (``[tool.pyrel]``, or ``pyrel.toml``). No hint for a
    source without a date (the 1980 fallback): no date is known to resolve as of.
    """
    if source_date_epoch == FALLBACK_SOURCE_DATE_EPOCH:
        return ""
    newer = newer_than_source(wheels, source_date_epoch)
    if not newer:
        return ""
    date = source_date(source_date_epoch)
    newest = newer[0]
    assert newest.upload_time is not None
    current = f' (it is "{exclude_newer}" now)' if exclude_newer else ""
    return (
        f"the source is from {date[:10]} (SOURCE_DATE_EPOCH), but {len(newer)} of the {len(wheels)} wheels "
        f"locked for stage '{stage}' were uploaded after it (the newest: {newest.name} {newest.version}, "
        f"{newest.upload_time:%Y-%m-%d}); if today's tools broke this old release, resolve them as of its date: "
        f'set exclude-newer = "{date}" in {table}{current} and run `pyrel lock`'
    )
