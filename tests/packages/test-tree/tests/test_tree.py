from pathlib import Path

import treedemo


def test_imports_the_built_wheel() -> None:
    assert treedemo.WHERE == "wheel"
    assert "/pyrel-test/site/" in treedemo.__file__


def test_reads_files_of_the_tree_from_the_project_root() -> None:
    assert Path("data/expected.txt").read_text() == "beside the tests\n"
    Path("tests/written.txt").write_text("the copy is writable\n")


def test_an_undeclared_import() -> None:
    import undeclared_module  # noqa: F401


def test_a_shell_command() -> None:
    # subprocess's shell=True and os.popen find the stage's shell (busybox) although the sandbox has no /bin/sh.
    import os
    import subprocess

    assert subprocess.run("echo $((6 * 7))", shell=True, check=True, capture_output=True, text=True).stdout == "42\n"
    assert os.popen("echo popen").read() == "popen\n"
