"""Rewrite a stage's tar archives so that equal inputs give equal bytes.

Backends differ in how deterministic their archives are (setuptools writes the
gzip header with the current time and build-time mtimes into the tar), so every
``.tar.gz``/``.tgz`` output is rewritten: entries sorted by name, mtimes
clamped to SOURCE_DATE_EPOCH, owner and group 0 with empty names, modes 0644 or
0755 (directories 0755), and a gzip header without file name or time.  Zip
outputs keep their order (wheels put .dist-info last) and get clamped times.

Run inside the sandbox by the stage's own Python: ``python normalize_archives.py OUT EPOCH``.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
import time
import zipfile


def _mode(member_mode: int, is_dir: bool) -> int:
    if is_dir or member_mode & 0o111:
        return 0o755
    return 0o644


def normalize_tar_gz(path: str, epoch: int) -> None:
    with tarfile.open(path, "r:gz") as source:
        members = [(m, source.extractfile(m).read() if m.isfile() else None) for m in source.getmembers()]  # type: ignore[union-attr]
        pax_headers = dict(source.pax_headers)
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
    with open(temporary, "wb") as handle:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as compressed:
            compressed.write(raw)
    os.replace(temporary, path)


def normalize_zip(path: str, epoch: int) -> None:
    clamp = time.gmtime(max(epoch, 315532800))[:6]  # zip cannot store times before 1980
    temporary = path + ".pyrel-tmp"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            info.date_time = min(info.date_time, clamp)  # type: ignore[assignment]
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
