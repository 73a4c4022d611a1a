"""What the built-in `wheel`, `docs` and `test` stages run inside the sandbox.

Static part of pyrel's Nix library, run by the stage's own pinned Python:

    python "$pyrelTools/stage_tools.py" wheel [--repair]
    python "$pyrelTools/stage_tools.py" test
    python "$pyrelTools/stage_tools.py" docs --sphinx-dir docs --name N --version V --builders html
    python "$pyrelTools/stage_tools.py" mkdocs --config-file mkdocs.yml --name N --version V [--strict]

``wheel`` builds the wheel from the `source` stage's sdist (read-only input,
unpacked in $TMPDIR) with pyrel's PEP 517 frontend, normalizes it, checks a
compiled one against the manylinux policy of the stage's glibc (auditwheel;
``--repair`` vendors what the policy does not allow), and runs the checks an
upload would fail (``twine check``'s: valid metadata, a README that renders);
``$out/wheel-checks.json`` records what was checked and done.  ``test``
installs exactly that wheel (the `wheel` stage's read-only output), records its
sha256 and the installed files checked against its RECORD, and runs pytest
from the sdist's tree; failures are recorded in ``$out/exit-code`` so the
report is exported either way.  ``docs`` installs the same wheel (for
autodoc), runs Sphinx per builder and writes deterministic archives; ``mkdocs``
does the same with ``mkdocs build`` for an MkDocs site (mkdocstrings imports the wheel).

The wheel stage's time is mostly this runner's: what only the test and docs runners use
(zipfile, the archive writer) is imported where they use it, so that ``wheel`` starts the
backend sooner, and loads its checks (wheel_checks.py) while the backend builds.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import json
import os
import re
import shutil
import subprocess
import sys

from stage_common import fail, file_sha256, record_digest, run, start, unpack_sdist

TEST_DIRS = ("tests", "test", "testing")
#: What the wheel stage writes beside the wheel, and the test stage beside its reports.
WHEEL_CHECKS = "wheel-checks.json"
INSTALLED_WHEEL = "installed-wheel.json"


def site_headers(prefix: str) -> str:
    """The headers scheme's directory of the environment at ``prefix`` (sysconfig's, in a venv)."""
    return os.path.join(prefix, "include", "site", f"python{sys.version_info.major}.{sys.version_info.minor}")


def headers_dir(prefix: str, data: str) -> str:
    """Where the headers scheme of ``<name>-<version>.data`` goes in the environment at ``prefix``."""
    return os.path.join(site_headers(prefix), os.path.basename(data).split("-")[0])


def unpack_wheel(wheel: str, site: str, bin_dir: str, python: str) -> None:
    """``wheel`` installed as an installer would, in the environment whose ``bin`` is ``bin_dir``: the data
    scheme at its prefix (``sys.prefix``), the headers scheme under its ``include/site``."""
    import zipfile

    prefix = os.path.dirname(bin_dir)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    for data in glob.glob(os.path.join(site, "*.data")):
        for scheme in ("purelib", "platlib"):
            if os.path.isdir(os.path.join(data, scheme)):
                shutil.copytree(os.path.join(data, scheme), site, dirs_exist_ok=True)
        if os.path.isdir(os.path.join(data, "scripts")):
            shutil.copytree(os.path.join(data, "scripts"), bin_dir, dirs_exist_ok=True)
        if os.path.isdir(os.path.join(data, "data")):
            shutil.copytree(os.path.join(data, "data"), prefix, dirs_exist_ok=True)
        if os.path.isdir(os.path.join(data, "headers")):
            shutil.copytree(os.path.join(data, "headers"), headers_dir(prefix, data), dirs_exist_ok=True)
        shutil.rmtree(data)
    os.makedirs(bin_dir, exist_ok=True)
    # The same wrapper writer the Nix library uses for dependency wheels.
    subprocess.run([python, "-B", os.environ["consoleScripts"], site, bin_dir], check=True)


def make_venv(work: str, sites: list[str]) -> str:
    """A writable venv over the stage's Python: ``sites`` first, then the stage's wheels.

    Like the stage's own environment it needs no PYTHONPATH, so tools run in
    a cleaned environment (mypy under pytest plugins) still import everything.
    """
    venv = os.path.join(work, "venv")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    site = os.path.join(venv, "lib", f"python{version}", "site-packages")
    os.makedirs(site)
    os.makedirs(os.path.join(venv, "bin"), exist_ok=True)
    home = os.path.dirname(os.path.realpath(sys.executable))
    with open(os.path.join(venv, "pyvenv.cfg"), "w", encoding="utf-8") as config:
        config.write(f"home = {home}\ninclude-system-site-packages = false\nversion = {version}\n")
    python = os.path.join(venv, "bin", "python")
    os.symlink(os.path.realpath(sys.executable), python)
    stage_paths = [path for path in sys.path if path.endswith("/site") and path.startswith(os.sep)]
    with open(os.path.join(site, "pyrel.pth"), "w", encoding="utf-8") as pth:
        pth.write("".join(f"{path}\n" for path in [*sites, *stage_paths]))
    return python


def project_wheel(stage: str) -> str:
    """The wheel stage's wheel: the one file its read-only output holds."""
    wheels = sorted(glob.glob(os.path.join(os.environ.get("PYREL_INPUT_wheel", ""), "*.whl")))
    if len(wheels) != 1:
        fail(
            f"the {stage} stage installs the one wheel of the wheel stage ($PYREL_INPUT_wheel), found {wheels}: "
            f'its inputs must include "wheel"'
        )
    return wheels[0]


