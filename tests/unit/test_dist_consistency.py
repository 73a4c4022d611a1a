"""dist/ is one release (pure): each statement names its input stages' artifacts, and those must be
the files dist/ holds; a build that leaves stale stages says which, and `verify --artifacts` refuses them."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from typer.testing import CliRunner

from pywrap.cli.app import app
from pywrap.errors import VerificationError
from pywrap.release import provenance, verify
from pywrap.release.provenance import RecordedInputs
from pywrap.release.source_state import SourceInfo
from tests.unit.test_fuzz import SETTINGS, mutated

#: The built-in graph: source -> wheel -> test (which also reads source) and docs.
INPUTS = {"source": (), "wheel": ("source",), "test": ("source", "wheel"), "docs": ("wheel",)}
OUTPUTS = {
    "source": ("hello-1.0.tar.gz",),
    "wheel": ("hello-1.0-py3-none-any.whl", "wheel-checks.json"),
    "test": ("junit.xml", "pytest.log"),
    "docs": ("hello-1.0-docs-html.tar.gz",),
}


def _context() -> provenance.BuildContext:
    moment = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    return provenance.BuildContext(
        project="hello",
        invocation_id="i",
        started_on=moment,
        finished_on=moment,
        builder_id=provenance.DEFAULT_BUILDER_ID,
        pyrel_version="0",
        nix_version="2.8.0",
        source=SourceInfo(),
    )


def _export(dist: Path, stage: str, version: str) -> None:
    """Export ``stage`` as `pyrel build` does: its files (contents depending on ``version`` and on what its
    input stages hold in dist/ now), SHA256SUMS, one statement per file naming the inputs' artifacts."""
    inputs = [
        (f"{name}/{file}", sha256)
        for name in INPUTS[stage]
        for file, sha256 in verify.listed_checksums(dist)[name].items()
    ]
    directory = dist / stage
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    sums = ""
    for name in OUTPUTS[stage]:
        data = f"{stage} {name} {version} {inputs}".encode()
        (directory / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        sums += f"{digest}  {name}\n"
        document = provenance.statement(
            artifact=name,
            sha256=digest,
            stage=stage,
            context=_context(),
            dependencies=[],
            derivation=None,
            output=None,
            input_artifacts=inputs,
            input_stages=INPUTS[stage],
        )
        (directory / provenance.attestation_name(name)).write_text(provenance.dumps(document))
    (directory / "SHA256SUMS").write_text(sums)


def _release(tmp_path: Path) -> Path:
    """`pyrel build all`: every stage, one after the other, from one source."""
    dist = tmp_path / "dist"
    for stage in ("source", "wheel", "test", "docs"):
        _export(dist, stage, "1")
    return dist


def _sdist_sha256(dist: Path) -> str:
    return verify.listed_checksums(dist)["source"]["hello-1.0.tar.gz"]


# --- what a statement records ------------------------------------------------------------


def test_a_statement_names_its_input_stages_and_their_artifacts() -> None:
    document = provenance.statement(
        artifact="junit.xml",
        sha256="0" * 64,
        stage="test",
        context=_context(),
        dependencies=[],
        derivation=None,
        output=None,
        input_stages=("source", "wheel"),
        input_artifacts=[("source/hello-1.0.tar.gz", "1" * 64), ("wheel/hello-1.0-py3-none-any.whl", "2" * 64)],
    )
    assert document["predicate"]["buildDefinition"]["externalParameters"]["inputStages"] == ["source", "wheel"]
    assert provenance.recorded_inputs(document) == RecordedInputs(
        "test",
        ("source", "wheel"),
        (("source", "hello-1.0.tar.gz", "1" * 64), ("wheel", "hello-1.0-py3-none-any.whl", "2" * 64)),
    )
    # A stage that reads none says so: an empty list, not nothing.
    source = provenance.statement(
        artifact="hello-1.0.tar.gz",
        sha256="0" * 64,
        stage="source",
        context=_context(),
        dependencies=[],
        derivation=None,
        output=None,
    )
    assert provenance.recorded_inputs(source) == RecordedInputs("source", (), ())


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"predicate": 5},
        {"predicate": {"buildDefinition": {"externalParameters": {"stage": "test"}}}},
        {"predicate": {"buildDefinition": {"externalParameters": {"stage": "test", "inputStages": "source"}}}},
        {"predicate": {"buildDefinition": {"externalParameters": {"stage": "test", "inputStages": ["a/b"]}}}},
    ],
)
def test_a_statement_that_does_not_say_what_it_read_records_nothing(document: object) -> None:
    assert provenance.recorded_inputs(document) is None


