"""The build-log classifier: low-level failures explained as hermeticity violations."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pywrap.execution.hermeticity import classify, describe, program_interpreter

RUN = "/nix/store/j5psyn7bqf8flnjnkblxi7fh7rmgkd7n-pyrel-docs-run.sh"


@pytest.mark.parametrize(
    ("line", "kind", "words"),
    [
        ("OSError: [Errno 101] Network is unreachable", "network", "has no network and no DNS"),
        ("socket.gaierror: [Errno -3] Temporary failure in name resolution", "network", "has no network"),
        ("curl: (6) Could not resolve host: example.invalid", "network", "(example.invalid)"),
        ("wget: bad address 'example.invalid'", "network", "(example.invalid)"),
        (
            "ModuleNotFoundError: No module named 'requests'",
            "undeclared-import",
            "the stage imported 'requests', which is not among its pinned requirements: add 'requests' "
            "(or the distribution that provides it) to [tool.pyrel.stages.docs].extra-requires",
        ),
        ("ModuleNotFoundError: No module named 'yaml.constructor'", "undeclared-import", "add 'PyYAML'"),
        (
            "Could not import extension sphinx_tabs.tabs (exception: No module named 'pkg_resources')",
            "undeclared-import",
            "add 'setuptools<81' to [tool.pyrel.stages.docs].extra-requires",
        ),
        ("E   ModuleNotFoundError: No module named 'six'", "undeclared-import", "the defaults included"),
        (
            "Extension error: Could not import extension sphinxcontrib.towncrier.ext (exception: No module named "
            "'sphinxcontrib.towncrier')",
            "undeclared-import",
            "add 'sphinxcontrib-towncrier' (or the distribution that provides it)",
        ),
        (
            "sphinx.errors.ThemeError: no theme named 'sphinx_rtd_theme' found (missing theme.toml?)",
            "undeclared-import",
            "add 'sphinx-rtd-theme' (or the distribution that provides it) to [tool.pyrel.stages.docs].extra-requires",
        ),
        (
            "ModuleNotFoundError: No module named 'distutils'",
            "undeclared-import",
            'set SETUPTOOLS_USE_DISTUTILS = "local" in [tool.pyrel.stages.docs].env',
        ),
        (
            "E   FileNotFoundError: [Errno 2] No such file or directory: '/bin/sh'",
            "host-file",
            "through /bin/sh, which this sandbox did not have: pyrel mounts its pinned busybox there",
        ),
        (f"{RUN}: line 1: git: not found", "undeclared-tool", "the stage ran 'git', which is not among its declared"),
        ("sh: gcc: not found", "undeclared-tool", "[tool.pyrel.stages.docs].system"),
        ("bash: line 3: curl: command not found", "undeclared-tool", "the stage ran 'curl'"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'git'", "undeclared-tool", "'git'"),
        (f"{RUN}: line 1: python: not found", "undeclared-tool", "set python = true"),
        ("ls: /usr/bin: No such file or directory", "host-file", "'/usr/bin', a file of the host"),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/usr/share/dict/words'",
            "host-file",
            "'/usr/share/dict/words'",
        ),
        (
            "cat: can't open '/root/.bashrc': No such file or directory",
            "host-file",
            "'/root/.bashrc', a file of the host's home",
        ),
        (
            "cat: can't open '/homeless-shelter/.netrc': No such file or directory",
            "host-file",
            "$HOME is a private, empty directory in the sandbox",
        ),
        (
            "cat: can't open '/build/home/.profile': No such file or directory",
            "host-file",
            "'/build/home/.profile', a file it expected in its home: $HOME is a private, empty directory",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/home/alice/.config/tool.toml'",
            "host-file",
            "never the host's home",
        ),
        (
            "zoneinfo._common.ZoneInfoNotFoundError: 'No time zone found with key Europe/Paris'",
            "host-file",
            "the time zone 'Europe/Paris', and its sandbox has no time-zone database",
        ),
        ("cat: can't open '/etc/os-release': No such file or directory", "host-file", "a minimal /etc"),
        (
            "ImportError: libreadline.so.8: cannot open shared object file: No such file or directory",
            "missing-library",
            "'libreadline.so.8', a shared library that is not in its Debian closure",
        ),
        ("KeyError: \"getpwnam(): name not found: 'daemon'\"", "host-user", "the user 'daemon', which exists only"),
        (
            "/nix/store/8lm7irzib1aafx9rmwfqhk8pk45cv1dy-ninja-1.13.2-unpacked/bin/ninja: error while loading shared "
            "libraries: libstdc++.so.6: cannot open shared object file: No such file or directory",
            "binary-cannot-run",
            "the program 'ninja' (of the wheel ninja 1.13.2) could not start: it loads 'libstdc++.so.6', "
            "which the stage's root does not have",
        ),
        (
            "./conftest: error while loading shared libraries: libz.so.1: cannot open shared object file: "
            "No such file or directory",
            "binary-cannot-run",
            "add 'zlib1g' to [tool.pyrel.stages.docs].system",
        ),
        (
            "./tool: error while loading shared libraries: libfoo.so.7: cannot open shared object file: No such file",
            "binary-cannot-run",
            "the Debian package that ships libfoo.so.7",
        ),
        (
            "./tool: /nix/store/x-root/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found "
            "(required by ./tool)",
            "binary-cannot-run",
            "it needs glibc 2.38 (GLIBC_2.38), newer than the stage's",
        ),
        (
            "OSError: [Errno 8] Exec format error: '/build/src/tool'",
            "binary-cannot-run",
            "the stage ran '/build/src/tool', which this machine cannot execute",
        ),
        ("make: ./tool: cannot execute binary file: Exec format error", "binary-cannot-run", "another architecture"),
        (
            f"{RUN}: line 3: ./conftest: not found",
            "binary-cannot-run",
            "the stage ran './conftest', which could not start: the file is missing, or it names an interpreter",
        ),
        (
            "sh: /build/src/scripts/gen.py: not found",
            "binary-cannot-run",
            "run it as `python /build/src/scripts/gen.py`",
        ),
        (
            "LookupError: setuptools-scm was unable to detect version for /build/src.",
            "host-file",
            "the build asked git for the project's version, and the stage has no git metadata: its source tree "
            "is the files git tracks, without .git. Set git = true in [tool.pyrel.stages.docs]",
        ),
        (
            "Dist currently only works with Git or Mercurial repos",
            "host-file",
            "works only in a git checkout, and this stage's source tree is the files git lists without the "
            "repository: set git = true in [tool.pyrel.stages.docs]",
        ),
        (
            "pyrel: this sandbox has no ELF loader at /lib64/ld-linux-x86-64.so.2 (pyrel mounts "
            "/nix/store/x-pyrel-bootstrap-loader/ld-linux-x86-64.so.2 there with Nix's sandbox-paths, which Nix "
            "ignored): programs that ask for it cannot start",
            "binary-cannot-run",
            "add yourself to trusted-users",
        ),
        (
            "sh: can't create /nix/store/0c6kzph7l0dcbcmzy2wgb3ilbqz8bnx8-tamper-source/tamper-0.1.0.tar.gz: "
            "Read-only file system",
            "input-write",
            "one of its inputs: inputs are read-only store paths",
        ),
    ],
)
def test_a_failure_is_explained(line: str, kind: str, words: str) -> None:
    [violation] = classify(f"some output\n{line}\nmore output", "docs")
    assert violation.kind == kind
    assert words in violation.explanation
    assert violation.evidence == line
    assert f"hermeticity violation ({kind})" in describe([violation])


@pytest.mark.parametrize(
    "log",
    [
        "",
        "FAILED tests/test_x.py::test_y - assert 1 == 2",
        "cat: can't open '/build/src/missing.txt': No such file or directory",  # the stage's own tree
        "cat: can't open '/build/homework.txt': No such file or directory",  # not in the home
        "ls: /nix/store/abc-x/lib: No such file or directory",
        "KeyError: \"getpwnam(): name not found: 'nobody'\"",
        "error: builder for '/nix/store/x-y.drv' failed with exit code 1",
    ],
)
def test_an_ordinary_failure_is_not_a_violation(log: str) -> None:
    assert classify(log, "test") == []


def test_each_violation_is_reported_once_in_log_order() -> None:
    log = "\n".join(
        [
            "ModuleNotFoundError: No module named 'requests'",
            "\x1b[31mOSError: [Errno 101] Network is unreachable\x1b[0m",
            "ModuleNotFoundError: No module named 'requests'",
        ]
    )
    assert [violation.kind for violation in classify(log, "docs")] == ["undeclared-import", "network"]


def test_a_missing_module_of_the_project_itself_is_an_extension_not_built() -> None:
    # PyYAML without libyaml's headers: setup.py skips yaml._yaml, and its tests import it.
    line = "E   ModuleNotFoundError: No module named 'yaml._yaml'"
    [violation] = classify(line, "test", "PyYAML")
    assert "a module of the project itself" in violation.explanation and "-dev package" in violation.explanation
    [other] = classify(line, "test", "ruamel.yaml")
    assert "add 'PyYAML'" in other.explanation
    [own] = classify("No module named 'demo._speedups'", "test", "demo")
    assert "a module of the project itself" in own.explanation


def test_a_missing_module_an_extra_of_the_project_provides_names_that_extra() -> None:
    # cattrs's tests import its optional backends; its CI installs every extra, no test group lists them.
    extras = (("ujson", ("ujson",)), ("msgspec", ("msgspec",)), ("pyyaml", ("pyyaml",)))
    [violation] = classify("E   ModuleNotFoundError: No module named 'yaml'", "test", "cattrs", extras)
    assert (
        "add 'cattrs[pyyaml]' (the project's extra that requires it) to [tool.pyrel.stages.test].extra-requires"
        in violation.explanation
    )
    [other] = classify("E   ModuleNotFoundError: No module named 'hypothesis'", "test", "cattrs", extras)
    assert "add 'hypothesis' (or the distribution that provides it)" in other.explanation


def test_the_extras_are_read_from_the_project_table() -> None:
    from pywrap.config.discovery import extra_distributions

    pyproject = {
        "project": {
            "name": "demo",
            "optional-dependencies": {
                "yaml": ["PyYAML>=6"],
                "all": ["demo[yaml]", "Ujson; python_version < '4'"],
                "broken": ["not a req !"],
            },
        }
    }
    assert extra_distributions(pyproject, "demo") == (
        ("yaml", ("pyyaml",)),
        ("all", ("ujson", "pyyaml")),
        ("broken", ()),
    )


def test_a_missing_time_zone_is_one_violation_naming_tzdata() -> None:
    # zoneinfo tries the tzdata wheel before it gives up: the import error is part of the same cause.
    log = "\n".join(
        [
            "ModuleNotFoundError: No module named 'tzdata'",
            "During handling of the above exception, another exception occurred:",
            "zoneinfo._common.ZoneInfoNotFoundError: 'No time zone found with key Europe/Paris'",
        ]
    )
    [violation] = classify(log, "test")
    assert violation.kind == "host-file"
    assert "add 'tzdata' to [tool.pyrel.stages.test].system" in violation.explanation
    assert "or the tzdata wheel to extra-requires" in violation.explanation
    assert [v.kind for v in classify("ModuleNotFoundError: No module named 'tzdata'", "test")] == ["undeclared-import"]


def test_a_store_program_reported_missing_is_explained_by_what_it_asks_for() -> None:
    # Python's FileNotFoundError names the program, which exists in the store: what is missing is
    # its interpreter, read from the program on the host (the stage's inputs are immutable).
    program = "/nix/store/w694yl7qaicxnsjg4biy52pd4dmahngi-demo-program/other-loader"
    line = f"FileNotFoundError: [Errno 2] No such file or directory: '{program}'"
    asked = {program: "/lib/ld-musl-x86_64.so.1"}
    [violation] = classify(line, "test", interpreter_of=asked.get)
    assert violation.kind == "binary-cannot-run"
    assert (
        f"the program '{program}' exists but could not start: it asks for '/lib/ld-musl-x86_64.so.1'"
        in violation.explanation
    )
    [glibc] = classify(line, "test", interpreter_of={program: "/lib64/ld-linux-x86-64.so.2"}.get)
    assert "where pyrel mounts the locked one" in glibc.explanation and "trusted-users" in glibc.explanation
    # A store path that is no program (or not there): an ordinary failure, as without the reader.
    assert classify(line, "test", interpreter_of=lambda path: None) == []
    assert classify(line, "test") == []


def _elf_asking_for(interpreter: bytes, *, wide: bool) -> bytes:
    """A minimal ELF file whose one program header is PT_INTERP, naming ``interpreter``."""
    text = interpreter + b"\0"
    if wide:
        header = (
            b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        )
        return header + struct.pack("<IIQQQQQQ", 3, 4, 120, 0, 0, len(text), len(text), 1) + text
    header = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    return header + struct.pack("<IIIIIIII", 3, 84, 0, 0, len(text), len(text), 4, 1) + text


def test_what_a_program_asks_to_be_run_by_is_read_from_it(tmp_path: Path) -> None:
    for wide in (True, False):
        (tmp_path / "program").write_bytes(_elf_asking_for(b"/lib/ld-musl-x86_64.so.1", wide=wide))
        assert program_interpreter(str(tmp_path / "program")) == "/lib/ld-musl-x86_64.so.1"
    host = program_interpreter("/bin/true")  # a Debian program: glibc's loader
    assert host is not None and Path(host).name.startswith("ld-linux")
    script = tmp_path / "script"
    script.write_text("#!/usr/bin/env python3\nprint(1)\n")
    assert program_interpreter(str(script)) == "/usr/bin/env"
    (tmp_path / "data").write_bytes(b"\x7fELF" + bytes(10))
    assert program_interpreter(str(tmp_path / "data")) is None
    assert program_interpreter(str(tmp_path / "missing")) is None
