"""Intersphinx without network: the stage key, the lock's inventories, the probe's answer, pinning, the plan,
the in-sandbox rewrite of the mapping (nix/tools/sphinx_offline.py, run on the host's Python), the findings of
a successful stage's log, and the audit's record."""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import sys
import types
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import jsonschema
import pytest

from pywrap.audit import closures, report
from pywrap.config.loader import build_project
from pywrap.config.model import DOCS_COMMAND, Project, Stage
from pywrap.errors import ConfigError, DownloadError, FetchError, LockError
from pywrap.execution import build, fetch, hermeticity
from pywrap.execution.fetch import Bootstrap
from pywrap.execution.plan import make_plan
from pywrap.locking import intersphinx
from pywrap.locking.intersphinx import (
    PinnedInventory,
    ProbeAnswer,
    ProbedEntry,
    Unfetched,
    fetch_entry,
    inventory_header,
    parse_answer,
    unfetchable_error,
)
from pywrap.locking.lockfile import (
    DebEntry,
    InventoryEntry,
    Lock,
    StageLock,
    lock_from_toml,
    lock_to_toml,
    stage_fingerprint,
)
from pywrap.release.provenance import stage_dependencies

ROOT = Path("/project")
PYPROJECT = ROOT / "pyproject.toml"
FLIT = {
    "build-system": {"requires": ["flit_core>=3.4"], "build-backend": "flit_core.buildapi"},
    "project": {"name": "demo"},
}
DOCS_RUN = f"{DOCS_COMMAND} --sphinx-dir docs --name demo --version 1.0 --builders html"
SCHEMA: dict[str, Any] = json.loads(
    importlib.resources.files("pywrap.resources").joinpath("pyrel.schema.json").read_text()
)
TOOLS = Path(__file__).resolve().parents[2] / "nix" / "tools"
TARGET = "http://127.0.0.1:8000/upstream"


def inventory_bytes(project: str = "Upstream", version: str = "2.1") -> bytes:
    """A valid Sphinx inventory (version 2), as Sphinx's html builder writes it."""
    body = b"upstream.Widget py:class 1 api.html#$ -\n"
    return (
        f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    ).encode() + zlib.compress(body)


def _project(docs: dict[str, Any] | None = None) -> Project:
    table = {"run": [DOCS_RUN], "outputs": ["*.tar.gz"], **(docs or {})}
    return build_project(ROOT, PYPROJECT, FLIT, {"stages": {"docs": table}})


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


def _inventory(name: str = "upstream") -> InventoryEntry:
    content = inventory_bytes()
    return InventoryEntry(
        name=name,
        target=TARGET,
        url=f"{TARGET}/objects.inv",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        project="Upstream",
        version="2.1",
    )


def _lock(project: Project, inventories: tuple[InventoryEntry, ...] = ()) -> Lock:
    debs = tuple(_deb(name) for name in ("busybox-static", "libc6", "patchelf", "python3.11-minimal"))
    stages = tuple(
        StageLock(
            name=stage.name,
            fingerprint=stage_fingerprint(project, stage, "bookworm", "amd64"),
            system=("libc6", "python3.11-minimal"),
            python_lock="",
            python_lock_sha256="",
            inventories=inventories if stage.name == "docs" else (),
        )
        for stage in project.stages
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


# --- the stage key ----------------------------------------------------------------------------


def test_a_sphinx_stage_knows_its_directory_and_intersphinx_defaults_to_pinned() -> None:
    docs = _project().stage("docs")
    assert docs.sphinx_dir == "docs" and docs.intersphinx is True
    assert _project({"intersphinx": False}).stage("docs").intersphinx is False
    assert _project().stage("source").sphinx_dir is None
    quoted = attrs.evolve(docs, run=(f"{DOCS_COMMAND} --sphinx-dir 'my docs' --name d --version 1",))
    assert quoted.sphinx_dir == "my docs"


def test_the_built_in_docs_stage_runs_pyrels_sphinx(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("")
    project = build_project(tmp_path, tmp_path / "pyproject.toml", FLIT, {"stages": {"docs": {"intersphinx": False}}})
    assert project.stage("docs").sphinx_dir == "docs"
    assert project.stage("docs").intersphinx is False


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"intersphinx": "no"}, "must be a boolean"),
        # A stage that runs Sphinx itself: pyrel neither pins nor hands over anything there.
        ({"intersphinx": False, "run": ["sphinx-build docs $out/html"]}, "applies only to a stage that runs Sphinx"),
    ],
)
def test_intersphinx_is_validated_at_load_time(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _project(table)


def test_only_stages_pyrel_runs_sphinx_for_take_the_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'tool\.pyrel\.stages\.source\.intersphinx'"):
        build_project(ROOT, PYPROJECT, FLIT, {"stages": {"source": {"intersphinx": False}}})
    # Any name: the runner is what pins and hands over the inventories.
    api = build_project(
        ROOT,
        PYPROJECT,
        FLIT,
        {"stages": {"api-docs": {"run": [DOCS_RUN], "outputs": ["*.tar.gz"], "intersphinx": False}}},
    ).stage("api-docs")
    assert api.sphinx_dir == "docs" and api.intersphinx is False


def test_the_schema_knows_the_key() -> None:
    jsonschema.validate({"stages": {"docs": {"intersphinx": False}}}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"stages": {"docs": {"intersphinx": "skip"}}}, SCHEMA)


