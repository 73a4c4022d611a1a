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
