from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from pywrap.config.loader import build_project, load_project
from pywrap.config.model import Project
from pywrap.errors import ConfigError, LockError
from pywrap.execution.fetch import Bootstrap
from pywrap.execution.plan import make_plan, source_paths, stage_order
from pywrap.locking import resolver
from pywrap.locking.lockfile import (
    DebEntry,
    Lock,
    StageLock,
    check_fresh,
    lock_from_toml,
    lock_to_toml,
    read_lock,
    read_pylock,
    stage_fingerprint,
    target_tags,
)
from pywrap.locking.resolver import write_lock_files

ROOT = Path("/project")
PYPROJECT = ROOT / "pyproject.toml"
FLIT = {
    "build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"},
    "project": {"name": "demo"},
}


def _deb(name: str) -> DebEntry:
    return DebEntry(
        name=name,
        version="1.0-1",
        architecture="amd64",
        sha256="a" * 64,
        size=10,
        filename=f"{name}_1.0-1_amd64.deb",
        url=f"http://mirror.invalid/{name}.deb",
    )


def _lock(project_stages: tuple[str, ...], project: Project) -> Lock:
    debs = tuple(_deb(name) for name in ("busybox-static", "libc6", "patchelf", "python3.11-minimal"))
    stages = tuple(
        StageLock(
            name=name,
            fingerprint=stage_fingerprint(project, project.stage(name), "bookworm", "amd64"),
            system=("libc6", "python3.11-minimal"),
            python_lock="",
            python_lock_sha256="",
        )
        for name in project_stages
    )
    return Lock(
        provider="debian",
        suite="bookworm",
        architecture="amd64",
        python_version="3.11",
        python_full_version="3.11.2",
        glibc="2.36",
        bootstrap=("busybox-static", "libc6", "patchelf"),
        packages=debs,
        stages=stages,
    )


def test_stage_order_puts_inputs_first_and_rejects_cycles() -> None:
    config = {
        "stages": {
            "test": {"inputs": ["source"], "run": ["pytest"], "outputs": ["junit.xml"]},
            "docs": {"run": ["sphinx"], "outputs": ["*.tar.gz"]},
        }
    }
    project = build_project(ROOT, PYPROJECT, FLIT, config)
    assert [s.name for s in stage_order(project, ["test", "docs"])] == ["source", "test", "docs"]
    cyclic = {
        "stages": {
            "a": {"inputs": ["b"], "run": ["x"], "outputs": ["x"]},
            "b": {"inputs": ["a"], "run": ["x"], "outputs": ["x"]},
        }
    }
    with pytest.raises(ConfigError, match="cycle: a -> b -> a"):
        stage_order(build_project(ROOT, PYPROJECT, FLIT, cyclic), ["a"])
    with pytest.raises(ConfigError, match="no stage named 'nope'"):
        stage_order(project, ["nope"])
    # A built-in stage pyrel found nothing for: the hint says what it looks for, and how to declare it.
    with pytest.raises(ConfigError) as missing:
        stage_order(build_project(ROOT, PYPROJECT, FLIT, {}), ["test"])
    assert "test modules (test_*.py) at the top or in src/" in (missing.value.hint or "")
    assert "--tests PATH" in (missing.value.hint or "")


def test_plan_is_data_for_the_nix_library() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {})
    lock = _lock(("source",), project)
    plan = make_plan(
        project,
        lock,
        ["source"],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml", "src/demo/__init__.py"],
        source_date_epoch=1700000000,
    )
    assert plan["sourceFiles"] == ["pyproject.toml", "src", "src/demo", "src/demo/__init__.py"]
    [stage] = plan["stages"]
    assert stage["run"] == ['python "$pyrelTools/pep517.py" sdist "$out"']
    assert stage["env"] == {"PYREL_BUILD_BACKEND": "flit_core.buildapi", "PYREL_BACKEND_PATH": "[]"}
    assert stage["sourceDateEpoch"] == 1700000000
    assert stage["python"] == "usr/bin/python3.11"
    [toolchain] = plan["toolchains"]
    assert [deb["package"] for deb in toolchain["debs"]] == ["libc6", "python3.11-minimal"]
    assert [deb["package"] for deb in plan["patchelf"]] == ["libc6", "patchelf"]


def test_source_paths_include_parents() -> None:
    assert source_paths(["a/b/c.py", "d.txt"]) == ["a", "a/b", "a/b/c.py", "d.txt"]


def test_lock_round_trips_and_detects_staleness() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {})
    lock = _lock(("source",), project)
    assert lock_from_toml(lock_to_toml(lock), ROOT) == lock
    check_fresh(project, lock, ["source"])
    changed = build_project(ROOT, PYPROJECT, {**FLIT, "build-system": {"requires": ["hatchling"]}}, {})
    with pytest.raises(LockError, match=r"(?s)stale: stage .source.*run `pyrel lock`"):
        check_fresh(changed, lock, ["source"])


def test_damaged_lock_is_a_clear_error() -> None:
    project = build_project(ROOT, PYPROJECT, FLIT, {})
    document = lock_to_toml(_lock(("source",), project))
    del document["debian"]["packages"][0]["sha256"]
    with pytest.raises(LockError, match=r"debian.packages\[0\].sha256' is missing"):
        lock_from_toml(document, ROOT)