# --- the lock ---------------------------------------------------------------------------------


def test_the_lock_pins_each_inventory_and_reads_it_back(tmp_path: Path) -> None:
    project = _project()
    lock = _lock(project, (_inventory(),))
    document = lock_to_toml(lock)
    [table] = document["stages"]["docs"]["inventories"]
    assert table == {
        "name": "upstream",
        "target": TARGET,
        "url": f"{TARGET}/objects.inv",
        "sha256": _inventory().sha256,
        "size": len(inventory_bytes()),
        "project": "Upstream",
        "version": "2.1",
    }
    assert "inventories" not in document["stages"]["source"]
    assert lock_from_toml(document, tmp_path).entry("docs").inventories == (_inventory(),)
    table["sha256"] = "not a hash"
    with pytest.raises(LockError, match=r"stages.docs.inventories\[0\].sha256"):
        lock_from_toml(document, tmp_path)


def test_opting_out_makes_the_docs_lock_stale_and_touches_no_other_stage() -> None:
    pinned, off = _project(), _project({"intersphinx": False})
    assert stage_fingerprint(pinned, pinned.stage("docs"), "bookworm", "amd64") != stage_fingerprint(
        off, off.stage("docs"), "bookworm", "amd64"
    )
    assert stage_fingerprint(pinned, pinned.stage("source"), "bookworm", "amd64") == stage_fingerprint(
        off, off.stage("source"), "bookworm", "amd64"
    )


# --- the probe's answer and pinning --------------------------------------------------------------


def _answer(**changes: Any) -> dict[str, Any]:
    return {
        "schema-version": 1,
        "method": "conf.py",
        "note": "",
        "error": "",
        "invalid": [],
        "entries": [
            {"name": "upstream", "target": TARGET, "locations": [f"{TARGET}/objects.inv"], "local-files": [False]}
        ],
        **changes,
    }


def test_the_probe_answer_is_read_and_checked() -> None:
    answer = parse_answer(_answer(), "docs", "docs")
    assert answer.entries == (ProbedEntry("upstream", TARGET, (f"{TARGET}/objects.inv",), (False,)),)
    with pytest.raises(LockError, match=r"intersphinx_mapping from docs/conf\.py: line 3: computed") as error:
        parse_answer(_answer(error="line 3: computed"), "docs", "docs")
    assert "intersphinx = false" in (error.value.hint or "")
    for broken in (_answer(entries=[{"name": "x"}]), {"schema-version": 2}, ["entries"]):
        with pytest.raises(LockError, match="the intersphinx probe answered"):
            parse_answer(broken, "docs", "docs")


def test_an_inventory_is_a_sphinx_inventory() -> None:
    assert inventory_header(inventory_bytes("Python", "3.13")) == ("Python", "3.13")
    with pytest.raises(ValueError, match="not a Sphinx inventory"):
        inventory_header(b"<!doctype html><title>Not Found</title>")


