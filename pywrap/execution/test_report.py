"""What a test stage's pytest run says: its junit.xml and pytest.log, read into counts and a reason.

Pure: text in, data and words out.  A collection error is not a failed test: pytest stops
(exit 2) before any test runs, and its junit report holds one ``<testcase>`` per file that
could not be collected, with an empty ``classname`` and ``<error message="collection failure">``
(unittest's ``TestCase`` methods are test cases like any other).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import attrs

#: pytest's exit codes (``pytest.ExitCode``).
INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS_COLLECTED = 2, 3, 4, 5

#: ``collected 1527 items / 1 error`` (also ``collected 1 item``, ``... / 3 deselected / 7 selected``).
_COLLECTED = re.compile(r"^collected (\d+) items?\b", re.MULTILINE)
#: The ERRORS section's header of one collection error: ``____ ERROR collecting tests/test_x.py ____``.
_ERROR_COLLECTING = re.compile(r"^_+ ERROR collecting (.+?) _+$", re.MULTILINE)
#: ``Interrupted: 2 errors during collection``.
_DURING_COLLECTION = re.compile(r"Interrupted: (\d+) errors? during collection")


@attrs.frozen
class CollectionError:
    #: The file or directory pytest could not collect, as the log names it (``tests/test_x.py``).
    where: str
    #: The error's last line (``ModuleNotFoundError: No module named 'x'``), if the report has it.
    message: str = ""


@attrs.frozen
class TestReport:
    """The test cases of a junit report, and the files pytest could not collect."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    #: Test cases (passed, failed, errored or skipped); collection errors are not test cases.
    tests: int = 0
    #: ``classname::name`` of each test case that failed or errored (in setup, call or teardown).
    failed: tuple[str, ...] = ()
    skipped: int = 0
    collection_errors: tuple[CollectionError, ...] = ()


def read_junit(text: str) -> TestReport:
    """Count a junit report's test cases; raises ValueError when it is not XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(f"the junit report is not valid XML: {exc}") from exc
    tests, skipped, failed, collection = 0, 0, [], []
    for case in root.iter("testcase"):
        error = case.find("error")
        name, classname = case.get("name", ""), case.get("classname", "")
        if error is not None and (not classname or error.get("message") == "collection failure"):
            collection.append(CollectionError(name, _last_error_line(error.text or "")))
            continue
        tests += 1
        if case.find("failure") is not None or error is not None:
            failed.append(f"{classname}::{name}" if classname else name)
        elif case.find("skipped") is not None:
            skipped += 1
    return TestReport(tests, tuple(failed), skipped, tuple(collection))


def _last_error_line(text: str) -> str:
    """The ``E   ...`` line pytest ends a traceback with, without the ``E``."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return lines[-1] if lines else ""


def _junit_name(path: str) -> str:
    """The name pytest's junit report gives a file it could not collect (``tests/a.py`` -> ``tests.a``)."""
    return re.sub(r"\.py$", "", path.split("::")[0].replace("/", "."))


def with_log(report: TestReport, log: str) -> TestReport:
    """The report with its collection errors named as pytest.log names them (file paths, not the
    report's dotted names), and those the log alone shows (an interrupted run's report may lack them)."""
    paths = list(dict.fromkeys(_ERROR_COLLECTING.findall(log)))
    by_name = {_junit_name(path): path for path in paths}
    named = [attrs.evolve(error, where=by_name.pop(error.where, error.where)) for error in report.collection_errors]
    if not named and _DURING_COLLECTION.search(log):
        named = [CollectionError(path) for path in by_name.values()]
    return attrs.evolve(report, collection_errors=tuple(named))


def collected(log: str) -> int | None:
    """How many tests pytest collected (in the files it could collect), as its log says."""
    found = _COLLECTED.search(log)
    return int(found.group(1)) if found else None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def summary(exit_status: int, report: TestReport, log: str = "", limit: int = 20) -> str:
    """Why the test stage failed, in words: a collection error, or X of Y test cases failed."""
    report = with_log(report, log)
    errors = report.collection_errors
    details: list[str] = []
    if errors and report.tests == 0:
        where = ", ".join(error.where for error in errors)
        count = collected(log)
        others = f"; pytest had collected {_plural(count, 'test')} from the other files" if count else ""
        text = (
            f"collection failed: {_plural(len(errors), 'error')} while collecting ({where}), no test ran"
            f"{others} (pytest exit {exit_status})"
        )
        details = [f"{error.where}: {error.message}" for error in errors if error.message]
    elif report.failed:
        text = f"{len(report.failed):,} of {_plural(report.tests, 'test')} failed (pytest exit {exit_status})"
        if errors:
            text += f"; {_plural(len(errors), 'error')} while collecting ({', '.join(e.where for e in errors)})"
        details = list(report.failed)
    elif errors:  # collection errors, the other tests passed (--continue-on-collection-errors)
        text = (
            f"{_plural(len(errors), 'error')} while collecting ({', '.join(e.where for e in errors)}); "
            f"none of the other {_plural(report.tests, 'test')} failed (pytest exit {exit_status})"
        )
        details = [f"{error.where}: {error.message}" for error in errors if error.message]
    elif exit_status == NO_TESTS_COLLECTED:
        text = "no tests were collected (pytest exit 5)"
    elif exit_status == INTERRUPTED:
        text = f"pytest was interrupted (exit 2) after {_plural(report.tests, 'test')}, none failed"
    elif exit_status == INTERNAL_ERROR:
        text = "pytest stopped on an internal error (exit 3; pytest.log has its traceback)"
    elif exit_status == USAGE_ERROR:
        text = "pytest refused its command line or configuration (exit 4; pytest.log says why)"
    else:
        text = (
            f"pytest exited with status {exit_status}, though none of the {_plural(report.tests, 'test')} "
            "failed (pytest.log says why)"
        )
    if details:
        text += "\n    " + "\n    ".join(details[:limit])
        if len(details) > limit:
            text += f"\n    ... and {len(details) - limit:,} more"
    return text
