"""The test stage's report read into counts (pure), and an old release's `exclude-newer` hint (pure).

The junit samples are what pytest 9 writes with `-o junit_family=xunit2` (the test stage's
options), less the timings the stage strips.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from pywrap.execution import old_release, test_report
from pywrap.execution.build import Status, _recorded_status
from pywrap.locking.lockfile import WheelEntry, read_pylock

#: tests/test_broken.py imports a module that does not exist: pytest stops before any test runs.
COLLECTION_ERROR_JUNIT = """\
<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" \
failures="0" skipped="0" tests="1"><testcase classname="" name="tests.test_broken"><error \
message="collection failure">ImportError while importing test module '/build/pyrel-test/run/tests/test_broken.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
tests/test_broken.py:1: in &lt;module&gt;
    import not_a_module_pyrel_xyz
E   ModuleNotFoundError: No module named 'not_a_module_pyrel_xyz'</error></testcase></testsuite></testsuites>"""

COLLECTION_ERROR_LOG = """\
============================= test session starts ==============================
platform linux -- Python 3.11.2, pytest-9.2.0, pluggy-1.7.0
rootdir: /build/pyrel-test/run
collected 1527 items / 1 error

==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
ImportError while importing test module '/build/pyrel-test/run/tests/test_broken.py'.
E   ModuleNotFoundError: No module named 'not_a_module_pyrel_xyz'
=========================== short test summary info ============================
ERROR tests/test_broken.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
=============================== 1 error ===============================
"""

#: A unittest.TestCase (a pass, a failure, a skip) beside plain pytest tests, one erroring in setup.
UNITTEST_JUNIT = """\
<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" \
failures="1" skipped="1" tests="5"><testcase classname="tests.test_ok.TestMath" name="test_add" />\
<testcase classname="tests.test_ok.TestMath" name="test_fail"><failure message="AssertionError: 2 != 3">\
E       AssertionError: 2 != 3</failure></testcase>\
<testcase classname="tests.test_ok.TestMath" name="test_skip"><skipped type="pytest.skip" message="not now">\
not now</skipped></testcase>\
<testcase classname="tests.test_ok" name="test_setup_error"><error message="failed on setup with \
&quot;RuntimeError: setup&quot;">E       RuntimeError: setup</error></testcase>\
<testcase classname="tests.test_ok" name="test_plain" /></testsuite></testsuites>"""

#: --continue-on-collection-errors: the broken file is named, the other tests run.
CONTINUED_JUNIT = UNITTEST_JUNIT.replace(
    '<testsuite name="pytest" errors="1"', '<testsuite name="pytest" errors="2"'
).replace(
    'tests="5">',
    'tests="6"><testcase classname="" name="tests.test_broken"><error message="collection '
    "failure\">E   ModuleNotFoundError: No module named 'x'</error></testcase>",
)


def test_a_collection_error_is_reported_as_such_not_as_a_failed_test() -> None:
    report = test_report.read_junit(COLLECTION_ERROR_JUNIT)
    assert report.tests == 0 and report.failed == ()
    assert report.collection_errors == (
        test_report.CollectionError(
            "tests.test_broken", "ModuleNotFoundError: No module named 'not_a_module_pyrel_xyz'"
        ),
    )
    text = test_report.summary(2, report, COLLECTION_ERROR_LOG)
    assert text.splitlines() == [
        "collection failed: 1 error while collecting (tests/test_broken.py), no test ran; pytest had collected "
        "1,527 tests from the other files (pytest exit 2)",
        "    tests/test_broken.py: ModuleNotFoundError: No module named 'not_a_module_pyrel_xyz'",
    ]
    assert "of 1 test" not in text
    # Without the log: the report's own name for the file.
    assert test_report.summary(2, report).startswith(
        "collection failed: 1 error while collecting (tests.test_broken), no test ran (pytest exit 2)"
    )


