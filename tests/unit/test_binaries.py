"""Which system libraries a binary wheel's shared objects load, read from real ELF files.

The shared objects are the host's own libraries, copied into wheel-shaped zips
(no compiler needed): libstdc++ loads libgcc_s and glibc's libm and libc.
"""

from __future__ import annotations

import ctypes.util
import zipfile
from pathlib import Path

import pytest

from pywrap.locking.wheel_libraries import needed_libraries, system_runtime


def _host_library(name: str) -> Path:
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64"):
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate.resolve()
    found = ctypes.util.find_library(name.split(".so")[0].removeprefix("lib"))
    if found is None:
        pytest.fail(f"the host has no {name} (Debian's libstdc++6 is on every machine gcc or Python's deps run on)")
    return Path(found)


def _wheel(tmp_path: Path, members: dict[str, bytes]) -> Path:
    wheel = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return wheel


def test_a_cpp_extension_needs_the_cpp_runtime_and_libgcc(tmp_path: Path) -> None:
    extension = _host_library("libstdc++.so.6").read_bytes()  # an ELF that loads libgcc_s, libm, libc
    wheel = _wheel(
        tmp_path,
        {
            "demo/_speedups.cpython-311-x86_64-linux-gnu.so": extension,
            "demo/__init__.py": b"",
            "demo-1.0.dist-info/RECORD": b"",
        },
    )
    needed = needed_libraries(wheel)
    assert {"libgcc_s.so.1", "libc.so.6"} <= needed
    assert system_runtime(needed) == ["libgcc-s1"]
    assert system_runtime({"libstdc++.so.6", "libm.so.6"}) == ["libstdc++6"]


def test_what_the_wheel_bundles_is_not_asked_of_the_system(tmp_path: Path) -> None:
    # auditwheel copies what the policy does not allow into <package>.libs/ and links to that copy.
    extension = _host_library("libstdc++.so.6").read_bytes()
    wheel = _wheel(tmp_path, {"demo/_speedups.so": extension, "demo.libs/libgcc_s.so.1": b"not an ELF file"})
    needed = needed_libraries(wheel)
    assert "libgcc_s.so.1" not in needed and "libc.so.6" in needed
    assert system_runtime(needed) == []


def test_files_named_like_libraries_that_are_not_elf_are_skipped(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"demo/libfake.so": b"INPUT ( -lc )\n", "demo/data.so.txt": b"x"})
    assert needed_libraries(wheel) == set()