def test_the_first_location_that_gives_an_inventory_is_pinned() -> None:
    served = {f"{TARGET}/objects.inv": inventory_bytes(), "http://mirror.invalid/page.html": b"<html>"}
    asked: list[str] = []

    def download(url: str) -> bytes | None:
        asked.append(url)
        if url == "http://unreachable.invalid/objects.inv":
            raise DownloadError(f"cannot download {url}: Name or service not known")
        return served.get(url)

    probed = ProbedEntry(
        "upstream",
        TARGET,
        (
            "missing.inv",
            "http://unreachable.invalid/objects.inv",
            "http://mirror.invalid/page.html",
            "http://mirror.invalid/gone.inv",
            f"{TARGET}/objects.inv",
        ),
        (False,) * 5,
    )
    pinned = fetch_entry(probed, download)
    assert isinstance(pinned, PinnedInventory)
    assert pinned.entry == attrs.evolve(_inventory(), url=f"{TARGET}/objects.inv")
    assert pinned.content == inventory_bytes()
    assert asked == list(probed.locations[1:])


def test_a_project_file_sphinx_reads_first_needs_no_download() -> None:
    def download(url: str) -> bytes | None:
        raise AssertionError(url)

    local_first = ProbedEntry("upstream", TARGET, ("upstream.inv", f"{TARGET}/objects.inv"), (True, False))
    assert fetch_entry(local_first, download) is None
    relative = ProbedEntry("sibling", "../sibling", ("../sibling/objects.inv",), (False,))
    assert fetch_entry(relative, download) is None  # nothing to download; Sphinx says what is missing


def test_an_inventory_found_nowhere_is_a_lock_error_naming_each_url() -> None:
    def download(url: str) -> bytes | None:
        if "refused" in url:
            raise DownloadError(f"cannot download {url}: [Errno 111] Connection refused")
        return None

    probed = ProbedEntry(
        "upstream", TARGET, ("http://refused.invalid/objects.inv", f"{TARGET}/objects.inv"), (False, False)
    )
    found = fetch_entry(probed, download)
    assert isinstance(found, Unfetched)
    error = unfetchable_error("docs", [found])
    message = error.message
    assert "the intersphinx inventory 'upstream'" in message
    assert "http://refused.invalid/objects.inv ([Errno 111] Connection refused)" in message
    assert f"{TARGET}/objects.inv (not found)" in message
    assert "intersphinx = false in [tool.pyrel.stages.docs]" in (error.hint or "")


def test_every_inventory_found_nowhere_is_named_in_one_error() -> None:
    """Not the first one only: a machine without the sites' network learns at once what it cannot pin
    (installer 0.7.0 maps the Python docs and the packaging guide)."""
    project = _project()
    second = {"name": "guide", "target": "http://guide.invalid", "locations": ["http://guide.invalid/objects.inv"]}
    answer = _answer(
        entries=[
            {"name": "python", "target": "http://docs.invalid/3", "locations": ["http://docs.invalid/3/objects.inv"]},
            {"name": "upstream", "target": TARGET, "locations": [f"{TARGET}/objects.inv"]},
            second,
        ]
    )
    for entry in answer["entries"]:
        entry["local-files"] = [False]

    def download(url: str) -> bytes | None:
        if url.startswith(TARGET):
            return inventory_bytes()
        raise DownloadError(f"cannot download {url}: [Errno -2] Name or service not known")

    with pytest.raises(LockError) as error:
        intersphinx.lock_inventories(
            project,
            _lock(project),
            lambda message: None,
            download=download,
            probe=lambda *arguments: parse_answer(answer, "docs", "docs"),
        )
    assert error.value.message == (
        "stage 'docs': the intersphinx inventories 'python', 'guide' of conf.py's intersphinx_mapping cannot be "
        "fetched:\n  'python': tried\n    http://docs.invalid/3/objects.inv ([Errno -2] Name or service not known)"
        "\n  'guide': tried\n    http://guide.invalid/objects.inv ([Errno -2] Name or service not known)"
    )
    assert "intersphinx = false in [tool.pyrel.stages.docs]" in (error.value.hint or "")