def test_the_log_alone_names_collection_errors_a_report_lacks() -> None:
    text = test_report.summary(2, test_report.TestReport(), COLLECTION_ERROR_LOG)
    assert text.startswith("collection failed: 1 error while collecting (tests/test_broken.py), no test ran")


def test_unittest_cases_are_test_cases_and_counted() -> None:
    report = test_report.read_junit(UNITTEST_JUNIT)
    assert (report.tests, report.skipped, report.collection_errors) == (5, 1, ())
    assert report.failed == ("tests.test_ok.TestMath::test_fail", "tests.test_ok::test_setup_error")
    assert test_report.summary(1, report).splitlines() == [
        "2 of 5 tests failed (pytest exit 1)",
        "    tests.test_ok.TestMath::test_fail",
        "    tests.test_ok::test_setup_error",
    ]


def test_collection_errors_beside_tests_that_ran() -> None:
    report = test_report.read_junit(CONTINUED_JUNIT)
    assert report.tests == 5 and len(report.collection_errors) == 1
    assert test_report.summary(1, report).splitlines()[0] == (
        "2 of 5 tests failed (pytest exit 1); 1 error while collecting (tests.test_broken)"
    )
    passed = test_report.read_junit(
        CONTINUED_JUNIT.replace("<failure", "<skipped")
        .replace("</failure>", "</skipped>")
        .replace('<error message="failed', '<skipped message="failed')
        .replace("RuntimeError: setup</error>", "RuntimeError: setup</skipped>")
    )
    assert test_report.summary(1, passed).splitlines()[0] == (
        "1 error while collecting (tests.test_broken); none of the other 5 tests failed (pytest exit 1)"
    )


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (2, "pytest was interrupted (exit 2) after 1 test, none failed"),
        (3, "internal error (exit 3"),
        (4, "refused its command line or configuration (exit 4"),
        (5, "no tests were collected (pytest exit 5)"),
        (1, "pytest exited with status 1, though none of the 1 test failed"),
        (7, "pytest exited with status 7, though none of the 1 test failed"),
    ],
)
def test_other_exit_statuses_say_what_pytest_did(status: int, words: str) -> None:
    report = test_report.read_junit('<testsuite><testcase classname="t" name="a"/></testsuite>')
    assert words in test_report.summary(status, report)


def test_many_failures_are_cut_to_the_limit() -> None:
    cases = "".join(f'<testcase classname="t" name="c{i}"><failure/></testcase>' for i in range(25))
    text = test_report.summary(1, test_report.read_junit(f"<testsuite>{cases}</testsuite>"), limit=3)
    assert text.splitlines() == [
        "25 of 25 tests failed (pytest exit 1)",
        "    t::c0",
        "    t::c1",
        "    t::c2",
        "    ... and 22 more",
    ]
    with pytest.raises(ValueError, match="not valid XML"):
        test_report.read_junit("<testsuite>")


def test_the_recorded_status_reads_junit_and_the_log_beside_it(tmp_path: Path) -> None:
    (tmp_path / "exit-code").write_text("2\n")
    (tmp_path / "junit.xml").write_text(COLLECTION_ERROR_JUNIT)
    (tmp_path / "pytest.log").write_text(COLLECTION_ERROR_LOG)
    status, reason = _recorded_status(tmp_path, "exit-code")
    assert status is Status.FAILED and reason.startswith(
        "collection failed: 1 error while collecting (tests/test_broken.py), no test ran"
    )
    (tmp_path / "junit.xml").write_text("<testsuite")
    assert _recorded_status(tmp_path, "exit-code")[1] == "exit status 2: the junit report is not valid XML"


# --- an old release's exclude-newer -------------------------------------------------------------------


def _wheel(name: str, uploaded: str | None) -> WheelEntry:
    return WheelEntry(
        name=name,
        version="1.0",
        filename=f"{name}-1.0-py3-none-any.whl",
        url=f"file:///wheels/{name}-1.0-py3-none-any.whl",
        sha256="0" * 64,
        upload_time=datetime.datetime.fromisoformat(uploaded) if uploaded else None,
    )