def install_wheel(wheel: str, work: str) -> tuple[str, dict[str, str]]:
    """A venv that imports ``wheel`` (unpacked as an installer would) and the stage's own wheels."""
    site = os.path.join(work, "site")
    bin_dir = os.path.join(work, "venv", "bin")
    python = make_venv(work, [site])
    unpack_wheel(wheel, site, bin_dir, python)
    # The stage's console scripts run the stage's Python: give the venv its own; and its wheels' data and
    # headers, which the stage's environment has at its own prefix (python-env.sh).
    for wheel_site in [path for path in sys.path if path.endswith("/site") and path.startswith(os.sep)]:
        subprocess.run([python, "-B", os.environ["consoleScripts"], wheel_site, bin_dir], check=True)
        link_tree(os.path.join(os.path.dirname(wheel_site), "data"), os.path.dirname(bin_dir))
        link_tree(os.path.join(os.path.dirname(wheel_site), "headers"), site_headers(os.path.dirname(bin_dir)))
    return python, {"PATH": os.pathsep.join([bin_dir, os.environ["PATH"]])}


def link_tree(source: str, target: str) -> None:
    """Link every file under ``source`` at the same place under ``target``; a file there already is an error."""
    for directory, _, names in os.walk(source):
        for name in names:
            origin = os.path.join(directory, name)
            destination = os.path.join(target, os.path.relpath(origin, source))
            if os.path.lexists(destination):
                fail(f"two wheels of the stage install {os.path.relpath(destination, target)} (the second: {source})")
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            os.symlink(origin, destination)


def distribution_name(wheel: str) -> str:
    return os.path.basename(wheel).split("-", 1)[0]


