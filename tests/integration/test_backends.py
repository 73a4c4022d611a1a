"""Real build backends: rebuild real projects' published sdists in the sandbox.

For each backend, the published sdist of a small, popular project (pinned by
version and sha256) is downloaded with the machine's own pip, unpacked into a
plain directory (no git), locked and built with the real CLI.  The rebuilt
sdist must hold the same files as the published one, and a second build must
give the same bytes (`nix-build --check`).

The downloads are cached in ``<pyrel cache>/test-sdists`` and verified by
sha256 on every use.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from email.parser import HeaderParser
from pathlib import Path

import attrs
import pytest

from pywrap.cache import cache_dir
from pywrap.config.discovery import sphinx_dir

pytestmark = [pytest.mark.nix, pytest.mark.network]

Run = Callable[..., subprocess.CompletedProcess[str]]


@attrs.frozen
class Published:
    backend: str
    name: str
    version: str
    sha256: str  # of the published sdist: a re-upload or a wrong file fails loudly
    #: Stages the test skips (`skip-stages`): found in the project, they cannot be locked here.
    skip_stages: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


PUBLISHED = [
    # setup.cfg + pyproject.toml, no setup.py; setuptools_scm takes the version
    # from PKG-INFO, the file list comes from the sdist's own SOURCES.txt.
    Published(
        "setuptools-pyproject",
        "sniffio",
        "1.3.1",
        "f4324edc670a0f49750a81b895f35c3adb843cca46f0530f79fc1babb23789dc",
        # Its test requirements hold curio, which publishes no wheel: without the key, `pyrel lock` fails.
        skip_stages=("test",),
    ),
    # setup.py and setup.cfg, no pyproject.toml at all: PEP 517's default backend.
    Published(
        "setuptools-setup.py", "six", "1.17.0", "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
    ),
    # hatchling + hatch-vcs with a dynamic version, built without .git.
    Published(
        "hatchling+hatch-vcs", "iniconfig", "2.0.0", "2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3"
    ),
    Published("flit_core", "tomli", "2.0.1", "de526c12914f0c550d15924c62d72abc48d6fe7364aa87328337a31007fe8a4f"),
    Published(
        "pdm-backend",
        "unearth",
        "0.17.2",
        "0b8a2afd3476f1ab6155fc579501ac47fffe43547d88a70e5a5b76a7fe6caa2c",
        # Its test requirements hold requests-wsgi-adapter, which publishes no wheel.
        skip_stages=("test",),
    ),
    Published("poetry-core", "tomlkit", "0.13.2", "fff5fe59a87295b278abd31bec92c15d9bc4a06885ab12bcea52c71119392e79"),
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_sdist(case: Published) -> Path:
    """The published sdist, from the cache or downloaded with the machine's pip."""
    directory = cache_dir() / "test-sdists" / f"{case.name}-{case.version}"
    cached = sorted(directory.glob("*.tar.gz")) if directory.is_dir() else []
    if len(cached) == 1 and _sha256(cached[0]) == case.sha256:
        return cached[0]
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=directory.parent) as scratch:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "--dest",
                scratch,
                case.spec,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, f"pip download {case.spec} failed:\n{completed.stderr}"
        files = sorted(Path(scratch).glob("*.tar.gz"))
        assert len(files) == 1, f"pip download {case.spec} gave {files}"
        assert _sha256(files[0]) == case.sha256, f"{files[0].name} is not the pinned sdist"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        target = directory / files[0].name
        files[0].replace(target)
    return target


def member_names(sdist: Path) -> set[str]:
    """The sdist's file (non-directory) names, without the top directory."""
    with tarfile.open(sdist, "r:gz") as archive:
        names = {
            member.name.split("/", 1)[1] for member in archive.getmembers() if not member.isdir() and "/" in member.name
        }
    assert names, f"{sdist} holds no files"
    return names