_TEST_STATEMENT = provenance.statement(
    artifact="junit.xml",
    sha256="0" * 64,
    stage="test",
    context=_context(),
    dependencies=[],
    derivation=None,
    output=None,
    input_stages=("source",),
    input_artifacts=[("source/hello-1.0.tar.gz", "1" * 64)],
)


@SETTINGS
@given(mutated(_TEST_STATEMENT))
def test_any_statement_is_read_back_without_an_exception(document: dict[str, object]) -> None:
    recorded = provenance.recorded_inputs(document)
    assert recorded is None or isinstance(recorded, RecordedInputs)
    problems = verify.graph_problems({"test": [recorded]}, {"source": {"hello-1.0.tar.gz": "1" * 64}}, ["test"])
    assert all(problem.stage == "test" for problem in problems)


def test_only_input_stages_files_are_read_back_from_the_dependencies() -> None:
    document = {
        "predicate": {
            "buildDefinition": {
                "externalParameters": {"stage": "test", "inputStages": ["wheel"]},
                "resolvedDependencies": [
                    {"name": "pyrel.lock.toml", "digest": {"sha256": "1" * 64}},
                    {"name": "docs/x.tar.gz", "digest": {"sha256": "2" * 64}},  # not an input stage of test
                    {"name": "wheel/sub/dir.whl", "digest": {"sha256": "3" * 64}},
                    {"name": "wheel/odd.whl", "digest": "sha256:4"},
                    7,
                    {"name": 5},
                ],
            }
        }
    }
    assert provenance.recorded_inputs(document) == RecordedInputs(
        "test", ("wheel",), (("wheel", "sub/dir.whl", "3" * 64),)
    )


# --- the graph, as data ---------------------------------------------------------------------


def _record(stage: str, **files: str) -> RecordedInputs:
    """``stage`` built from ``files`` (``source="<sha256>"``: source's one file, a.tar.gz)."""
    return RecordedInputs(
        stage, tuple(INPUTS[stage]), tuple((name, "a.tar.gz", sha256) for name, sha256 in files.items())
    )


def test_matching_statements_are_one_release() -> None:
    records = {"wheel": [_record("wheel", source="1" * 64)] * 2, "source": [_record("source")]}
    present = {"source": {"a.tar.gz": "1" * 64}, "wheel": {"a.tar.gz": "9" * 64}}
    assert verify.graph_problems(records, present, ["source", "wheel"]) == []


def test_each_disagreement_names_the_stage_and_the_file() -> None:
    records = {"test": [_record("test", source="1" * 64, wheel="2" * 64)] * 3}  # three statements, one problem each
    present = {"source": {"a.tar.gz": "5" * 64, "extra.txt": "6" * 64}}
    problems = verify.graph_problems(records, present, ["test"])
    assert problems == [
        verify.GraphProblem("test", "source", "a.tar.gz", "1" * 64, "5" * 64),  # another sdist
        verify.GraphProblem("test", "source", "extra.txt", "", "6" * 64),  # a file test did not read
        verify.GraphProblem("test", "wheel"),  # wheel is not there at all
    ]
    dist = Path("/r/dist")
    described = [problem.describe(dist) for problem in problems]
    assert described[0] == (
        f"/r/dist/test: built from source/a.tar.gz with sha256 {'1' * 64}, "
        f"but /r/dist/source/a.tar.gz has sha256 {'5' * 64}"
    )
    assert described[1].startswith("/r/dist/source/extra.txt: not one of the files of source that test")
    assert described[2].startswith("/r/dist/test: built from stage wheel, which is not in /r/dist")
    gone = verify.graph_problems({"test": [_record("test", source="1" * 64)]}, {"source": {}, "wheel": {}}, ["test"])
    assert (
        gone[0].describe(dist) == f"/r/dist/test: built from source/a.tar.gz (sha256 {'1' * 64}), which is "
        "not in /r/dist/source"
    )


