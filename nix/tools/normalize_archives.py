"""Rewrite a stage's tar archives so that equal inputs give equal bytes.

Backends differ in how deterministic their archives are (setuptools writes the
gzip header with the current time and build-time mtimes into the tar), so every
``.tar.gz``/``.tgz`` output is rewritten: entries sorted by name, mtimes
clamped to SOURCE_DATE_EPOCH, owner and group 0 with empty names, modes 0644 or
0755 (directories 0755), and a gzip header without file name or time.  Zip
and wheel outputs get the same: entries sorted (a wheel's .dist-info last),
clamped times, unix modes 0644/0755 and no extra fields (which hold times).

Run inside the sandbox by the stage's own Python, without site-packages (it needs
only the standard library): ``python -I -S normalize_archives.py OUT EPOCH``.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import tarfile
import time


def _mode(member_mode: int, is_dir: bool) -> int:
    if is_dir or member_mode & 0o111:
        return 0o755
    return 0o644


def normalize_tar_gz(path: str, epoch: int) -> None:
    with tarfile.open(path, "r:gz") as source:
        members = [(m, source.extractfile(m).read() if m.isfile() else None) for m in source.getmembers()]  # type: ignore[union-attr]
        pax_headers = dict(source.pax_headers)
    _write(members, path, epoch, pax_headers)


def write_tar_gz(directory: str, path: str, prefix: str, epoch: int) -> None:
    """A deterministic archive of ``directory`` whose entries live under ``prefix/``."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for current, subdirs, files in os.walk(directory):
        subdirs.sort()
        for name in [*subdirs, *sorted(files)]:
            full = os.path.join(current, name)
            info = tarfile.TarInfo(prefix + "/" + os.path.relpath(full, directory))
            stat = os.lstat(full)
            info.mtime = int(stat.st_mtime)
            info.mode = stat.st_mode & 0o7777
            if os.path.islink(full):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
                members.append((info, None))
            elif os.path.isdir(full):
                info.type = tarfile.DIRTYPE
                members.append((info, None))
            else:
                with open(full, "rb") as stream:
                    data = stream.read()
                info.size = len(data)
                members.append((info, data))
    _write(members, path, epoch, {})


def _write(
    members: list[tuple[tarfile.TarInfo, bytes | None]], path: str, epoch: int, pax_headers: dict[str, str]
) -> None:
    members.sort(key=lambda item: item[0].name)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax_headers) as target:
        for member, data in members:
            member.mtime = min(int(member.mtime), epoch)
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = _mode(member.mode, member.isdir())
            member.pax_headers = {k: v for k, v in member.pax_headers.items() if k not in ("mtime", "atime", "ctime")}
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    temporary = path + ".pyrel-tmp"
    with (
        open(temporary, "wb") as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as compressed,
    ):
        compressed.write(raw)
    os.replace(temporary, path)


def _zip_order(name: str) -> tuple[bool, str]:
    # Sorted by name, with a wheel's .dist-info last (the wheel spec asks installers
    # to find it at the end, and RECORD names every other file).
    return (name.split("/", 1)[0].endswith(".dist-info"), name)


def normalize_zip(path: str, epoch: int) -> None:
    """Entries sorted, times clamped, unix modes 0644/0755, no extra fields (their times)."""
    import zipfile  # imported here: most stages write no zip, and it costs every stage ~10 ms of startup

    clamp = time.gmtime(max(epoch, 315532800))[:6]  # zip cannot store times before 1980
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    entries.sort(key=lambda entry: _zip_order(entry[0].filename))
    temporary = path + ".pyrel-tmp"
    with zipfile.ZipFile(temporary, "w") as target:
        for old, data in entries:
            info = zipfile.ZipInfo(old.filename, date_time=min(old.date_time, clamp))
            info.compress_type = old.compress_type
            info.create_system = 3  # unix, so the mode bits below are read
            unix_mode = old.external_attr >> 16
            if old.is_dir():
                info.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
            elif stat.S_ISLNK(unix_mode):
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            else:
                info.external_attr = (stat.S_IFREG | _mode(unix_mode, False)) << 16
            target.writestr(info, data)
    os.replace(temporary, path)


def main(out: str, epoch_text: str) -> None:
    epoch = int(epoch_text)
    for directory, _subdirs, files in os.walk(out):
        for name in sorted(files):
            path = os.path.join(directory, name)
            if name.endswith((".tar.gz", ".tgz")):
                normalize_tar_gz(path, epoch)
            elif name.endswith((".zip", ".whl")):
                normalize_zip(path, epoch)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
