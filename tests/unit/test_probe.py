from __future__ import annotations

import pytest

from pywrap.errors import LockError
from pywrap.locking.backend_probe import probe_requirements, unsatisfied
from pywrap.locking.lockfile import WheelEntry


def _wheel(name: str, version: str) -> WheelEntry:
    return WheelEntry(
        name=name,
        version=version,
        filename=f"{name}-{version}-py3-none-any.whl",
        url="http://mirror.invalid/x.whl",
        sha256="0" * 64,
    )


def test_unsatisfied_checks_names_versions_and_markers() -> None:
    wheels = [_wheel("setuptools", "75.0"), _wheel("Tomli-W", "1.2.0")]
    asked = ["setuptools>=70", "tomli_w>=1.0", "wheel", "cython>=3", 'tomli; python_version < "3.11"', "setuptools<60"]
    assert unsatisfied(asked, wheels, "3.11.2") == ["wheel", "cython>=3", "setuptools<60"]
    assert unsatisfied(['tomli; python_version < "3.11"'], wheels, "3.10.12") == ['tomli; python_version < "3.11"']


def test_a_probe_answer_is_a_list_of_requirement_strings() -> None:
    assert probe_requirements(["wheel", "setuptools >=38.3.0", "wheel"]) == ["setuptools >=38.3.0", "wheel"]
    assert probe_requirements([]) == []
    for answer in ("wheel", {"sdist": ["wheel"]}, ["wheel", 3], None):
        with pytest.raises(LockError, match="not a list of requirements"):
            probe_requirements(answer)


def test_only_the_stages_that_build_the_projects_wheel_get_its_requirements() -> None:
    from pywrap.config.model import Stage
    from pywrap.locking.resolver import builds_project_wheel

    def stage(run: str) -> Stage:
        return Stage(
            name="x", python=True, system=(), requires=(), requires_file="", inputs=(), run=(run,), outputs=("*",)
        )

    assert builds_project_wheel(stage('python "$pyrelTools/stage_tools.py" wheel'))
    assert builds_project_wheel(stage('python "$pyrelTools/stage_tools.py" wheel --repair'))
    # docs and test install the wheel stage's wheel: the backend's wheel requirements are not theirs.
    assert not builds_project_wheel(stage('python "$pyrelTools/stage_tools.py" test'))
    assert not builds_project_wheel(stage('python "$pyrelTools/stage_tools.py" docs --sphinx-dir docs'))
    assert not builds_project_wheel(stage("make check"))
