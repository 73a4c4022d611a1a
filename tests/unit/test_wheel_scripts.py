"""A wheel's .data/scripts reach the stage's PATH like its console scripts (nix/builders/console_scripts.py).

The wheel is built here; the builders run on the host, under busybox as in the
sandbox: unpack-wheel.sh unpacks it, console_scripts.py writes the programs
into an environment's bin/ as python-env.sh does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILDERS = REPO / "nix" / "builders"
sys.path.insert(0, str(BUILDERS))
import console_scripts  # noqa: E402

BUSYBOX = shutil.which("busybox")
DYNAMIC = "/bin/true"  # asks for /lib64/ld-linux-x86-64.so.2 (PT_INTERP)
STATIC = "/sbin/ldconfig"  # static-pie (libc-bin, Essential), as maturin's program is static


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"#!python", ""),
        (b"#!pythonw", ""),
        (b"#!python3 -E", " -E"),
        (b"#!/usr/bin/env python3", ""),
        (b"#!/usr/bin/env -S python3 -u", " -u"),
        (b"#!/usr/bin/python3.11", ""),
        (b"#!/bin/sh", None),
        (b"#!/usr/bin/env bash", None),
        (b"import os", None),
        (b"", None),
    ],
)
def test_which_shebangs_get_the_stages_python(line: bytes, expected: str | None) -> None:
    assert console_scripts._python_shebang(line) == expected


def _wheel(path: Path, static_program: bytes) -> None:
    data = "demo-1.0.data/scripts"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("demo/__init__.py", "def main() -> None:\n    print('console script')\n")
        wheel.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
        wheel.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr("demo-1.0.dist-info/entry_points.txt", "[console_scripts]\ndemo-cli = demo:main\n")
        wheel.writestr("demo-1.0.dist-info/RECORD", "")
        wheel.writestr(f"{data}/demo-py", "#!python\nimport demo\nprint('data script of', demo.__name__)\n")
        wheel.writestr(f"{data}/demo-env", "#!/usr/bin/env python3 -S\nimport sys\nprint(sys.flags.no_site)\n")
        wheel.writestr(f"{data}/demo-sh", '#!/bin/sh\necho shell script "$@"\n')
        info = zipfile.ZipInfo(f"{data}/demo-dynamic")
        info.external_attr = 0o644 << 16  # not executable in the wheel: installers make scripts executable
        wheel.writestr(info, Path(DYNAMIC).read_bytes())
        wheel.writestr(f"{data}/demo-static", static_program)


@pytest.mark.skipif(BUSYBOX is None, reason="busybox (busybox-static, README's set-up) runs the builders")
def test_a_wheels_data_scripts_are_on_path_beside_its_console_scripts(tmp_path: Path) -> None:
    assert BUSYBOX is not None
    tools = tmp_path / "tools"
    tools.mkdir()
    for applet in ("sh", "unzip", "mkdir", "cp", "rm", "chmod", "find"):
        (tools / applet).symlink_to(BUSYBOX)
    _wheel(tmp_path / "demo-1.0-py3-none-any.whl", Path(STATIC).read_bytes())
    unpacked = tmp_path / "unpacked"
    subprocess.run(
        [str(tools / "sh"), "-eu", str(BUILDERS / "unpack-wheel.sh")],
        check=True,
        env={
            "PATH": str(tools),
            "out": str(unpacked),
            "wheel": str(tmp_path / "demo-1.0-py3-none-any.whl"),
            "python": sys.executable,
        },
    )
    assert sorted(path.name for path in (unpacked / "bin").iterdir()) == [
        "demo-dynamic",
        "demo-env",
        "demo-py",
        "demo-sh",
        "demo-static",
    ]
    assert all(os.access(path, os.X_OK) for path in (unpacked / "bin").iterdir())
    env_bin = tmp_path / "env" / "bin"
    subprocess.run(
        [sys.executable, str(BUILDERS / "console_scripts.py"), str(unpacked / "site"), str(env_bin)], check=True
    )
    assert sorted(path.name for path in env_bin.iterdir()) == [
        "demo-cli",
        "demo-dynamic",
        "demo-env",
        "demo-py",
        "demo-sh",
        "demo-static",
    ]

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(unpacked / "site"), "PATH": f"{env_bin}:/bin"},
        )

    assert run("demo-cli").stdout == "console script\n"
    assert (env_bin / "demo-py").read_text().splitlines()[0] == f"#!{sys.executable}"
    assert run("demo-py").stdout == "data script of demo\n"
    assert (env_bin / "demo-env").read_text().splitlines()[0] == f"#!{sys.executable} -S"
    assert run("demo-env").stdout == "1\n"
    assert os.readlink(env_bin / "demo-sh") == str(unpacked / "bin" / "demo-sh")
    assert run("demo-sh", "a").stdout == "shell script a\n"
    assert os.readlink(env_bin / "demo-static") == str(unpacked / "bin" / "demo-static")
    assert run("demo-static", "--version").stdout.startswith("ldconfig ")
    # A program that asks for the standard loader is linked too: in the sandbox, pyrel mounts the
    # locked loader there (here the host's is at /lib64), and it starts as itself.
    assert os.readlink(env_bin / "demo-dynamic") == str(unpacked / "bin" / "demo-dynamic")
    assert run("demo-dynamic").returncode == 0


def test_a_dynamic_program_is_linked_as_it_is(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(DYNAMIC, scripts / "tool")
    assert console_scripts.write_data_scripts(str(scripts), str(tmp_path / "bin")) == ["tool"]
    assert os.readlink(tmp_path / "bin" / "tool") == str(scripts / "tool")
    assert console_scripts.write_data_scripts(str(tmp_path / "none"), str(tmp_path / "bin")) == []
