"""Thin adapter: every download pyrel makes itself (the Debian archive's indexes and ``.deb`` files).

urllib, so ``http://``, ``https://`` and ``file://`` URLs all work, and the proxies of the
environment (``http_proxy``, ``https_proxy``, ``no_proxy``) apply as for any other client.
A missing file (HTTP 404 or 410, or no such local file) is an answer, not an error: the
caller decides whether to look elsewhere.  Anything else that goes wrong is a
:class:`~pywrap.errors.DownloadError` naming the URL.
"""

from __future__ import annotations

import http.client
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import attrs

from pywrap import logger
from pywrap.adapters import run
from pywrap.errors import DownloadError

#: Seconds without an answer before a request fails (a stalled mirror must not hang a lock).
TIMEOUT_SECONDS = 60
NOT_FOUND = (404, 410)
_CHUNK = 1 << 20


@attrs.frozen
class Response:
    url: str
    #: 200, 304 (not modified since the validators sent), or 404 (no such file)
    status: int
    body: bytes = b""
    last_modified: str = ""
    etag: str = ""

    @property
    def found(self) -> bool:
        return self.status not in NOT_FOUND


def _request(url: str, headers: dict[str, str]) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": "pyrel", **headers})


def _failure(url: str, exc: BaseException) -> DownloadError:
    reason = getattr(exc, "reason", None) or exc
    return DownloadError(
        f"cannot download {url}: {reason}",
        hint="check the network, a proxy (`https_proxy`, `no_proxy`) or the configured URL",
    )


def _missing_local_file(exc: urllib.error.URLError) -> bool:
    return isinstance(exc.reason, FileNotFoundError | NotADirectoryError)


def get(url: str, *, last_modified: str = "", etag: str = "", timeout: float = TIMEOUT_SECONDS) -> Response:
    """The file at ``url``, or 304 when the validators of a copy the caller holds still match."""
    headers = {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if etag:
        headers["If-None-Match"] = etag
    if run.VERBOSE:
        logger.step(f"GET {url}")
    try:
        with urllib.request.urlopen(_request(url, headers), timeout=timeout) as answer:
            body = answer.read()
            return Response(url, 200, body, answer.headers.get("Last-Modified", ""), answer.headers.get("ETag", ""))
    except urllib.error.HTTPError as exc:
        if exc.code == 304 or exc.code in NOT_FOUND:
            return Response(url, exc.code)
        raise _failure(url, exc) from exc
    except urllib.error.URLError as exc:
        if _missing_local_file(exc):
            return Response(url, 404)
        raise _failure(url, exc) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise _failure(url, exc) from exc


def download(url: str, target: Path, *, timeout: float = TIMEOUT_SECONDS) -> bool:
    """Write the file at ``url`` to ``target``; False (nothing written) if there is no such file."""
    if run.VERBOSE:
        logger.step(f"GET {url}")
    try:
        with urllib.request.urlopen(_request(url, {}), timeout=timeout) as answer, target.open("wb") as out:
            shutil.copyfileobj(answer, out, _CHUNK)
        return True
    except urllib.error.HTTPError as exc:
        if exc.code in NOT_FOUND:
            return False
        raise _failure(url, exc) from exc
    except urllib.error.URLError as exc:
        if _missing_local_file(exc):
            return False
        raise _failure(url, exc) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        target.unlink(missing_ok=True)
        raise _failure(url, exc) from exc


__all__ = ["Response", "download", "get"]