def test_a_statement_that_does_not_name_its_inputs_cannot_pass() -> None:
    problems = verify.graph_problems({"test": [None]}, {}, ["test"])
    assert problems == [verify.GraphProblem("test")]
    assert "do not name the stages it was built from" in problems[0].describe(Path("dist"))


def test_only_the_stages_asked_for_are_checked() -> None:
    records = {"test": [_record("test", source="1" * 64, wheel="2" * 64)], "wheel": [_record("wheel", source="3" * 64)]}
    present = {"source": {"a.tar.gz": "3" * 64}, "wheel": {"a.tar.gz": "4" * 64}}
    assert verify.graph_problems(records, present, ["source", "wheel"]) == []
    assert {problem.stage for problem in verify.graph_problems(records, present, ["test"])} == {"test"}


@pytest.mark.parametrize(
    ("exported", "problems", "stale"),
    [
        # `pyrel build source` after a change: what read the old sdist, and what reads that.
        (["source"], [("wheel", "source"), ("test", "source")], ("wheel", "docs", "test")),
        # `pyrel build source wheel`: the case.
        (["source", "wheel"], [("test", "source"), ("test", "wheel"), ("docs", "wheel")], ("docs", "test")),
        # `pyrel build test` on a dist/ whose source and wheel are older: those, and docs, which reads the wheel.
        (["test"], [("test", "source"), ("test", "wheel")], ("source", "wheel", "docs")),
        # Nothing built (`pyrel verify --artifacts`): the stages whose statements disagree, and their readers.
        ([], [("wheel", "source")], ("wheel", "docs", "test")),
    ],
)
def test_the_stale_stages_are_those_to_rebuild(
    exported: list[str], problems: list[tuple[str, str]], stale: tuple[str, ...]
) -> None:
    records = {stage: [RecordedInputs(stage, INPUTS[stage], ())] for stage in INPUTS}
    found = [verify.GraphProblem(stage, input_stage, "a", "1" * 64, "2" * 64) for stage, input_stage in problems]
    assert verify.stale_stages(found, records, exported) == stale


def test_an_absent_input_stage_is_to_be_built() -> None:
    records = {"test": [RecordedInputs("test", ("source", "wheel"), ())]}
    problems = [verify.GraphProblem("test", "source"), verify.GraphProblem("test", "wheel")]
    assert verify.stale_stages(problems, records, ["test"]) == ("source", "wheel")


def test_graph_order_puts_every_stage_after_what_it_reads() -> None:
    assert verify.graph_order(["test", "docs", "wheel", "source"], INPUTS) == ["source", "wheel", "docs", "test"]
    assert verify.graph_order(["test", "source"], INPUTS) == ["source", "test"]


# --- on files: the user's story -----------------------------------------------------------------


def test_a_release_verifies(tmp_path: Path) -> None:
    dist = _release(tmp_path)
    report = verify.verify_artifacts(dist)
    assert report, report.problems
    assert report.checked_attestations == 6 and report.stale == ()
    assert verify.check_consistency(dist, ["source", "wheel", "test", "docs"]) == verify.Consistency((), ())


def test_tests_of_another_sdist_do_not_pass_the_gate(tmp_path: Path) -> None:
    dist = _release(tmp_path)
    old_sdist = _sdist_sha256(dist)
    _export(dist, "source", "2")  # a change, then `pyrel build source` only
    new_sdist = _sdist_sha256(dist)

    consistency = verify.check_consistency(dist, ["source"])
    assert consistency.stale == ("wheel", "docs", "test")
    report = verify.verify_artifacts(dist)
    assert not report and report.stale == ("wheel", "docs", "test")
    expected = (
        f"{dist / 'test'}: built from source/hello-1.0.tar.gz with sha256 {old_sdist}, "
        f"but {dist / 'source' / 'hello-1.0.tar.gz'} has sha256 {new_sdist}"
    )
    assert expected in report.problems
    assert any(
        problem.startswith(f"{dist / 'wheel'}: built from source/hello-1.0.tar.gz") for problem in report.problems
    )
    # The publish job checks source and wheel only: wheel is stale too, so it fails as well ...
    assert not verify.verify_artifacts(dist, ["source", "wheel"])

    _export(dist, "wheel", "2")  # ... `pyrel build source wheel`: those two are one release again,
    assert verify.verify_artifacts(dist, ["source", "wheel"])
    assert verify.check_consistency(dist, ["source", "wheel"]).stale == ("docs", "test")  # but not dist/
    report = verify.verify_artifacts(dist)
    assert not report and report.stale == ("docs", "test")
    assert any(
        problem.startswith(f"{dist / 'test'}: built from source/hello-1.0.tar.gz") for problem in report.problems
    )
    assert any(
        problem.startswith(f"{dist / 'docs'}: built from wheel/hello-1.0-py3-none-any.whl")
        for problem in report.problems
    )

    for stage in ("test", "docs"):  # `pyrel build test docs`
        _export(dist, stage, "2")
    assert verify.verify_artifacts(dist)
    assert verify.check_consistency(dist, ["test", "docs"])