def test_edited_pylock_is_refused(tmp_path: Path) -> None:
    project = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {})
    document = lock_to_toml(_lock(("source",), project))
    (tmp_path / "pylock.source.toml").write_text('lock-version = "1.0"\n')
    document["stages"]["source"].update({"python-lock": "pylock.source.toml", "python-lock-sha256": "0" * 64})
    with pytest.raises(LockError, match="was changed after `pyrel lock` wrote it"):
        lock_from_toml(document, tmp_path)


def test_a_lock_read_for_some_stages_reads_only_their_pylocks(tmp_path: Path) -> None:
    project = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {})
    document = lock_to_toml(_lock(("source",), project))
    # Another stage's pylock, edited since: refused when read, not read when the build does not need it.
    (tmp_path / "pylock.docs.toml").write_text("edited by hand")
    document["stages"]["docs"] = {
        **document["stages"]["source"],
        "python-lock": "pylock.docs.toml",
        "python-lock-sha256": "0" * 64,
    }
    (tmp_path / "pyrel.lock.toml").write_text(tomli_w.dumps(document))
    assert [stage.name for stage in read_lock(tmp_path, stages={"source"}).stages] == ["source"]
    with pytest.raises(LockError, match=r"pylock\.docs\.toml was changed"):
        read_lock(tmp_path)


WHEEL_FILES = [
    ("native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "1"),
    ("native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "2"),
    ("native-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "3"),
    ("native-1.0-py3-none-any.whl", "4"),
]
PYLOCK = (
    'lock-version = "1.0"\n[[packages]]\nname = "native"\nversion = "1.0"\nwheels = [\n'
    + "".join(
        f'  {{ url = "http://mirror.invalid/{name}", hashes = {{ sha256 = "{digit * 64}" }} }},\n'
        for name, digit in WHEEL_FILES
    )
    + "]\n"
)


def test_wheel_selection_prefers_the_most_specific_compatible_tag(tmp_path: Path) -> None:
    path = tmp_path / "pylock.source.toml"
    path.write_text(PYLOCK)
    [wheel] = read_pylock(path, "3.11", "x86_64-manylinux_2_36")
    assert wheel.filename == "native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert wheel.sha256 == "1" * 64


def test_sdist_only_package_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pylock.source.toml"
    sdist = '{ url = "http://mirror.invalid/old-1.tar.gz", hashes = { sha256 = "' + "5" * 64 + '" } }'
    path.write_text(f'lock-version = "1.0"\n[[packages]]\nname = "old"\nversion = "1"\nsdist = {sdist}\n')
    with pytest.raises(LockError, match="'old' 1 has only a source distribution"):
        read_pylock(path, "3.11", "x86_64-manylinux_2_36")


def test_target_tags_follow_the_suites_glibc() -> None:
    platforms = {tag.platform for tag in target_tags("3.13", "x86_64-manylinux_2_41")}
    assert "manylinux_2_41_x86_64" in platforms
    assert "manylinux_2_42_x86_64" not in platforms
    assert "manylinux2014_x86_64" in platforms


def test_relocking_removes_pylock_files_of_stages_gone(tmp_path: Path) -> None:
    project = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {})
    old = lock_to_toml(_lock(("source",), project))
    old["stages"]["docs"] = {**old["stages"]["source"], "python-lock": "pylock.docs.toml"}
    (tmp_path / "pyrel.lock.toml").write_text(tomli_w.dumps(old))
    (tmp_path / "pylock.docs.toml").write_text("stale")
    (tmp_path / "pylock.mine.toml").write_text("not pyrel's")
    write_lock_files(tmp_path, _lock(("source",), project), {"pylock.source.toml": b'lock-version = "1.0"\n'})
    assert not (tmp_path / "pylock.docs.toml").exists()
    assert (tmp_path / "pylock.mine.toml").exists()
    assert (tmp_path / "pylock.source.toml").exists()


@pytest.mark.parametrize(
    ("config_file", "where"),
    [("pyproject.toml", 'skip-stages = ["test"] in [tool.pyrel]'), ("pyrel.toml", 'skip-stages = ["test"] at the top')],
)
def test_a_found_stage_that_cannot_be_locked_says_where_to_skip_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_file: str, where: str
) -> None:
    """The hint names the table the key goes in: [tool.pyrel], or the top of pyrel.toml, which has no table
    (wcwidth's test requirements pin an sdist-only package: its lock said 'in [the top of pyrel.toml]')."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    if config_file == "pyproject.toml":
        (tmp_path / "pyproject.toml").write_text(tomli_w.dumps(FLIT))
    else:
        (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
        (tmp_path / "pyrel.toml").write_text('exclude-newer = "2024-01-07"\n')
    project = load_project(tmp_path)
    assert project.config_file.name == config_file and project.stage("test").implicit

    def resolve(project: Project, stage: object, *arguments: object) -> None:
        if getattr(stage, "name", "") == "test":
            raise LockError("'restructuredtext-lint' has no wheel", hint="require a version that publishes one")

    monkeypatch.setattr(resolver, "_resolve_python", resolve)
    with pytest.raises(LockError) as caught:
        resolver._resolve_stage_pythons(project, "3.11", "x86_64-manylinux_2_36", tmp_path, lambda _: None)
    assert caught.value.message.startswith("stage 'test', which pyrel found in the project, cannot be locked")
    assert caught.value.hint is not None and where in caught.value.hint
    assert "[the top" not in caught.value.hint