#: 2023-01-01T00:00:00Z
SOURCE_DATE = 1672531200
WHEELS = [
    _wheel("pytest", "2026-10-27T21:30:19+00:00"),
    _wheel("pluggy", "2022-06-01T00:00:00+00:00"),
    _wheel("iniconfig", "2023-01-01T00:00:01+00:00"),
    _wheel("local", None),
]


def test_the_hint_names_the_source_date_and_how_many_wheels_are_newer() -> None:
    hint = old_release.exclude_newer_hint("test", WHEELS, SOURCE_DATE)
    assert hint == (
        "the source is from 2023-01-01 (SOURCE_DATE_EPOCH), but 2 of the 4 wheels locked for stage 'test' were "
        "uploaded after it (the newest: pytest 1.0, 2026-10-27); if today's tools broke this old release, resolve "
        'them as of its date: set exclude-newer = "2023-01-01T00:00:00Z" in [tool.pyrel] and run `pyrel lock`'
    )
    assert [wheel.name for wheel in old_release.newer_than_source(WHEELS, SOURCE_DATE)] == ["pytest", "iniconfig"]


def test_the_hint_s_date_is_one_the_configuration_accepts(tmp_path: Path) -> None:
    from pywrap.config.loader import build_project

    date = old_release.source_date(SOURCE_DATE)
    project = build_project(
        tmp_path, tmp_path / "pyproject.toml", {"project": {"name": "demo", "version": "1"}}, {"exclude-newer": date}
    )
    assert project.exclude_newer == "2023-01-01T00:00:00Z"


def test_no_hint_without_newer_wheels_or_without_a_source_date() -> None:
    assert old_release.exclude_newer_hint("test", WHEELS[1:2], SOURCE_DATE) == ""
    assert old_release.exclude_newer_hint("test", [_wheel("local", None)], SOURCE_DATE) == ""
    assert old_release.exclude_newer_hint("test", [], SOURCE_DATE) == ""
    # 1980, the fallback of a tree with neither a commit nor source-date-epoch: no date to resolve as of.
    assert old_release.exclude_newer_hint("test", WHEELS, 315532800) == ""


def test_the_hint_names_the_current_setting_and_pyrel_toml() -> None:
    hint = old_release.exclude_newer_hint("docs", WHEELS, SOURCE_DATE, exclude_newer="2026-12-01", table="pyrel.toml")
    assert hint.endswith(
        'set exclude-newer = "2023-01-01T00:00:00Z" in pyrel.toml (it is "2026-12-01" now) and run `pyrel lock`'
    )


def test_the_pylock_s_upload_time_is_read_into_the_lock_model(tmp_path: Path) -> None:
    path = tmp_path / "pylock.test.toml"
    sha = "1" * 64
    path.write_text(
        'lock-version = "1.0"\n'
        f'[[packages]]\nname = "a"\nversion = "1"\nwheels = [{{ url = "http://mirror.invalid/a-1-py3-none-any.whl",'
        f' upload-time = 2026-10-06T22:48:36Z, hashes = {{ sha256 = "{sha}" }} }}]\n'
        f'[[packages]]\nname = "b"\nversion = "1"\nwheels = [{{ url = "http://mirror.invalid/b-1-py3-none-any.whl",'
        f' upload-time = 2026-10-06T23:48:36+01:00, hashes = {{ sha256 = "{sha}" }} }}]\n'
        f'[[packages]]\nname = "c"\nversion = "1"\nwheels = [{{ url = "http://mirror.invalid/c-1-py3-none-any.whl",'
        f' hashes = {{ sha256 = "{sha}" }} }}]\n'
    )
    a, b, c = read_pylock(path, "3.11", "x86_64-manylinux_2_36")
    moment = datetime.datetime(2026, 10, 6, 22, 48, 36, tzinfo=datetime.UTC)
    assert (a.upload_time, b.upload_time, c.upload_time) == (moment, moment, None)
