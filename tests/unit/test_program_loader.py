"""The locked ELF loader every stage gets, without Nix: where it is mounted, how the plan names it, how
the closure and the audit count it, and what `pyrel lock` reads of a wheel's programs.

(tests/integration/test_binaries.py runs the programs in the real sandbox.)
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import attrs
import pytest

from pywrap.adapters import nix
from pywrap.audit import closures as audit
from pywrap.config.loader import build_project
from pywrap.execution import closure, fetch
from pywrap.execution.fetch import Bootstrap, Loader
from pywrap.execution.nixlib import elf_platform, nix_library, nix_system
from pywrap.execution.plan import make_plan
from pywrap.locking.lockfile import StageLock
from pywrap.locking.wheel_libraries import needed_libraries, system_runtime
from pywrap.providers import debfile
from tests.unit import test_audit
from tests.unit.test_plan_and_lock import FLIT, PYPROJECT, ROOT, _lock

LOADER = Loader(
    "pyrel-bootstrap-loader",
    "1" * 52,
    "/nix/store/" + "b" * 32 + "-pyrel-bootstrap-loader",
    "ld-linux-x86-64.so.2",
    "/lib64/ld-linux-x86-64.so.2",
)


@pytest.mark.parametrize(
    ("architecture", "loader_path", "member"),
    [
        ("amd64", "/lib64/ld-linux-x86-64.so.2", "./lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        ("arm64", "/lib/ld-linux-aarch64.so.1", "./lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"),
    ],
)
def test_the_loader_layout_comes_from_the_nix_librarys_table(architecture: str, loader_path: str, member: str) -> None:
    platform = elf_platform(nix_system(architecture))
    assert platform is not None
    assert platform.loader_path == loader_path
    # bookworm keeps it under /lib, trixie under /usr/lib (usr-merge): both are looked for in libc6.
    assert platform.loader_members == (member, member.replace("./lib/", "./usr/lib/", 1))
    assert (nix_library() / "platforms.json").is_file()
    assert elf_platform("riscv64-linux") is None


def test_the_loader_is_mounted_beside_the_shell_from_where_its_file_is(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = "/nix/store/aaa-pyrel-bootstrap-busybox/bin/busybox"
    options = nix.NixOptions(sandbox_shell=shell, sandbox_loader=LOADER.binary, loader_mount_point=LOADER.mount_point)
    flags = options.flags()
    assert flags[flags.index("sandbox-paths") + 1] == f"/bin/sh={shell} /lib64/ld-linux-x86-64.so.2={LOADER.binary}"
    # No loader (the nixpkgs provider, an architecture nix/platforms.json does not know): no mount.
    assert nix.NixOptions(sandbox_shell=shell).sandbox_paths == (f"/bin/sh={shell}",)
    monkeypatch.setenv("NIX_REMOTE", "/tmp/store2")
    assert options.sandbox_paths[1] == f"/lib64/ld-linux-x86-64.so.2=/tmp/store2{LOADER.binary}"


def test_the_plan_names_the_loader_for_the_nix_library() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {})
    lock = _lock(("source",), project)
    planned = make_plan(
        project,
        lock,
        ["source"],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1700000000,
        loader=LOADER,
    )
    assert planned["loader"] == {"storeName": "pyrel-bootstrap-loader", "narHash": "1" * 52}
    without = make_plan(
        project,
        lock,
        ["source"],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1700000000,
    )
    assert without["loader"] is None


def _deb_with(tmp_path: Path, members: dict[str, bytes]) -> Path:
    """A .deb (ar archive) whose data.tar.xz holds ``members``."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("./lib64/ld-linux-x86-64.so.2")
        link.type, link.linkname = tarfile.SYMTYPE, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        archive.addfile(link)
    payload = data.getvalue()

    def member(name: str, content: bytes) -> bytes:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode()
        return header + content + (b"\n" if len(content) % 2 else b"")

    deb = tmp_path / "libc6_2.36-9_amd64.deb"
    deb.write_bytes(b"!<arch>\n" + member("debian-binary", b"2.0\n") + member("data.tar.xz", payload))
    return deb


def test_the_loader_is_read_out_of_libc6_not_its_symlink(tmp_path: Path) -> None:
    platform = elf_platform("x86_64-linux")
    assert platform is not None
    deb = _deb_with(tmp_path, {"./lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": b"\x7fELF the loader"})
    assert debfile.extract_member(deb, *platform.loader_members) == b"\x7fELF the loader"
    trixie = _deb_with(tmp_path, {"./usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": b"\x7fELF usr-merged"})
    assert debfile.extract_member(trixie, *platform.loader_members) == b"\x7fELF usr-merged"


def test_a_stage_given_the_loader_counts_libc6_in_its_closure(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = test_audit.make_lock()
    assert "deb:libc6=2.36-9" in closure.stage_packages(lock, "source")  # its root has it anyway
    bare = attrs.evolve(lock, stages=(StageLock("bare", "f", (), "", ""),))
    assert closure.stage_packages(bare, "bare") == ("deb:busybox-static=1:1.35.0-4",)
    assert closure.stage_packages(bare, "bare", loader=True) == ("deb:busybox-static=1:1.35.0-4", "deb:libc6=2.36-9")
    monkeypatch.setattr(nix, "requisites", lambda paths: [*paths, LOADER.store_path])
    monkeypatch.setattr(nix, "sizes", lambda paths: dict.fromkeys(paths, 1))
    assert "deb:libc6=2.36-9" in closure.stage_closure(bare, "bare", ["/nix/store/x-root"]).packages


def test_the_audit_maps_the_loader_to_libc6() -> None:
    lock = test_audit.make_lock()
    index = audit.path_index(test_audit.make_project(), lock)
    entry = index.classify(test_audit.path(fetch.LOADER_NAME), 10)
    assert (entry.role, entry.components) == ("loader", ("deb:libc6=2.36-9",))


def _wheel(tmp_path: Path, members: dict[str, bytes]) -> Path:
    wheel = tmp_path / "tool-1.0-py3-none-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return wheel


def test_the_lock_reads_what_a_wheels_programs_load(tmp_path: Path) -> None:
    # A C++ program (the host's own, as ninja's and cmake's programs are C++) in .data/scripts or in the
    # package: its libstdc++ and libgcc_s are added to the stage, as for an extension module.
    programs = [Path(p) for p in ("/usr/bin/apt", "/usr/lib/apt/methods/http", "/usr/bin/cmake") if Path(p).is_file()]
    if not programs:
        pytest.skip("no C++ program of the host to read (apt's, cmake's)")
    program = programs[0]
    needed = needed_libraries(
        _wheel(
            tmp_path,
            {
                "tool-1.0.data/scripts/tool": program.read_bytes(),
                "tool/__init__.py": b"",
                "tool/data/README.txt": b"\x7fELF no",
            },
        )
    )
    assert "libstdc++.so.6" in needed and "libc.so.6" in needed
    assert "libstdc++6" in system_runtime(needed)
    in_package = needed_libraries(_wheel(tmp_path, {"tool/data/bin/tool": program.read_bytes()}))
    assert in_package == needed
    static = shutil.which("busybox") or "/sbin/ldconfig"
    assert needed_libraries(_wheel(tmp_path, {"tool-1.0.data/scripts/static": Path(static).read_bytes()})) == set()
