"""docs, test and custom stages, and `pyrel build all`, in the real sandbox."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_example

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]
PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def _locked(source: Path, destination: Path, run_pyrel: Run) -> Path:
    project = destination / source.name
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("dist", ".pyrel", "build"))
    run_pyrel("lock", "-C", str(project), check=True)
    return project


def _pylock_names(project: Path, stage: str) -> set[str]:
    document = tomllib.loads((project / f"pylock.{stage}.toml").read_text())
    return {package["name"] for package in document["packages"]}


def test_build_all_gives_each_stage_only_what_it_needs(tmp_path: Path, run_pyrel: Run) -> None:
    project = copy_example("hello", tmp_path)
    run_pyrel("lock", "-C", str(project), check=True)
    # Isolation starts at the lock: docs never get the test tools and vice versa.
    assert "sphinx" in _pylock_names(project, "docs") and "pytest" not in _pylock_names(project, "docs")
    assert "pytest" in _pylock_names(project, "test") and "sphinx" not in _pylock_names(project, "test")
    assert "pytest" not in _pylock_names(project, "source")
    # The backend builds the wheel once, in the wheel stage; docs and test install it.
    assert "flit-core" in _pylock_names(project, "wheel")
    assert not {"pytest", "sphinx"} & _pylock_names(project, "wheel")
    assert "flit-core" not in _pylock_names(project, "docs") | _pylock_names(project, "test")

    completed = run_pyrel("build", "all", "--json", "-C", str(project), check=True)
    report = json.loads(completed.stdout)
    assert [stage["stage"] for stage in report["stages"]] == ["source", "wheel", "docs", "test"]
    assert all(stage["status"] == "success" for stage in report["stages"])

    docs = project / "dist/docs/hello_pyrel-1.0.0-docs-html.tar.gz"
    with tarfile.open(docs) as archive:
        index = archive.extractfile("hello_pyrel-1.0.0-docs-html/index.html")
        assert index is not None
        assert "greet" in index.read().decode()  # autodoc imported the wheel stage's wheel
        assert all(member.uid == 0 and member.uname == "" for member in archive)

    junit = ElementTree.parse(project / "dist/test/junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite is not None and suite.get("tests") == "1" and suite.get("failures") == "0"
    assert "1 passed" in (project / "dist/test/pytest.log").read_text()
    assert "test_greet" in (project / "dist/test/junit.xml").read_text()

    # Nothing changed: a no-op rebuild of every stage gives the same outputs.
    again = json.loads(run_pyrel("build", "all", "--json", "-C", str(project), check=True).stdout)
    assert [s["outputs"] for s in again["stages"]] == [s["outputs"] for s in report["stages"]]


@pytest.mark.apt
def test_a_docs_pdf_stage_builds_the_pdf_with_tex_kept_out_of_the_other_stages(tmp_path: Path, run_pyrel: Run) -> None:
    project = copy_example("hello", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pyrel.stages.docs-pdf]\nbuilders = ["latexpdf"]\n')
    run_pyrel("lock", "-C", str(project), check=True)
    stages = tomllib.loads((project / "pyrel.lock.toml").read_text())["stages"]
    # Sphinx's TeX packages by default; the HTML docs, source and test stages never see TeX.
    assert {"texlive-latex-extra", "texlive-binaries", "tex-gyre"} <= set(stages["docs-pdf"]["system"])
    for stage in ("docs", "source", "test"):
        assert not [name for name in stages[stage]["system"] if "tex" in name], stage
    assert "sphinx" in _pylock_names(project, "docs-pdf")

    # TeX's formats, font map and file databases are made in the root; no make, latexmk or /bin/sh.
    run_pyrel("build", "docs-pdf", "-C", str(project), check=True)
    with tarfile.open(project / "dist/docs-pdf/hello_pyrel-1.0.0-docs-latexpdf.tar.gz") as archive:
        pdf = archive.extractfile("hello_pyrel-1.0.0-docs-latexpdf/hello-pyrel.pdf")
        log = archive.extractfile("hello_pyrel-1.0.0-docs-latexpdf/hello-pyrel.log")
        assert pdf is not None and log is not None
        document, tex_log = pdf.read(), log.read().decode(errors="replace")
    assert document.startswith(b"%PDF-") and document.rstrip().endswith(b"%%EOF")
    assert "Output written on hello-pyrel.pdf" in tex_log
    assert "cannot open font map file" not in tex_log and "Rerun to get" not in tex_log
    # The PDF itself is an artifact of the release, checksummed like the others.
    exported = project / "dist/docs-pdf/hello_pyrel-1.0.0.pdf"
    assert exported.read_bytes() == document
    assert (
        f"{hashlib.sha256(document).hexdigest()}  {exported.name}"
        in (project / "dist/docs-pdf/SHA256SUMS").read_text().splitlines()
    )
    run_pyrel("build", "docs-pdf", "--check", "-C", str(project), check=True)  # byte for byte again


def test_failing_tests_fail_the_stage_and_still_export_the_report(tmp_path: Path, run_pyrel: Run) -> None:
    project = _locked(PACKAGES / "failing-tests", tmp_path, run_pyrel)
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 1
    assert "1 of 2 tests failed" in completed.stderr
    assert "test_add_fails" in completed.stderr
    junit = (project / "dist/test/junit.xml").read_text()
    assert "test_add_fails" in junit and "<failure" in junit
    assert (project / "dist/test/pytest.log").is_file()
    assert not (project / "dist/source").exists()  # only the requested stage is exported


def test_the_test_stage_cannot_modify_the_source_artifact(tmp_path: Path, run_pyrel: Run) -> None:
    project = _locked(PACKAGES / "tamper-source", tmp_path, run_pyrel)
    run_pyrel("build", "source", "-C", str(project), check=True)
    sdist = project / "dist/source/tamper-0.1.0.tar.gz"
    before = sdist.read_bytes()
    completed = run_pyrel("build", "test", "-C", str(project))
    assert completed.returncode == 1
    assert "Read-only file system" in completed.stderr or "Permission denied" in completed.stderr
    assert "stage 'test' failed" in completed.stderr
    # ... and pyrel says in plain words what the stage tried (pywrap/execution/hermeticity.py).
    assert "hermeticity violation (input-write)" in completed.stderr
    assert "one of its inputs: inputs are read-only store paths" in completed.stderr
    assert not (project / "dist/test").exists()
    assert sdist.read_bytes() == before
    with tarfile.open(fileobj=io.BytesIO(before)) as archive:
        assert "tamper-0.1.0/pyproject.toml" in archive.getnames()


def test_a_make_project_declares_its_own_stages(tmp_path: Path, run_pyrel: Run) -> None:
    project = _locked(PACKAGES / "make-project", tmp_path, run_pyrel)
    lock = tomllib.loads((project / "pyrel.lock.toml").read_text())
    assert not any(name.startswith("python3") for name in lock["stages"]["source"]["system"])
    assert "gcc" in lock["stages"]["test"]["system"] and "make" in lock["stages"]["test"]["system"]
    run_pyrel("build", "all", "-C", str(project), check=True)
    with tarfile.open(project / "dist/source/greeter-1.0.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["greeter-1.0", "greeter-1.0/Makefile", "greeter-1.0/greeter.c"]
    with tarfile.open(project / "dist/docs/greeter-docs-text.tar.gz") as archive:
        assert "text/index.txt" in archive.getnames()
    assert "check passed" in (project / "dist/test/check.log").read_text()


def test_a_stage_with_only_busybox(tmp_path: Path, run_pyrel: Run) -> None:
    (tmp_path / "pyrel.toml").write_text(
        "[stages.source]\npython = false\n"
        'run = ["echo hi > \\"$TMPDIR/hi.txt\\"", "tar -czf \\"$out/hi.tar.gz\\" -C \\"$TMPDIR\\" hi.txt"]\n'
        'outputs = ["*.tar.gz"]\n'
    )
    (tmp_path / "README").write_text("a project of one file\n")
    run_pyrel("lock", "-C", str(tmp_path), check=True)
    lock = tomllib.loads((tmp_path / "pyrel.lock.toml").read_text())
    assert lock["stages"]["source"]["system"] == []
    run_pyrel("build", "source", "-C", str(tmp_path), check=True)
    with tarfile.open(tmp_path / "dist/source/hi.tar.gz") as archive:
        assert archive.getnames() == ["hi.txt"]
