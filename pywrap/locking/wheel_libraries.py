"""What a binary wheel's shared objects and programs load from the system, read from their ELF headers.

The manylinux policies let a wheel link a few libraries of the system instead
of bundling them: glibc's (which every stage has, with ``libc6``), and the
C++ runtime and ``libgcc_s``, which Python itself does not need.  ``pyrel
lock`` reads the ``DT_NEEDED`` entries of every shared object and every
program in a stage's binary wheels (pyelftools; ninja's and cmake's programs
are C++) and adds the Debian packages of those two to the stage's closure only
when a wheel asks for them: a C extension that links only glibc (a
mypyc-compiled tomli) adds nothing.  Pure: file in, names out.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

#: Libraries the manylinux policies let a wheel take from the system, beyond glibc's, and the
#: Debian package that ships each (the same name in bookworm and trixie).
SYSTEM_RUNTIME = {"libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1"}
_SHARED_OBJECT = re.compile(r"\.so(\.[0-9]+)*$")
#: Files a wheel holds that are never ELF programs: not opened (cmake's wheel has thousands of them).
_NOT_PROGRAMS = (
    ".py",
    ".pyi",
    ".pyc",
    ".pyx",
    ".pxd",
    ".txt",
    ".rst",
    ".md",
    ".json",
    ".toml",
    ".cmake",
    ".h",
    ".hpp",
    ".c",
    ".cc",
    ".cpp",
    ".html",
    ".css",
    ".js",
    ".png",
    ".svg",
    ".typed",
    ".cfg",
    ".in",
    ".a",
)
_ELF_MAGIC = b"\x7fELF"


def needed_libraries(wheel: Path) -> set[str]:
    """The libraries the wheel's shared objects and programs load and the wheel does not bundle itself."""
    needed: set[str] = set()
    bundled: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if _SHARED_OBJECT.search(name):
                bundled.add(name)
                needed |= _dt_needed(archive.read(info))
            elif _may_be_program(archive, info, name):
                needed |= _dt_needed(archive.read(info))
    return needed - bundled


def _may_be_program(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bool:
    """An ELF file by its first bytes (a program such as ninja's, in ``.data/scripts`` or the package)."""
    if info.is_dir() or info.file_size < len(_ELF_MAGIC) or name.lower().endswith(_NOT_PROGRAMS):
        return False
    with archive.open(info) as stream:
        return stream.read(len(_ELF_MAGIC)) == _ELF_MAGIC


def _dt_needed(data: bytes) -> set[str]:
    try:
        elf = ELFFile(io.BytesIO(data))
        # pyelftools sets `needed` (the library's name) on DT_NEEDED tags only, so its stubs lack it.
        return {
            str(tag.needed)  # type: ignore[attr-defined]
            for section in elf.iter_sections()
            if isinstance(section, DynamicSection)
            for tag in section.iter_tags("DT_NEEDED")
        }
    except ELFError:
        return set()  # a file named like a library that is not one (data, a linker script)


def system_runtime(needed: Iterable[str]) -> list[str]:
    """The Debian packages of the system libraries in ``needed`` that a stage must add (sorted)."""
    return sorted({SYSTEM_RUNTIME[name] for name in needed if name in SYSTEM_RUNTIME})