def installed(arguments: argparse.Namespace) -> None:
    """Run by the venv's Python: the distribution it imports, every installed file checked against RECORD.

    Prints JSON; exits 1 naming the files that differ.  The data and headers schemes are checked where
    they were installed (under ``sys.prefix``); ``.data/scripts`` are counted, not checked (installers
    rewrite their ``#!`` line).
    """
    import importlib.metadata  # imported here: the wheel stage never needs it, and it costs ~20 ms

    found = importlib.metadata.distribution(arguments.name)
    checked, elsewhere, differing = 0, 0, []
    for entry in found.files or []:
        if entry.hash is None:
            continue
        parts = entry.parts
        if parts[0].endswith(".data"):
            if len(parts) >= 3 and parts[1] in ("purelib", "platlib"):
                path = str(found.locate_file(os.path.join(*parts[2:])))
            elif len(parts) >= 3 and parts[1] == "data":
                path = os.path.join(sys.prefix, *parts[2:])
            elif len(parts) >= 3 and parts[1] == "headers":
                path = os.path.join(headers_dir(sys.prefix, parts[0]), *parts[2:])
            else:  # scripts: installers rewrite their #! line
                elsewhere += 1
                continue
        else:
            path = str(entry.locate())
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError:
            differing.append(f"{entry} (missing)")
            continue
        if entry.hash.mode != "sha256" or record_digest(data) != entry.hash.value:
            differing.append(str(entry))
        checked += 1
    if differing or not checked:
        fail(f"the installed {arguments.name} differs from its wheel's RECORD: {', '.join(differing) or 'no file'}")
    print(
        json.dumps(
            {
                "distribution": found.metadata["Name"],
                "version": found.version,
                "files-checked": checked,
                "files-outside-site-packages": elsewhere,
            }
        )
    )