def test_lock_inventories_probes_pins_and_keeps_each_file() -> None:
    project = _project()
    kept: list[InventoryEntry] = []
    messages: list[str] = []

    def probe(project: Project, stage: Stage, lock: Lock, progress: Any) -> ProbeAnswer:
        assert stage.name == "docs"
        return parse_answer(
            _answer(method="literal", note="ModuleNotFoundError: No module named 'demo'"), "docs", "docs"
        )

    lock = intersphinx.lock_inventories(
        project,
        _lock(project),
        messages.append,
        download=lambda url: inventory_bytes(),
        probe=probe,
        keep=lambda entry, content: kept.append(entry),
    )
    assert lock.entry("docs").inventories == (_inventory(),) and kept == [_inventory()]
    assert lock.entry("source").inventories == ()
    assert any("read intersphinx_mapping as a literal" in message for message in messages)


def test_an_opted_out_stage_is_not_probed_and_says_so() -> None:
    project = _project({"intersphinx": False})
    messages: list[str] = []

    def probe(*arguments: object) -> ProbeAnswer:
        raise AssertionError("probed")

    lock = intersphinx.lock_inventories(project, _lock(project), messages.append, probe=probe)
    assert lock.entry("docs").inventories == ()
    assert any("warning: stage 'docs': intersphinx = false" in message for message in messages)


# --- fetch and plan --------------------------------------------------------------------------


def test_inventories_are_fetched_like_every_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYREL_CACHE_DIR", str(tmp_path / "cache"))
    project = _project()
    lock = _lock(project, (_inventory(),))
    assert fetch.artifacts_of(lock, ["docs"])[-1] == _inventory()
    assert _inventory() not in fetch.artifacts_of(lock, ["source"])
    cached = fetch.keep_inventory(_inventory(), inventory_bytes())
    assert cached.read_bytes() == inventory_bytes() and cached.name == "intersphinx-upstream-objects.inv"
    assert fetch.ensure_cached(_inventory(), lock) == cached  # from the cache: no download
    monkeypatch.setattr("pywrap.adapters.http.download", lambda url, target: False)
    cached.unlink()
    with pytest.raises(FetchError, match=r"intersphinx inventory 'upstream' .* is gone from"):
        fetch.ensure_cached(_inventory(), lock)


def test_the_plan_hands_a_sphinx_stage_its_inventories() -> None:
    project = _project()
    lock = _lock(project, (_inventory(),))
    plan = make_plan(
        project,
        lock,
        ["source", "docs"],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1,
    )
    stages = {stage["name"]: stage for stage in plan["stages"]}
    assert "intersphinx" not in stages["source"]
    assert stages["docs"]["intersphinx"] == {
        "enabled": True,
        "inventories": [
            {
                "name": "upstream",
                "target": TARGET,
                "storeName": "intersphinx-upstream-objects.inv",
                "url": f"{TARGET}/objects.inv",
                "sha256": _inventory().sha256,
            }
        ],
    }
    off = _project({"intersphinx": False})
    plan = make_plan(
        off,
        _lock(off),
        ["docs"],
        bootstrap=Bootstrap("bb", "0" * 52, "/nix/store/x-bb"),
        source_files=["pyproject.toml"],
        source_date_epoch=1,
    )
    assert plan["stages"][-1]["intersphinx"] == {"enabled": False, "inventories": []}


# --- in the sandbox: nix/tools/sphinx_offline.py ------------------------------------------------


@pytest.fixture(scope="module")
def offline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sphinx_offline", TOOLS / "sphinx_offline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETTINGS: dict[str, Any] = {
    "enabled": True,
    "inventories": [
        {
            "name": "upstream",
            "target": TARGET,
            "url": f"{TARGET}/objects.inv",
            "path": "/nix/store/hash-intersphinx-upstream-objects.inv",
        }
    ],
}


