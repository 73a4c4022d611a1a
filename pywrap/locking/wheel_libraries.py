"""What a binary wheel's shared objects load from the system, read from their ELF headers.

The manylinux policies let a wheel link a few libraries of the system instead
of bundling them: glibc's (which every stage has, with ``libc6``), and the
C++ runtime and ``libgcc_s``, which Python itself does not need.  ``pyrel
lock`` reads the ``DT_NEEDED`` entries of every shared object in a stage's
binary wheels (pyelftools) and adds the Debian packages of those two to the
stage's closure only when a wheel asks for them: a C extension that links
only glibc (a mypyc-compiled tomli) adds nothing.  Pure: file in, names out.
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


def needed_libraries(wheel: Path) -> set[str]:
    """The libraries the wheel's shared objects load and the wheel does not bundle itself."""
    needed: set[str] = set()
    bundled: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            name = member.rsplit("/", 1)[-1]
            if not _SHARED_OBJECT.search(name):
                continue
            bundled.add(name)
            needed |= _dt_needed(archive.read(member))
    return needed - bundled


def _dt_needed(data: bytes) -> set[str]:
    try:
        elf = ELFFile(io.BytesIO(data))
        # pyelftools sets `needed` (the library's name) on DT_NEEDED tags only, so its stubs lack it.
        return {str(tag.needed) for section in elf.iter_sections() if isinstance(section, DynamicSection)  # type: ignore[attr-defined]
                for tag in section.iter_tags("DT_NEEDED")}
    except ELFError:
        return set()  # a file named like a library that is not one (data, a linker script)


def system_runtime(needed: Iterable[str]) -> list[str]:
    """The Debian packages of the system libraries in ``needed`` that a stage must add (sorted)."""
    return sorted({SYSTEM_RUNTIME[name] for name in needed if name in SYSTEM_RUNTIME})