def test_a_stage_is_verified_with_its_input_stages(tmp_path: Path) -> None:
    dist = _release(tmp_path)
    published = tmp_path / "release-dist"  # what the publish job downloads
    for stage in ("source", "wheel"):
        (published / stage).mkdir(parents=True)
        for path in (dist / stage).iterdir():
            (published / stage / path.name).write_bytes(path.read_bytes())
    assert verify.verify_artifacts(published, ["source", "wheel"])
    assert verify.verify_artifacts(published)  # every stage there is checked, each with its inputs present
    (published / "source" / "SHA256SUMS").rename(published / "source" / "SUMS")
    report = verify.verify_artifacts(published, ["wheel"])
    assert not report and report.stale == ()  # nothing to rebuild: an input stage was left out
    assert f"{published / 'wheel'}: built from stage source, which is not in {published}" in report.problems[0]


def test_a_statement_of_an_older_pyrel_is_refused(tmp_path: Path) -> None:
    dist = _release(tmp_path)
    statement = dist / "test" / "junit.xml.intoto.json"
    document = json.loads(statement.read_text())
    del document["predicate"]["buildDefinition"]["externalParameters"]["inputStages"]
    statement.write_text(json.dumps(document))
    report = verify.verify_artifacts(dist)
    assert not report and report.stale == ("test",)
    assert any(problem.startswith(f"{dist / 'test'}: its statements do not name") for problem in report.problems)


def test_verify_artifacts_exits_11_naming_the_stage_the_file_and_the_rebuild(tmp_path: Path) -> None:
    dist = _release(tmp_path)
    _export(dist, "source", "2")
    result = CliRunner().invoke(app, ["verify", "--artifacts", str(dist)])
    assert result.exit_code == VerificationError.exit_code, result.output
    text = " ".join(result.output.split())
    assert f"{dist / 'test'}: built from source/hello-1.0.tar.gz" in text
    assert "rebuild them with `pyrel build wheel docs test`" in text
    report = json.loads(CliRunner().invoke(app, ["verify", "--artifacts", str(dist), "--json"]).stdout)
    assert report["ok"] is False and report["stale"] == ["wheel", "docs", "test"]


def test_a_build_that_leaves_stale_stages_says_which_and_how_to_rebuild_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pywrap.cli import app as cli

    dist = _release(tmp_path)
    for stage in ("source", "wheel"):  # `pyrel build source wheel -C <project>` after a change
        _export(dist, stage, "2")
    consistency = cli._consistency(dist, ["source", "wheel"], project_dir=tmp_path, dist=None)
    assert consistency["consistent"] is False and consistency["stale"] == ["docs", "test"]
    assert consistency["rebuild"] == f"pyrel build docs test -C {tmp_path}"
    problems = consistency["problems"]
    assert isinstance(problems, list)
    assert any(str(problem).startswith(f"{dist / 'test'}: built from source/hello-1.0.tar.gz") for problem in problems)
    json.dumps(consistency)  # `--json` carries it as it is
    cli._print_consistency(consistency, dist)
    printed = capsys.readouterr().err
    assert f"warning: {dist} is not one release: docs, test are stale" in printed
    assert f"rebuild them: pyrel build docs test -C {tmp_path}" in printed

    assert cli._consistency(_release(tmp_path / "again"), ["source"], project_dir=Path("."), dist=None) == {
        "consistent": True,
        "stale": [],
        "problems": [],
        "rebuild": None,
    }
    cli._print_consistency(cli._consistency(dist, [], project_dir=Path("."), dist=None), dist)
    assert capsys.readouterr().err  # still stale: said again on the next build