def test_sphinx_gets_the_pinned_copy_and_keeps_the_target(offline: ModuleType) -> None:
    mapping = {"upstream": (TARGET, None), "local": ("../local", None), "own": ("https://x.invalid", "own.inv")}
    rewritten, problems, dropped = offline.rewrite(mapping, SETTINGS)
    assert rewritten == {
        "upstream": (TARGET, "/nix/store/hash-intersphinx-upstream-objects.inv"),
        "local": ("../local", None),
        "own": ("https://x.invalid", "own.inv"),
    }
    assert problems == [] and dropped == []
    # Sphinx 7's format, {target: inventory}
    assert offline.rewrite(
        {TARGET: None}, {"enabled": True, "inventories": [{**SETTINGS["inventories"][0], "name": TARGET}]}
    )[0] == {TARGET: "/nix/store/hash-intersphinx-upstream-objects.inv"}


def test_no_remote_location_reaches_sphinx(offline: ModuleType) -> None:
    mapping = {"upstream": (TARGET, ("upstream.inv", None)), "numpy": ("https://numpy.invalid/doc", None)}
    rewritten, problems, dropped = offline.rewrite(mapping, {"enabled": True, "inventories": []})
    assert rewritten == {"upstream": (TARGET, ("upstream.inv",))}
    assert len(problems) == 1 and "intersphinx_mapping['numpy']" in problems[0] and "pyrel.lock.toml" in problems[0]
    moved = offline.rewrite(
        {"upstream": ("http://elsewhere.invalid", None)},
        {"enabled": True, "inventories": [{**SETTINGS["inventories"][0], "name": "upstream"}]},
    )[1]
    assert "conf.py changed since `pyrel lock`" in moved[0]
    rewritten, problems, dropped = offline.rewrite(mapping, {"enabled": False, "inventories": []})
    assert rewritten == {"upstream": (TARGET, ("upstream.inv",))} and problems == []
    assert dropped == ["numpy (https://numpy.invalid/doc/objects.inv)"]


