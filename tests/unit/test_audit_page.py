"""The audit page in a real headless browser: it renders, offline, with its pictures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pywrap.audit import report
from tests.unit.test_audit import make_report

pytestmark = pytest.mark.browser


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    assert browser is not None, "install the Debian package chromium"
    page = tmp_path / "audit.html"
    page.write_text(report.render_html(make_report()))
    screenshot = tmp_path / "audit.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 900)
    # Not a blank page: the bars' colours take up many distinct bytes of the image.
    assert len(set(data[100:])) > 200 and len(data) > 20_000
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count("<svg") == 3 and "Packages per stage" in dom
