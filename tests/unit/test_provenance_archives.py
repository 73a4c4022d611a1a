"""Deterministic archives: the in-sandbox normalizer gives equal bytes for equal content,
whatever the order, times, modes (umask) and owners the stage's tools wrote."""

from __future__ import annotations

import importlib.util
import os
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "nix" / "tools"
EPOCH = 1700000000


@pytest.fixture(scope="module")
def normalizer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("normalize_archives", TOOLS / "normalize_archives.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("normalize_archives", module)
    spec.loader.exec_module(module)
    return module


FILES = {
    "pkg/__init__.py": b"",
    "pkg/tool.py": b"print('hi')\n",
    "pkg-1.0.dist-info/RECORD": b"x",
    "pkg-1.0.dist-info/METADATA": b"Name: pkg\n",
}


def _zip(path: Path, order: list[str], date_time: tuple[int, ...], mode: int, extra: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=date_time)  # type: ignore[arg-type]
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.extra = extra
            archive.writestr(info, FILES[name])


def test_zips_and_wheels_are_rewritten_to_the_same_bytes(tmp_path: Path, normalizer: ModuleType) -> None:
    first, second = tmp_path / "a.whl", tmp_path / "b.whl"
    _zip(first, sorted(FILES), (2030, 1, 1, 0, 0, 0), 0o100664, b"")
    _zip(
        second, sorted(FILES, reverse=True), (2031, 6, 1, 12, 0, 0), 0o100600, b"UT\x05\x00\x01\x00\x00\x00\x00"
    )  # an extended-timestamp field, as zip(1) writes
    assert first.read_bytes() != second.read_bytes()
    for path in (first, second):
        normalizer.normalize_zip(str(path), EPOCH)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names[-2:] == ["pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/RECORD"]  # .dist-info last
        assert all(info.date_time == (2023, 11, 14, 22, 13, 20) for info in archive.infolist())
        assert all((info.external_attr >> 16) & 0o777 == 0o644 for info in archive.infolist())


def _tree(root: Path, umask: int, mtime: int) -> None:
    old = os.umask(umask)
    try:
        for name, data in FILES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (mtime, mtime))
    finally:
        os.umask(old)


def test_docs_archives_do_not_depend_on_umask_or_file_times(tmp_path: Path, normalizer: ModuleType) -> None:
    _tree(tmp_path / "one", 0o022, EPOCH + 10)
    _tree(tmp_path / "two", 0o077, EPOCH + 99999)
    normalizer.write_tar_gz(str(tmp_path / "one"), str(tmp_path / "one.tar.gz"), "docs", EPOCH)
    normalizer.write_tar_gz(str(tmp_path / "two"), str(tmp_path / "two.tar.gz"), "docs", EPOCH)
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    raw = (tmp_path / "one.tar.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08  # gzip: no time, no file name
    with tarfile.open(tmp_path / "one.tar.gz") as archive:
        members = archive.getmembers()
    assert [member.name for member in members] == sorted(member.name for member in members)
    assert all(member.mtime <= EPOCH and member.uid == 0 and member.uname == "" for member in members)


def test_sdists_are_rewritten_to_the_same_bytes(tmp_path: Path, normalizer: ModuleType) -> None:
    for name, umask, mtime in (("a", 0o022, EPOCH + 5), ("b", 0o077, EPOCH + 500)):
        _tree(tmp_path / name, umask, mtime)
        with tarfile.open(tmp_path / f"{name}.tar.gz", "w:gz") as archive:  # the current time in the gzip header
            for path in sorted((tmp_path / name).rglob("*"), reverse=name == "b"):
                archive.add(path, arcname=str(path.relative_to(tmp_path / name)), recursive=False)
        normalizer.normalize_tar_gz(str(tmp_path / f"{name}.tar.gz"), EPOCH)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
