"""A tiny Debian archive the tests build and sign themselves (served from file:// or 127.0.0.1).

``dists/<suite>/InRelease`` is cleartext- signed with a throwaway OpenPGP key made by
pysequoia; its SHA256 list covers ``main/binary-<arch>/Packages`` and the compressed copy.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import lzma
import tarfile
from pathlib import Path

from pysequoia import SignatureMode, Tsk, sign


def make_key(directory: Path, name: str) -> tuple[Tsk, Path]:
    """A new signing key, and a keyring file holding its public part."""
    key = Tsk.generate(f"{name} <{name}@pyrel.invalid>")
    directory.mkdir(parents=True, exist_ok=True)
    keyring = directory / f"{name}.asc"
    keyring.write_text(str(key.extract_certificate()))
    return key, keyring


def release_date(date: datetime.datetime) -> str:
    return date.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


def inrelease_text(
    suite: str,
    date: datetime.datetime,
    files: dict[str, bytes],
    *,
    arch: str = "amd64",
    codename: str | None = None,
    valid_until: datetime.datetime | None = None,
    by_hash: bool = False,
) -> str:
    lines = [
        "Origin: pyrel-test",
        "Label: pyrel-test",
        f"Suite: {suite}",
        f"Codename: {codename or suite}",
        f"Date: {release_date(date)}",
    ]
    if valid_until is not None:
        lines.append(f"Valid-Until: {release_date(valid_until)}")
    if by_hash:
        lines.append("Acquire-By-Hash: yes")
    lines += [f"Architectures: {arch}", "Components: main", "SHA256:"]
    lines += [f" {hashlib.sha256(data).hexdigest()} {len(data):>10} {path}" for path, data in sorted(files.items())]
    return "\n".join(lines) + "\n"


def signed(text: str, key: Tsk) -> bytes:
    return sign(key.signer(), text.encode(), mode=SignatureMode.CLEAR)


def write_suite(
    root: Path,
    suite: str,
    packages: str,
    key: Tsk,
    *,
    date: datetime.datetime,
    arch: str = "amd64",
    compression: str = "xz",
    codename: str | None = None,
    valid_until: datetime.datetime | None = None,
    extra: dict[str, bytes] | None = None,
    by_hash: bool = False,
) -> Path:
    """``<root>/dists/<suite>/`` with its Packages index and signed InRelease; returns the InRelease.

    ``extra``: more files of the suite (``main/Contents-amd64.gz``), listed and served; ``by_hash``: each
    also served as ``by-hash/SHA256/<sha256>`` in its directory, and InRelease says so."""
    directory = root / "dists" / suite
    index_dir = directory / "main" / f"binary-{arch}"
    index_dir.mkdir(parents=True, exist_ok=True)
    plain = packages.encode()
    files = {f"main/binary-{arch}/Packages": plain}
    if compression == "xz":
        files[f"main/binary-{arch}/Packages.xz"] = lzma.compress(plain)
    elif compression == "gz":
        files[f"main/binary-{arch}/Packages.gz"] = gzip.compress(plain, mtime=0)
    files.update(extra or {})
    for path, data in files.items():
        if path.endswith("Packages") and compression:
            continue  # like Debian: the plain index is listed, not served
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(data)
        if by_hash:
            hashed = (directory / path).parent / "by-hash" / "SHA256" / hashlib.sha256(data).hexdigest()
            hashed.parent.mkdir(parents=True, exist_ok=True)
            hashed.write_bytes(data)
    inrelease = directory / "InRelease"
    text = inrelease_text(suite, date, files, arch=arch, codename=codename, valid_until=valid_until, by_hash=by_hash)
    inrelease.write_bytes(signed(text, key))
    return inrelease


def make_deb(files: dict[str, bytes]) -> bytes:
    """A .deb (ar: debian-binary, control.tar.gz, data.tar.xz) holding ``files`` (``./path`` -> bytes)."""

    def tar(entries: dict[str, bytes], compression: str) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755
                archive.addfile(info, io.BytesIO(data))
        plain = buffer.getvalue()
        return gzip.compress(plain, mtime=0) if compression == "gz" else lzma.compress(plain)

    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", tar({"./control": b"Package: demo\n"}, "gz")),
        ("data.tar.xz", tar(files, "xz")),
    ]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def paragraph(name: str, version: str, deb: bytes, *, arch: str = "amd64", **fields: str) -> str:
    """A Packages paragraph for ``deb`` at ``pool/main/<n>/<name>/<name>_<version>_<arch>.deb``."""
    lines = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}"]
    lines += [f"{key.replace('_', '-')}: {value}" for key, value in fields.items()]
    lines += [
        f"Filename: {pool_path(name, version, arch)}",
        f"Size: {len(deb)}",
        f"SHA256: {hashlib.sha256(deb).hexdigest()}",
    ]
    return "\n".join(lines) + "\n"


def pool_path(name: str, version: str, arch: str = "amd64") -> str:
    return f"pool/main/{name[0]}/{name}/{name}_{version.split(':')[-1]}_{arch}.deb"