def pkg_info_version(sdist: Path) -> str:
    with tarfile.open(sdist, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        data = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
    return str(HeaderParser().parsestr(data)["Version"])


def unpack(sdist: Path, destination: Path) -> Path:
    destination.mkdir()
    with tarfile.open(sdist, "r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:  # Python before 3.11.4 (Debian 12's python3 is 3.11.2): the same refusals, by hand
            for member in archive.getmembers():
                parts = Path(member.name).parts
                if (
                    member.name.startswith("/")
                    or ".." in parts
                    or member.isdev()
                    or (
                        (member.issym() or member.islnk())
                        and (member.linkname.startswith("/") or ".." in Path(member.linkname).parts)
                    )
                ):
                    raise AssertionError(f"{sdist.name}: refusing to unpack {member.name!r}")
            archive.extractall(destination)
    (top,) = destination.iterdir()
    return top


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every entry under ``directory``: contents, mode and mtime."""
    entries = {}
    for path in sorted(directory.rglob("*")):
        status = path.lstat()
        data = path.read_bytes() if path.is_file() else b""
        entries[path.relative_to(directory).as_posix()] = (data, status.st_mode, status.st_mtime_ns)
    return entries


def _ok(completed: subprocess.CompletedProcess[str], what: str) -> None:
    assert completed.returncode == 0, f"{what} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"


@pytest.mark.parametrize("case", PUBLISHED, ids=[case.backend for case in PUBLISHED])
def test_rebuilds_published_sdist(case: Published, tmp_path: Path, run_pyrel: Run) -> None:
    published = published_sdist(case)
    project = unpack(published, tmp_path / "unpacked")
    assert not (project / ".git").exists()
    _build_docs_without_inventories(project)
    if case.skip_stages:
        unskipped = run_pyrel("lock", "-C", str(project))
        assert unskipped.returncode == 3 and "skip-stages" in unskipped.stderr, unskipped.stderr
        with (project / "pyproject.toml").open("a") as stream:
            stream.write(f"\n[tool.pyrel]\nskip-stages = {list(case.skip_stages)!r}\n".replace("'", '"'))

    _ok(run_pyrel("lock", "-C", str(project)), f"pyrel lock ({case.spec})")
    _ok(run_pyrel("build", "source", "-C", str(project)), f"pyrel build source ({case.spec})")

    out = project / "dist" / "source"
    archives = sorted(out.glob("*.tar.gz"))
    assert len(archives) == 1, sorted(p.name for p in out.iterdir())
    rebuilt = archives[0]
    # The sdist, its checksum, and its provenance attestation.
    assert sorted(p.name for p in out.iterdir()) == sorted([rebuilt.name, "SHA256SUMS", f"{rebuilt.name}.intoto.json"])
    assert (out / "SHA256SUMS").read_text() == f"{_sha256(rebuilt)}  {rebuilt.name}\n"

    # The same release: its version (dynamic for setuptools_scm and hatch-vcs,
    # which must find it without .git) and the same set of files.  Contents
    # may differ (PKG-INFO's metadata version, SOURCES.txt order, ...).
    assert pkg_info_version(rebuilt) == case.version
    published_names = member_names(published)
    rebuilt_names = member_names(rebuilt)
    assert rebuilt_names == published_names, (
        f"missing: {sorted(published_names - rebuilt_names)}, extra: {sorted(rebuilt_names - published_names)}"
    )

    # Reproducible: Nix builds the stage again and compares the outputs bit for
    # bit; the export sees the same bytes and leaves dist/ as it is.
    before = snapshot(project / "dist")
    _ok(run_pyrel("build", "source", "--check", "-C", str(project)), f"pyrel build source --check ({case.spec})")
    assert snapshot(project / "dist") == before


def _build_docs_without_inventories(project: Path) -> None:
    """Opt the docs stage out of intersphinx where its conf.py maps other projects' inventories: pyrel pins
    them at lock time, and their sites are beyond this machine's network (a lock error, by design)."""
    sphinx = sphinx_dir(project)  # where pyrel finds the built-in docs stage's Sphinx configuration
    if sphinx is None or "intersphinx" not in (project / sphinx / "conf.py").read_text(errors="replace"):
        return
    pyproject = project / "pyproject.toml"
    config = pyproject if pyproject.is_file() else project / "pyrel.toml"
    table = "[tool.pyrel.stages.docs]" if config == pyproject else "[stages.docs]"
    with config.open("a") as stream:
        stream.write(f"\n{table}\nintersphinx = false\n")


def test_backend_failure_shows_log_and_keeps_dist(tmp_path: Path, run_pyrel: Run) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "broken"\nversion = "1.0"\n'
    )
    (project / "setup.py").write_text('raise SystemExit("boom")\n')
    (project / "broken.py").write_text("")
    dist = project / "dist" / "source"
    dist.mkdir(parents=True)
    earlier = b"an earlier release\n"
    (dist / "broken-0.9.tar.gz").write_bytes(earlier)
    (dist / "SHA256SUMS").write_text(f"{hashlib.sha256(earlier).hexdigest()}  broken-0.9.tar.gz\n")
    (project / "dist" / "notes.txt").write_text("kept\n")
    before = snapshot(project / "dist")

    _ok(run_pyrel("lock", "-C", str(project)), "pyrel lock (broken)")
    completed = run_pyrel("build", "source", "-C", str(project))

    assert completed.returncode == 1, completed.stderr
    assert "stage 'source' failed" in completed.stderr
    assert "last lines of the build log" in completed.stderr
    assert "boom" in completed.stderr
    assert snapshot(project / "dist") == before
