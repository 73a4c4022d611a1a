"""A C toolchain from pinned Debian packages, working in the sandbox, hardened by default.

The fixture `tests/packages/c-extension` declares a `cbuild` stage with gcc,
libc6-dev and Python's headers: it builds a setuptools C extension into a wheel,
imports it and runs the project's tests, compiles a plain C program with the
bare `cc`, and runs that program as it is (it asks for the standard ELF loader,
where pyrel mounts the locked one).  The outputs are checked from the host with
a small ELF reader (no host binutils needed).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

pytestmark = pytest.mark.nix

Run = Callable[..., subprocess.CompletedProcess[str]]
FIXTURE = Path(__file__).resolve().parent.parent / "packages" / "c-extension"
NIX_LIBRARY = Path(__file__).resolve().parent.parent.parent / "nix" / "lib.nix"

PT_DYNAMIC, PT_INTERP, PT_GNU_RELRO = 2, 3, 0x6474E552
DT_NULL, DT_FLAGS, DT_FLAGS_1 = 0, 30, 0x6FFFFFFB
DF_BIND_NOW, DF_1_NOW, DF_1_PIE = 0x8, 0x1, 0x08000000


@attrs.frozen
class Elf:
    """What the hardening checks need from a 64-bit little-endian ELF file."""

    segments: frozenset[int]
    dynamic: dict[int, int]
    sections: dict[str, bytes]

    @classmethod
    def read(cls, path: Path) -> Elf:
        data = path.read_bytes()
        assert data[:6] == b"\x7fELF\x02\x01", f"{path.name} is not a 64-bit little-endian ELF file"
        phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
        segments = frozenset(struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum))
        headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
        names_offset = headers[shstrndx][4]

        def name(offset: int) -> str:
            start = names_offset + offset
            return data[start : data.index(b"\0", start)].decode()

        sections = {name(h[0]): data[h[4] : h[4] + h[5]] for h in headers if h[1] != 8}  # 8: SHT_NOBITS
        dynamic: dict[int, int] = {}
        table = sections.get(".dynamic", b"")
        for offset in range(0, len(table), 16):
            tag, value = struct.unpack_from("<qQ", table, offset)
            if tag == DT_NULL:
                break
            dynamic[tag] = value
        return cls(segments, dynamic, sections)

    def imports(self, symbol: str) -> bool:
        return f"\0{symbol}\0".encode() in b"\0" + self.sections.get(".dynstr", b"")

    def producers(self) -> list[str]:
        """DW_AT_producer strings: the compiler and its code-generation flags (-grecord-gcc-switches)."""
        strings = self.sections.get(".debug_str", b"").split(b"\0")
        return [text.decode() for text in strings if text.startswith(b"GNU C")]


def test_nix_library_names_the_root_compiler_and_follows_an_overridden_cc(tmp_path: Path) -> None:
    root = "/nix/store/00000000000000000000000000000000-root"
    compiler = {"cc": "gcc-12", "cxx": "g++-12", "libDir": "usr/lib/gcc/x86_64-linux-gnu/12"}
    cases = {
        "none": {"compiler": None, "env": {}},
        "gcc": {"compiler": compiler, "env": {}},
        "own": {"compiler": {**compiler, "cxx": ""}, "env": {"CC": "clang"}},
    }
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    expression = (
        f"let lib = import {NIX_LIBRARY} {{ }}; "
        f"cases = builtins.fromJSON (builtins.readFile {tmp_path / 'cases.json'}); "
        f'in builtins.mapAttrs (_: stage: lib.compilerEnv {{ root = "{root}"; inherit stage; }}) cases'
    )
    completed = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "--expr", expression],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert result["none"] == {}
    cc = f"{root}/usr/bin/gcc-12 --sysroot={root}"
    cxx = f"{root}/usr/bin/g++-12 --sysroot={root}"
    # pkg-config reads the root's .pc files, prefixes their paths with the root and leaves out its system
    # directories, as on a Debian system.
    triplet = "x86_64-linux-gnu"
    pkg_config = {
        "PKG_CONFIG_LIBDIR": f"{root}/usr/lib/{triplet}/pkgconfig:{root}/usr/lib/pkgconfig:{root}/usr/share/pkgconfig",
        "PKG_CONFIG_SYSROOT_DIR": root,
        "PKG_CONFIG_SYSTEM_INCLUDE_PATH": f"{root}/usr/include:{root}/usr/include/{triplet}",
        "PKG_CONFIG_SYSTEM_LIBRARY_PATH": f"{root}/lib/{triplet}:{root}/usr/lib/{triplet}:{root}/lib:{root}/usr/lib",
    }
    assert result["gcc"] == {
        "CC": cc,
        "LDSHARED": f"{cc} -shared",
        "CXX": cxx,
        "LDCXXSHARED": f"{cxx} -shared",
        "PYREL_SYSROOT": root,
        **pkg_config,
    }
    assert result["own"] == {"CC": "clang", "LDSHARED": "clang -shared", "PYREL_SYSROOT": root, **pkg_config}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("c") / "c-extension"
    shutil.copytree(
        FIXTURE,
        project,
        ignore=shutil.ignore_patterns(
            "dist", "build", ".pyrel", "pylock.*.toml", "pyrel.lock.toml", "__pycache__", "*.egg-info"
        ),
    )
    for command in (["lock"], ["build", "cbuild"]):
        completed = subprocess.run(
            [sys.executable, "-m", "pywrap", *command, "-C", str(project)], capture_output=True, text=True, check=False
        )
        assert completed.returncode == 0, f"pyrel {command}:\n{completed.stdout}\n{completed.stderr}"
    return project / "dist" / "cbuild"


def _assert_hardened(elf: Elf, what: str) -> None:
    assert PT_GNU_RELRO in elf.segments, f"{what}: no GNU_RELRO segment"
    bind_now = elf.dynamic.get(DT_FLAGS, 0) & DF_BIND_NOW or elf.dynamic.get(DT_FLAGS_1, 0) & DF_1_NOW
    assert bind_now, f"{what}: not linked with -z now (no BIND_NOW)"
    # The C code writes a stack array (stack protector) and copies into a
    # buffer of run-time size, which only _FORTIFY_SOURCE=3 checks.
    assert elf.imports("__stack_chk_fail"), f"{what}: not compiled with -fstack-protector-strong"
    assert elf.imports("__memcpy_chk") or elf.imports("__strcpy_chk"), f"{what}: no _FORTIFY_SOURCE=3 checks"
    assert elf.imports("__snprintf_chk"), f"{what}: not compiled with _FORTIFY_SOURCE"
    [producer, *_] = elf.producers()
    flags = producer.split()
    for flag in ("-O2", "-fstack-protector-strong", "-fstack-clash-protection"):
        assert flag in flags, f"{what}: {flag} missing from {producer!r}"
    assert any(flag.startswith("-fcf-protection") for flag in flags), f"{what}: {producer!r}"


@pytest.mark.network
def test_c_extension_is_built_hardened_with_the_sandbox_compiler(built: Path) -> None:
    [extension] = list(built.glob("_speedups*.so"))
    elf = Elf.read(extension)
    _assert_hardened(elf, extension.name)
    assert PT_DYNAMIC in elf.segments and PT_INTERP not in elf.segments
    [wheel] = list(built.glob("cext_demo-1.0.0-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        packed = [name for name in archive.namelist() if name.endswith(".so")]
        assert packed == [f"cext_demo/{extension.name}"]
        assert archive.read(packed[0]) == extension.read_bytes()


@pytest.mark.network
def test_bare_cc_links_a_hardened_program_that_runs_in_the_sandbox(built: Path) -> None:
    hello = built / "hello"
    elf = Elf.read(hello)
    _assert_hardened(elf, "hello")
    assert elf.dynamic.get(DT_FLAGS_1, 0) & DF_1_PIE, "hello is not a PIE"
    assert (built / "hello.txt").read_text() == "hello, pyrel\n"


@pytest.mark.network
def test_outputs_do_not_refer_to_the_toolchain(built: Path) -> None:
    # Debug info names the root's headers as /usr/include/... (the root's specs
    # map its store path to /), so no output keeps the 270 MB root alive.
    # (Attestations name the derivation on purpose; they are written after export.)
    for output in built.iterdir():
        if output.name != "SHA256SUMS" and not output.name.endswith(".intoto.json"):
            assert b"/nix/store/" not in output.read_bytes(), output.name