def test_the_probe_reads_a_conf_that_runs_and_one_that_does_not(
    offline: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "upstream.inv").write_bytes(inventory_bytes())
    (docs / "conf.py").write_text(
        "import os\nassert os.path.basename(os.getcwd()) == 'docs'\n"
        f"intersphinx_mapping = {{'upstream': ({TARGET!r}, ('upstream.inv', None)), 'bad': 3}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    output = tmp_path / "answer.json"
    offline.probe(types.SimpleNamespace(sphinx_dir="docs", output=str(output)))
    answer = parse_answer(json.loads(output.read_text()), "docs", "docs")
    assert answer.method == "conf.py" and answer.invalid == ("'bad': 3",)
    assert answer.entries == (
        ProbedEntry("upstream", TARGET, ("upstream.inv", f"{TARGET}/objects.inv"), (True, False)),
    )

    (docs / "conf.py").write_text(f"import demo_not_installed\nintersphinx_mapping = {{'up': ({TARGET!r}, None)}}\n")
    offline.probe(types.SimpleNamespace(sphinx_dir="docs", output=str(output)))
    answer = parse_answer(json.loads(output.read_text()), "docs", "docs")
    assert answer.method == "literal" and "demo_not_installed" in answer.note
    assert [entry.name for entry in answer.entries] == ["up"]

    (docs / "conf.py").write_text("import demo_not_installed\nintersphinx_mapping = dict(python=('x', None))\n")
    offline.probe(types.SimpleNamespace(sphinx_dir="docs", output=str(output)))
    with pytest.raises(LockError, match=r"computed, not a literal, and conf\.py did not run"):
        parse_answer(json.loads(output.read_text()), "docs", "docs")


# --- a successful stage's log ------------------------------------------------------------------


SPHINX_WARNING = (
    "WARNING: failed to reach any of the inventories with the following issues:\n"
    "intersphinx inventory 'http://127.0.0.1:9/objects.inv' not fetchable due to <class "
    "'requests.exceptions.ConnectionError'>: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries "
    'exceeded with url: /objects.inv (Caused by NewConnectionError("Failed to establish a new '
    'connection: [Errno 111] Connection refused"))'
)


def test_sphinx_failing_to_download_an_inventory_is_a_network_finding() -> None:
    [found] = hermeticity.network_attempts(SPHINX_WARNING, "docs")
    assert found.kind == "network" and "intersphinx inventory" in found.explanation
    assert "run `pyrel lock`" in found.explanation and "intersphinx = false" in found.explanation
    assert (
        hermeticity.network_attempts("build succeeded.\nloading intersphinx inventory 'x' from /nix/store/y", "docs")
        == []
    )


@pytest.mark.parametrize(
    "line",
    [
        SPHINX_WARNING,
        "socket.gaierror: [Errno -3] Temporary failure in name resolution",
        "urllib3.exceptions.NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused",
    ],
)
def test_a_network_hint_never_says_to_add_a_package(line: str) -> None:
    for found in hermeticity.classify(line, "test"):
        assert found.kind == "network"
        assert "add Python packages" not in found.explanation and "Debian packages to" not in found.explanation


def test_a_successful_stages_network_attempt_is_found_and_remembered(tmp_path: Path) -> None:
    output = tmp_path / "store" / "abc-demo-docs"
    output.mkdir(parents=True)
    (output / "sphinx-html.log").write_text(SPHINX_WARNING)
    graph: Any = types.SimpleNamespace(project=types.SimpleNamespace(root=tmp_path))
    [found] = build._network_findings(graph, "docs", str(output), "")
    assert found.kind == "network"
    (output / "sphinx-html.log").write_text("")  # the same output, its logs unchanged in truth: remembered
    assert build._network_findings(graph, "docs", str(output), "") == (found,)
    clean = tmp_path / "store" / "def-demo-docs"
    clean.mkdir()
    assert build._network_findings(graph, "docs", str(clean), "build succeeded.") == ()


def test_every_build_of_an_opted_out_stage_says_so() -> None:
    assert build.stage_notices(_project({"intersphinx": False}).stage("docs")) == (build.INTERSPHINX_OFF,)
    assert build.stage_notices(_project().stage("docs")) == ()
    assert build.stage_notices(_project().stage("source")) == ()
    # ... every build of it that ran: a docs stage aborted by a failed input loaded nothing.
    project = _project({"intersphinx": False})
    ran, aborted = (
        build.Result("docs", build.Status.SUCCESS),
        build.Result("docs", build.Status.ABORTED, "wheel failed"),
    )
    assert [result.notices for result in build.with_stage_notices(project, [ran, aborted])] == [
        (build.INTERSPHINX_OFF,),
        (),
    ]


# --- audit and provenance ------------------------------------------------------------------------


def test_the_audit_counts_inventories_and_records_the_opt_out() -> None:
    project = _project()
    index = closures.path_index(project, _lock(project, (_inventory(),)))
    entry = index.classify("/nix/store/0000-intersphinx-upstream-objects.inv", 10)
    assert entry.role == "artifact" and entry.components == ("inventory:upstream=2.1",)
    component = closures.inventory_component(_inventory())
    assert component.purl == f"pkg:generic/intersphinx-upstream@2.1?checksum=sha256:{_inventory().sha256}"

    off = closures.intersphinx_audit(_project({"intersphinx": False}).stage("docs"), ())
    pinned = closures.intersphinx_audit(project.stage("docs"), (_inventory(),))
    assert closures.intersphinx_audit(project.stage("source"), ()) is None
    assert off is not None and pinned is not None
    assert off.to_json() == {"enabled": False, "inventories": []}
    assert closures.IntersphinxAudit.from_json(pinned.to_json(), "") == pinned
    empty = closures.Closure((), ())
    audit = closures.AuditReport(
        "demo", (closures.StageAudit("docs", "d.drv", "out", False, empty, empty, intersphinx=off),)
    )
    assert closures.AuditReport.from_json(json.loads(json.dumps(audit.to_json()))) == audit
    caption = str(report.summary_table(audit).caption)
    assert "docs: intersphinx = false" in caption


def test_the_provenance_names_each_inventory() -> None:
    project = _project()
    dependencies = stage_dependencies(_lock(project, (_inventory(),)), "docs")
    assert dependencies[-1] == {
        "name": "intersphinx-upstream-objects.inv",
        "uri": closures.inventory_component(_inventory()).purl,
        "digest": {"sha256": _inventory().sha256},
        "downloadLocation": f"{TARGET}/objects.inv",
    }