def installed_wheel_record(python: str, wheel: str, environment: dict[str, str]) -> dict[str, object]:
    """The test stage's proof of what it tested: the wheel's sha256 (as dist/wheel/SHA256SUMS lists it) and
    the installed distribution, as the tests' interpreter imports it, checked file by file against RECORD."""
    completed = subprocess.run(
        [python, os.path.abspath(__file__), "installed", distribution_name(wheel)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        fail(f"the installed project does not match {os.path.basename(wheel)}")
    return {
        "schema-version": 1,
        "wheel": os.path.basename(wheel),
        "sha256": file_sha256(wheel),
        **json.loads(completed.stdout),
    }


def wheel_top_level(wheel: str) -> set[str]:
    """The import names a wheel installs at the top of site-packages (packages, modules, extensions)."""
    import zipfile

    names: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if parts[0].endswith(".data") and len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                parts = parts[2:]
            elif parts[0].endswith((".dist-info", ".data")):
                continue
            names.add(parts[0] if len(parts) > 1 else parts[0].split(".", 1)[0])
    return names


#: Left out of the tests' copy of the tree: build leftovers and caches.
RUN_DIR_IGNORED = (
    "build",
    "dist",
    ".git",
    ".hg",
    ".tox",
    ".nox",
    ".eggs",
    "__pycache__",
    ".pytest_cache",
    "*.egg-info",
    "*.pyc",
)
_MODULE_SUFFIXES = (".py", ".so", ".pyd", ".pyi")


def copy_run_dir(origin: str, run_dir: str, shadowing: set[str]) -> None:
    """Copy the project tree for the tests (data files, docs, examples and config included), leaving out
    what would shadow the installed wheel: its top-level packages and modules at the root and in ``src/``.
    """
    leftovers = shutil.ignore_patterns(*RUN_DIR_IGNORED)
    tops = {os.path.normpath(origin), os.path.normpath(os.path.join(origin, "src"))}

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(leftovers(directory, names))
        if os.path.normpath(directory) in tops:
            for name in names:
                is_dir = os.path.isdir(os.path.join(directory, name))
                if (name in shadowing and is_dir) or (
                    not is_dir and name.endswith(_MODULE_SUFFIXES) and name.split(".", 1)[0] in shadowing
                ):
                    ignored.add(name)
        return ignored

    shutil.copytree(origin, run_dir, ignore=ignore, symlinks=True)
    # A tree copied from the read-only store stays read-only: tests may write beside their files.
    for directory, _, files in os.walk(run_dir):
        for path in [directory, *(os.path.join(directory, name) for name in files)]:
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o200)


def _test_tree(directory: str) -> str | None:
    for name in TEST_DIRS:
        if os.path.isdir(os.path.join(directory, name)):
            return name
    return None


def _tests_and_origin(named: list[str], trees: list[str]) -> tuple[str, list[str]]:
    """The first of ``trees`` (the sdist's, the project's) that holds the tests, and the tests: ``named``
    (``--tests``: directories or files), else its test tree."""
    for tree in trees:
        tests = named or [found for found in [_test_tree(tree)] if found]
        if tests and all(os.path.exists(os.path.join(tree, test)) for test in tests):
            return tree, tests
    what = ", ".join(named) if named else "test tree (tests/, test/ or testing/)"
    fail(
        f"no {what} in the sdist or the project: name the tests with `--tests PATH` (repeatable: a "
        'directory or a test module) in the test stage\'s run, python "$pyrelTools/stage_tools.py" test '
        "--tests PATH, or set its `run` to the command that runs them"
    )


def test(arguments: argparse.Namespace) -> None:
    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-test")
    _, project_dir = unpack_sdist(work, "test")
    wheel = project_wheel("test")
    python, path = install_wheel(wheel, work)
    environment = {**os.environ, **path}
    with open(os.path.join(out, INSTALLED_WHEEL), "w", encoding="utf-8") as record:
        json.dump(installed_wheel_record(python, wheel, environment), record, indent=1, sort_keys=True)
        record.write("\n")

    # Test the installed artifact, not the package sources beside the tests: the tests run in a copy
    # of the sdist's tree (else the project's) without the packages the wheel installs.
    origin, tests = _tests_and_origin(arguments.tests, [project_dir, os.getcwd()])
    run_dir = os.path.join(work, "run")
    copy_run_dir(origin, run_dir, wheel_top_level(wheel) - {test.split("/")[0].removesuffix(".py") for test in tests})
    command = [
        python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-o",
        "junit_family=xunit2",
        f"--junitxml={os.path.join(out, 'junit.xml')}",
        *arguments.pytest_args,
        *tests,
    ]
    with open(os.path.join(out, "pytest.log"), "w", encoding="utf-8") as log:
        process = start(command, cwd=run_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        status = process.wait()
    with open(os.path.join(out, "exit-code"), "w", encoding="utf-8") as record:
        record.write(f"{status}\n")
    if not os.path.isfile(os.path.join(out, "junit.xml")):
        fail(no_report_message(status))
    without_timings(os.path.join(out, "junit.xml"), os.path.join(out, "pytest.log"))


def no_report_message(status: int) -> str:
    """Why pytest ran no test, and what to change: often an older project meets the newest pytest."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("pytest")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return (
        f"pytest stopped before running any test (exit {status}, no junit report; its error is above). "
        f"If a conftest.py, plugin or pytest option does not work with the locked pytest {version}, "
        'resolve the test tools the project was released with: set exclude-newer = "<the release\'s date>" '
        'in [tool.pyrel], or declare [tool.pyrel.stages.test].requires with e.g. "pytest<'
        + version.split(".")[0]
        + '", then run `pyrel lock`'
    )


#: What differs between two runs of the same tests: wall-clock times, the date, the host.
_JUNIT_VOLATILE = re.compile(r' (?:time="[0-9.]+"|timestamp="[^"]*"|hostname="[^"]*")')
_PYTEST_DURATION = re.compile(r" in [0-9.]+s(?: \([0-9:]+\))?(?= =*$)", re.MULTILINE)


def without_timings(junit: str, log: str) -> None:
    """Exported test reports are release artifacts: the same tests give the same bytes.

    The timings are left in the build log (Nix keeps it), not in the reports.
    """
    with open(junit, encoding="utf-8") as stream:
        text = _JUNIT_VOLATILE.sub("", stream.read())
    with open(junit, "w", encoding="utf-8") as stream:
        stream.write(text)
    with open(log, encoding="utf-8") as stream:
        text = _PYTEST_DURATION.sub("", stream.read())
    with open(log, "w", encoding="utf-8") as stream:
        stream.write(text)


#: What tells that a LaTeX run must be repeated (cross-references, the index, the table of contents).
RERUN = ("Rerun to get", "Label(s) may have changed", "There were undefined references")


def latex_to_pdf(directory: str, max_runs: int = 4) -> bool:
    """What Sphinx's latexpdf does through make and latexmk, without either.

    Neither is among the stage's locked tools (and both go through a shell);
    this runs the engine Sphinx chose (latex_engine, which its Makefile passes to latexmk)
    and makeindex directly, until the log stops asking for another run.  The
    PDFs are left beside the .tex files.
    """
    engine = "pdflatex"
    makefile = os.path.join(directory, "Makefile")
    if os.path.isfile(makefile):
        with open(makefile, encoding="utf-8") as stream:
            flags = next((line.split() for line in stream if line.startswith("PDFLATEX")), [])
        engine = "xelatex" if "-pdfxe" in flags else "lualatex" if "-pdflua" in flags else engine
    for tex in sorted(name for name in os.listdir(directory) if name.endswith(".tex")):
        stem = tex[: -len(".tex")]
        log = os.path.join(directory, stem + ".log")
        for attempt in range(max_runs):
            result = run(
                [engine, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", tex],
                cwd=directory,
                capture_output=True,
            )
            if result.returncode != 0:
                sys.stderr.write(result.stdout[-6000:])
                print(f"pyrel: {engine} failed on {tex}", file=sys.stderr)
                return False
            if attempt == 0 and os.path.isfile(os.path.join(directory, stem + ".idx")):
                style = ["-s", "python.ist"] if os.path.isfile(os.path.join(directory, "python.ist")) else []
                if run(["makeindex", *style, stem + ".idx"], cwd=directory).returncode != 0:
                    return False
                continue
            with open(log, encoding="utf-8", errors="replace") as stream:
                if not any(marker in stream.read() for marker in RERUN):
                    break
    return True


def export_pdfs(build_dir: str, out: str, prefix: str) -> None:
    """The PDFs themselves, what a release publishes: ``<name>-<version>.pdf``, or with each
    document's name when conf.py's latex_documents makes several (the tarball keeps the LaTeX run)."""
    pdfs = sorted(name for name in os.listdir(build_dir) if name.endswith(".pdf"))
    if not pdfs:
        fail(f"the LaTeX run wrote no PDF in {build_dir}")
    for name in pdfs:
        target = f"{prefix}.pdf" if len(pdfs) == 1 else f"{prefix}-{name}"
        shutil.copyfile(os.path.join(build_dir, name), os.path.join(out, target))


def docs(arguments: argparse.Namespace) -> None:
    from normalize_archives import write_tar_gz

    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-docs")
    environment = dict(os.environ)
    python = sys.executable
    # The project for autodoc is the wheel stage's wheel; a docs stage declared without that input
    # documents the tree alone.
    if os.environ.get("PYREL_INPUT_wheel"):
        python, path = install_wheel(project_wheel("docs"), work)
        environment.update(path)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    failed = False
    for builder in arguments.builders.split(","):
        build_dir = os.path.join(work, f"docs-{builder}")
        warnings = os.path.join(out, f"sphinx-{builder}.log")
        strict = ["-W", "--keep-going"] if arguments.fail_on_warning else []
        sphinx_builder = "latex" if builder == "latexpdf" else builder
        # `python -m sphinx` with pyrel's extension: intersphinx reads the pinned inventories, never the network.
        offline = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sphinx_offline.py")
        command = [
            python,
            offline,
            "build",
            "-b",
            sphinx_builder,
            "-d",
            os.path.join(work, "doctrees"),
            "-w",
            warnings,
            *strict,
            arguments.sphinx_dir,
            build_dir,
        ]
        result = run(command, env=environment)
        if result.returncode != 0:
            failed = True
            continue
        if builder == "latexpdf" and not latex_to_pdf(build_dir):
            failed = True
            continue
        prefix = f"{arguments.name}-{arguments.version}-docs-{builder}"
        write_tar_gz(build_dir, os.path.join(out, f"{prefix}.tar.gz"), prefix, epoch)
        if builder == "latexpdf":
            export_pdfs(build_dir, out, f"{arguments.name}-{arguments.version}")
    if failed:
        fail("Sphinx failed (see its output above)")


#: mkdocs' warnings and errors, written beside the site's archive (Sphinx's -w file, for MkDocs).
MKDOCS_LOG = "mkdocs.log"


def mkdocs(arguments: argparse.Namespace) -> None:
    """An MkDocs site: the wheel stage's wheel installed (mkdocstrings imports the project), ``mkdocs build``
    (``--strict`` for fail-on-warning), the site archived like Sphinx's HTML, mkdocs' warnings beside it."""
    from normalize_archives import write_tar_gz

    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-mkdocs")
    environment = dict(os.environ)
    python = sys.executable
    if os.environ.get("PYREL_INPUT_wheel"):
        python, path = install_wheel(project_wheel("docs"), work)
        environment.update(path)
    # mkdocs imports every plugin mkdocs.yml lists, the ones it turns off too; GitPython (the git plugins')
    # refuses to be imported without a git program unless told to stay quiet.
    environment.setdefault("GIT_PYTHON_REFRESH", "quiet")
    site = os.path.join(work, "html")
    command = [
        python,
        os.path.abspath(__file__),
        "mkdocs-run",
        os.path.join(out, MKDOCS_LOG),
        "build",
        "--config-file",
        arguments.config_file,
        "--site-dir",
        site,
        *(["--strict"] if arguments.strict else []),
    ]
    result = run(command, env=environment)
    if result.returncode != 0:
        if arguments.strict:
            fail(
                f"mkdocs build --strict failed (exit {result.returncode}): with fail-on-warning, a warning stops "
                "the build; the warnings are above"
            )
        fail(f"mkdocs build failed (exit {result.returncode}; its output is above)")
    prefix = f"{arguments.name}-{arguments.version}-docs-html"
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    write_tar_gz(site, os.path.join(out, f"{prefix}.tar.gz"), prefix, epoch)


def mkdocs_run(arguments: argparse.Namespace) -> None:
    """Run by the venv's Python: mkdocs' command line, what it logs at WARNING and above also written to a file.

    Every plugin logs under the ``mkdocs`` logger (``mkdocs.plugins.*``, griffe through mkdocstrings): the
    records ``--strict`` counts.
    """
    import logging

    handler = logging.FileHandler(arguments.log, mode="w", encoding="utf-8")
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))
    logging.getLogger("mkdocs").addHandler(handler)
    cli = importlib.import_module("mkdocs.__main__").cli
    cli.main(args=arguments.mkdocs_args, prog_name="mkdocs")


def wheel(arguments: argparse.Namespace) -> None:
    """The project's wheel from the source stage's sdist: built, normalized, checked, and recorded."""
    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-wheel")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    sdist, project_dir = unpack_sdist(work, "wheel")
    missing = [
        entry
        for entry in json.loads(os.environ.get("PYREL_BACKEND_PATH") or "[]")
        if not os.path.isdir(os.path.join(project_dir, entry))
    ]
    if missing:
        fail(
            f"{sdist} lacks the in-tree build backend (backend-path {', '.join(missing)}): the wheel is built "
            "from the sdist, as installers build it, so the sdist must ship its backend: include the directory "
            "in the sdist (flit: [tool.flit.sdist] include; setuptools: MANIFEST.in; hatch: "
            "[tool.hatch.build.targets.sdist] include)"
        )
    built_dir = os.path.join(work, "built")
    frontend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pep517.py")
    command = [sys.executable, frontend, "wheel", built_dir]
    backend = start(command, cwd=project_dir)
    # While the backend builds in its own process, this one loads the checks and what they import
    # (packaging compiles its regular expressions on import, ~50 ms): on a second core, off the path.
    import wheel_checks

    checkers = wheel_checks.upload_checkers()
    returncode = backend.wait()
    if returncode != 0:
        fail(f"the build backend failed to build the wheel from {sdist} (exit {returncode}; its output is above)")
    built = glob.glob(os.path.join(built_dir, "*.whl"))
    if len(built) != 1:
        fail(f"expected one wheel, the backend wrote {built}")
    release, done = wheel_checks.release_candidate(built[0], work, repair=arguments.repair, epoch=epoch)
    checks: dict[str, object] = {"schema-version": 1, "sdist": sdist, **done}
    problems, warnings = wheel_checks.upload_problems(release, checkers)
    refused = f"{os.path.basename(release)} would be refused on upload (the checks of `twine check`)"
    if problems and arguments.upload_check != "warn":
        fail(
            f"{refused}:\n  "
            + "\n  ".join(problems)
            + "\nThe metadata is the build backend's, written from the project's configuration: fix the field or "
            "the README there, or, for a field the backend writes wrongly, require a newer release of it. To build "
            'and test a release already on the index, set upload-check = "warn" in [tool.pyrel.stages.wheel]: the '
            "problems are then recorded, and `pyrel verify --artifacts` refuses to publish the wheel"
        )
    checks["upload-check"] = {
        "passed": not problems,
        # upload-check = "warn": what an upload would be refused for is recorded, not enforced here;
        # `pyrel verify --artifacts` (the publish job's gate) refuses such a wheel.
        "enforced": arguments.upload_check != "warn",
        "problems": problems,
        "warnings": warnings,
        "checked": [
            "metadata (packaging.metadata)",
            "README (readme_renderer)",
            "name and version against the file name",
        ],
    }
    for problem in problems:
        print(f"pyrel: warning: {refused} (upload-check = warn): {problem}", file=sys.stderr)
    for warning in warnings:
        print(f"pyrel: warning: {warning}", file=sys.stderr)
    target = os.path.join(out, os.path.basename(release))
    shutil.copyfile(release, target)
    checks.update({"wheel": os.path.basename(release), "sha256": file_sha256(target)})
    with open(os.path.join(out, WHEEL_CHECKS), "w", encoding="utf-8") as stream:
        json.dump(checks, stream, indent=1, sort_keys=True)
        stream.write("\n")
    print(f"pyrel: wheel {os.path.basename(release)} (sha256 {checks['sha256']})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="stage_tools")
    commands = parser.add_subparsers(dest="command", required=True)
    test_parser = commands.add_parser("test")
    test_parser.add_argument("--tests", action="append", default=[])
    test_parser.add_argument("pytest_args", nargs="*")
    docs_parser = commands.add_parser("docs")
    docs_parser.add_argument("--sphinx-dir", required=True)
    docs_parser.add_argument("--name", required=True)
    docs_parser.add_argument("--version", required=True)
    docs_parser.add_argument("--builders", default="html")
    docs_parser.add_argument("--fail-on-warning", action="store_true")
    mkdocs_parser = commands.add_parser("mkdocs")
    mkdocs_parser.add_argument("--config-file", default="mkdocs.yml")
    mkdocs_parser.add_argument("--name", required=True)
    mkdocs_parser.add_argument("--version", required=True)
    mkdocs_parser.add_argument("--strict", action="store_true")
    mkdocs_run_parser = commands.add_parser("mkdocs-run")
    mkdocs_run_parser.add_argument("log")
    mkdocs_run_parser.add_argument("mkdocs_args", nargs=argparse.REMAINDER)
    wheel_parser = commands.add_parser("wheel")
    wheel_parser.add_argument("--repair", action="store_true")
    wheel_parser.add_argument("--upload-check", choices=("error", "warn"), default="error")
    installed_parser = commands.add_parser("installed")
    installed_parser.add_argument("name")
    arguments = parser.parse_args()
    {"test": test, "docs": docs, "mkdocs": mkdocs, "mkdocs-run": mkdocs_run, "wheel": wheel, "installed": installed}[
        arguments.command
    ](arguments)


if __name__ == "__main__":
    main()
