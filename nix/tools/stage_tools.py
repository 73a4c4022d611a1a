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
"""

from __future__ import annotations

import argparse
import base64
import csv
import glob
import hashlib
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import NoReturn

from normalize_archives import normalize_zip, write_tar_gz

TEST_DIRS = ("tests", "test", "testing")
#: What the wheel stage writes beside the wheel, and the test stage beside its reports.
WHEEL_CHECKS = "wheel-checks.json"
INSTALLED_WHEEL = "installed-wheel.json"


def fail(message: str) -> NoReturn:
    print(f"pyrel: {message}", file=sys.stderr)
    sys.exit(1)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, text=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def site_headers(prefix: str) -> str:
    """The headers scheme's directory of the environment at ``prefix`` (sysconfig's, in a venv)."""
    return os.path.join(prefix, "include", "site", f"python{sys.version_info.major}.{sys.version_info.minor}")


def headers_dir(prefix: str, data: str) -> str:
    """Where the headers scheme of ``<name>-<version>.data`` goes in the environment at ``prefix``."""
    return os.path.join(site_headers(prefix), os.path.basename(data).split("-")[0])


def unpack_wheel(wheel: str, site: str, bin_dir: str, python: str) -> None:
    """``wheel`` installed as an installer would, in the environment whose ``bin`` is ``bin_dir``: the data
    scheme at its prefix (``sys.prefix``), the headers scheme under its ``include/site``."""
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


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_digest(data: bytes) -> str:
    """A RECORD hash: urlsafe base64 of the sha256, unpadded (the wheel spec)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


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


def unpack_sdist(work: str, stage: str) -> tuple[str, str]:
    """The source stage's sdist (read-only input) unpacked in ``work``: its name, and its tree."""
    sdists = sorted(glob.glob(os.path.join(os.environ.get("PYREL_INPUT_source", ""), "*.tar.gz")))
    if len(sdists) != 1:
        fail(f"the {stage} stage reads one sdist from the source stage ($PYREL_INPUT_source), found {sdists}")
    unpacked = os.path.join(work, "sdist")
    with tarfile.open(sdists[0]) as archive:
        archive.extractall(unpacked)
    [project_dir] = [os.path.join(unpacked, name) for name in os.listdir(unpacked)]
    return os.path.basename(sdists[0]), project_dir


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

    # Test the installed artifact, not the package sources beside the tests:
    # the tests run in a copy of the tree without the packages the wheel installs.
    origin = project_dir if (arguments.tests or _test_tree(project_dir)) else os.getcwd()
    tree = arguments.tests or _test_tree(origin)
    if tree is None or not os.path.isdir(os.path.join(origin, tree)):
        fail(
            "no test tree (tests/, test/ or testing/) in the sdist or the project; "
            "set the test stage's `run` to the command that runs the tests"
        )
    run_dir = os.path.join(work, "run")
    copy_run_dir(origin, run_dir, wheel_top_level(wheel) - {tree.split("/")[0]})
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
        tree,
    ]
    print("+ " + " ".join(command), flush=True)
    with open(os.path.join(out, "pytest.log"), "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, cwd=run_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
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
    print("+ " + " ".join(command), flush=True)
    backend = subprocess.Popen(command, cwd=project_dir)
    # While the backend builds in its own process, this one loads what the upload checks need
    # (packaging compiles its regular expressions on import, ~50 ms): on a second core, off the path.
    checkers = upload_checkers()
    returncode = backend.wait()
    if returncode != 0:
        fail(f"the build backend failed to build the wheel from {sdist} (exit {returncode}; its output is above)")
    built = glob.glob(os.path.join(built_dir, "*.whl"))
    if len(built) != 1:
        fail(f"expected one wheel, the backend wrote {built}")
    # Normalized before the checks, so that what is checked is what is released (the stage's
    # normalizer, run again on $out, leaves it as it is).
    normalize_zip(built[0], epoch)
    checks: dict[str, object] = {"schema-version": 1, "sdist": sdist}
    release = built[0]
    if is_platform_wheel(release):
        release, checks["manylinux"] = manylinux(release, work, repair=arguments.repair, epoch=epoch)
    problems, warnings = upload_problems(release, checkers)
    if problems:
        fail(
            f"{os.path.basename(release)} would be refused on upload (the checks of `twine check`):\n  "
            + "\n  ".join(problems)
        )
    checks["upload-check"] = {
        "passed": True,
        "warnings": warnings,
        "checked": [
            "metadata (packaging.metadata)",
            "README (readme_renderer)",
            "name and version against the file name",
        ],
    }
    for warning in warnings:
        print(f"pyrel: warning: {warning}", file=sys.stderr)
    target = os.path.join(out, os.path.basename(release))
    shutil.copyfile(release, target)
    checks.update({"wheel": os.path.basename(release), "sha256": file_sha256(target)})
    with open(os.path.join(out, WHEEL_CHECKS), "w", encoding="utf-8") as stream:
        json.dump(checks, stream, indent=1, sort_keys=True)
        stream.write("\n")
    print(f"pyrel: wheel {os.path.basename(release)} (sha256 {checks['sha256']})", flush=True)


def wheel_platforms(wheel: str) -> list[str]:
    return os.path.basename(wheel)[: -len(".whl")].rsplit("-", 1)[-1].split(".")


def is_platform_wheel(wheel: str) -> bool:
    """A wheel for a platform (compiled code inside), not one for any."""
    return any(platform != "any" for platform in wheel_platforms(wheel))


def _policy_version(tag: str) -> tuple[int, int] | None:
    """(2, 36) of ``manylinux_2_36_<machine>``; None for ``linux_<machine>`` (no policy)."""
    match = re.match(r"^manylinux_(\d+)_(\d+)_", tag)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _consistent(found: str, target: str) -> bool:
    """A wheel consistent with ``found`` satisfies ``target``: PEP 600 policies of an older glibc are stricter."""
    found_version, target_version = _policy_version(found), _policy_version(target)
    return found_version is not None and target_version is not None and found_version <= target_version


def library_dirs(platform_tag: str) -> str:
    """Where the stage's root keeps its libraries (auditwheel's --ldpaths, replacing the host's /lib, /usr/lib):
    the Nix library gives them, for the plan's system (``pyrelLibraryPath``, nix/platforms.json's layout)."""
    root = os.environ.get("root", "")
    return os.environ.get("pyrelLibraryPath") or ":".join(
        os.path.join(root, directory) for directory in ("lib", "usr/lib")
    )


def auditwheel_show(wheel: str, platform_tag: str) -> dict[str, object]:
    """``auditwheel show --json``: the policy the wheel is consistent with, and what each stricter one lacks."""
    completed = run(
        [sys.executable, "-m", "auditwheel", "show", "--json", "--ldpaths", library_dirs(platform_tag), wheel],
        capture_output=True,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        sys.stderr.write(completed.stdout + completed.stderr)
        if "No module named auditwheel" in completed.stderr:
            fail(
                "a compiled wheel is checked with auditwheel, which the wheel stage's lock does not hold: add "
                '"auditwheel" to [tool.pyrel.stages.wheel].extra-requires and run `pyrel lock`'
            )
        fail(f"auditwheel show failed on {os.path.basename(wheel)} (exit {completed.returncode})")
    try:
        shown: dict[str, object] = json.loads(completed.stdout)
    except ValueError:
        sys.stderr.write(completed.stdout + completed.stderr)
        fail(f"auditwheel show --json printed no JSON for {os.path.basename(wheel)}")
    return shown


def policy_problems(shown: dict[str, object], platform_tag: str) -> tuple[list[str], list[str]]:
    """Why the wheel is not consistent with ``platform_tag``, and the libraries a repair would vendor."""
    if "error" in shown:
        return [str(shown["error"])], []
    upgrades = shown.get("policy_upgrades")
    upgrade = upgrades.get(platform_tag, {}) if isinstance(upgrades, dict) else {}
    libraries = sorted(upgrade.get("libs_to_eliminate", []))
    problems = [
        f"it loads {library} from the system, which the {platform_tag} policy does not allow "
        "(a wheel may load only glibc's libraries, libstdc++, libgcc_s, libz and a few more; "
        "auditwheel's policy list)"
        for library in libraries
    ]
    for library, symbols in sorted(upgrade.get("blacklisted_symbols", {}).items()):
        problems.append(f"it uses {', '.join(symbols)} of {library}, which the {platform_tag} policy forbids")
    overall = str(shown.get("overall_tag", ""))
    if not problems and not _consistent(overall, platform_tag):
        if shown.get("unsupported_isa"):
            problems.append("it needs instructions beyond the architecture's baseline")
        if shown.get("pyfpe") or shown.get("ucs2"):
            problems.append("it uses PyFPE_jbuf or narrow unicode, which no manylinux policy allows")
        if not _consistent(str(shown.get("sym_tag", "")), platform_tag):
            problems.append(
                f"its versioned symbols need a newer system than {platform_tag}: "
                f"{json.dumps(shown.get('versioned_symbols', {}), sort_keys=True)}"
            )
        if not problems:
            problems.append(f"auditwheel finds it consistent only with {overall}")
    return problems, libraries


def manylinux(wheel: str, work: str, *, repair: bool, epoch: int) -> tuple[str, dict[str, object]]:
    """Check a compiled wheel against the manylinux policy of the stage's glibc and give it that tag.

    The policy is the one the plan names (``PYREL_PLATFORM_TAG``, from the lock's glibc and
    architecture).  A wheel that loads a library outside the policy fails, naming it, unless
    ``repair``: then ``auditwheel repair`` vendors exactly those libraries, recorded.  Nothing is
    vendored otherwise; a wheel that needs nothing is retagged as `wheel tags` would.
    """
    platform_tag = os.environ.get("PYREL_PLATFORM_TAG", "")
    if _policy_version(platform_tag) is None:
        fail(f"PYREL_PLATFORM_TAG is {platform_tag!r}, not a manylinux tag: the plan sets it for the wheel stage")
    shown = auditwheel_show(wheel, platform_tag)
    problems, libraries = policy_problems(shown, platform_tag)
    record: dict[str, object] = {
        "policy": platform_tag,
        "consistent-with": shown.get("overall_tag"),
        "libraries-outside-policy": libraries,
        "repaired": False,
    }
    if not problems:
        return retag(wheel, platform_tag, epoch), record
    if not repair or len(problems) != len(libraries):
        hint = (
            (
                "set `repair = true` in [tool.pyrel.stages.wheel] to vendor them into the wheel (auditwheel "
                "repair, recorded in wheel-checks.json), or link them statically"
            )
            if libraries and not repair
            else "rebuild it without what the policy forbids"
        )
        fail(
            f"{os.path.basename(wheel)} does not satisfy the {platform_tag} policy:\n  "
            + "\n  ".join(problems)
            + f"\n{hint}"
        )
    repaired_dir = os.path.join(work, "repaired")
    completed = run(
        [
            sys.executable,
            "-m",
            "auditwheel",
            "repair",
            "--plat",
            platform_tag,
            "--only-plat",
            "--ldpaths",
            library_dirs(platform_tag),
            "-w",
            repaired_dir,
            wheel,
        ]
    )
    repaired = glob.glob(os.path.join(repaired_dir, "*.whl"))
    if completed.returncode != 0 or len(repaired) != 1:
        fail(f"auditwheel repair failed on {os.path.basename(wheel)} (exit {completed.returncode}; output above)")
    normalize_zip(repaired[0], epoch)
    remaining, _ = policy_problems(auditwheel_show(repaired[0], platform_tag), platform_tag)
    if remaining:
        fail(f"the repaired wheel still does not satisfy {platform_tag}: " + "; ".join(remaining))
    with zipfile.ZipFile(repaired[0]) as archive:
        vendored = sorted(
            name for name in archive.namelist() if name.split("/", 1)[0].endswith(".libs") and not name.endswith("/")
        )
    record.update({"repaired": True, "vendored": vendored})
    print(f"pyrel: auditwheel repair vendored {', '.join(vendored)} for {', '.join(libraries)}", flush=True)
    return repaired[0], record


def retag(wheel: str, platform_tag: str, epoch: int) -> str:
    """What `wheel tags --platform-tag` does: the file name, the WHEEL file's tags and RECORD's line for it."""
    directory, name = os.path.split(wheel)
    parts = name[: -len(".whl")].split("-")
    parts[-1] = platform_tag
    target = os.path.join(directory, "-".join(parts) + ".whl")
    with zipfile.ZipFile(wheel) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    [dist_info] = {
        info.filename.split("/", 1)[0]
        for info, _ in entries
        if info.filename.endswith(".dist-info/WHEEL") and info.filename.count("/") == 1
    }
    wheel_name, record_name = f"{dist_info}/WHEEL", f"{dist_info}/RECORD"
    contents = dict((info.filename, data) for info, data in entries)
    tags: list[str] = []
    lines = []
    for line in contents[wheel_name].decode().splitlines(keepends=True):
        if line.startswith("Tag:"):
            interpreter, abi, _ = line.split(":", 1)[1].strip().split("-")
            tag = f"{interpreter}-{abi}-{platform_tag}"
            if tag in tags:
                continue
            tags.append(tag)
            line = f"Tag: {tag}\n"
        lines.append(line)
    contents[wheel_name] = "".join(lines).encode()
    record = []
    for row in csv.reader(io.StringIO(contents[record_name].decode())):
        if row and row[0] == wheel_name:
            row = [wheel_name, f"sha256={record_digest(contents[wheel_name])}", str(len(contents[wheel_name]))]
        record.append(row)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(record)
    contents[record_name] = text.getvalue().encode()
    with zipfile.ZipFile(target, "w") as rewritten:
        for info, _ in entries:
            rewritten.writestr(info, contents[info.filename])
    os.remove(wheel)
    normalize_zip(target, epoch)
    return target


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    import email.message  # imported here: ~15 ms that only this parse needs

    message = email.message.EmailMessage()
    message["content-type"] = value
    return message.get_content_type(), dict(message["content-type"].params)


def upload_checkers() -> ImportError | None:
    """Import what the upload checks use (packaging; readme_renderer is only found: docutils, which renders
    reStructuredText, is imported only for such a README); the ImportError if one is missing."""
    try:
        if "readme_renderer" not in sys.modules and importlib.util.find_spec("readme_renderer") is None:
            raise ImportError("No module named 'readme_renderer'")
        for module in ("packaging.metadata", "packaging.utils", "packaging.version"):
            importlib.import_module(module)
    except ImportError as exc:
        return exc
    return None


def upload_problems(wheel: str, missing: ImportError | None) -> tuple[list[str], list[str]]:
    """What `twine check` checks, and the index refuses on upload: the metadata as packaging validates it,
    its name and version against the file name's, and a reStructuredText README that renders.

    ``missing``: upload_checkers()'s answer. twine is not locked for it: its check is these two
    libraries, and twine brings its upload client along (keyring, cryptography, requests: 31 wheels
    against 5).
    """
    if missing is not None:
        fail(
            f"the wheel stage's upload checks need packaging and readme_renderer ({missing}): declare additions "
            "in [tool.pyrel.stages.wheel].extra-requires rather than replacing `requires`, and run `pyrel lock`"
        )
    from packaging import metadata
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import InvalidVersion, Version

    with zipfile.ZipFile(wheel) as archive:
        found = [name for name in archive.namelist() if name.count("/") == 1 and name.endswith(".dist-info/METADATA")]
        if len(found) != 1:
            return [f"the wheel holds {len(found)} .dist-info/METADATA files, not one"], []
        raw, unparsed = metadata.parse_email(archive.read(found[0]))
    try:
        old_metadata = Version(raw.get("metadata_version", "0")) < Version("2.4")
    except InvalidVersion:
        old_metadata = False
    if old_metadata:
        # As twine does: setuptools writes License-File with Metadata-Version 2.1; the index accepts it.
        raw.pop("license_files", None)
        unparsed.pop("license-file", None)
    problems = [f"metadata field {key!r} is unrecognized or malformed" for key in sorted(unparsed)]
    try:
        metadata.Metadata.from_raw(raw)
    except ExceptionGroup as group:
        problems += sorted(f"invalid metadata: {error}" for error in group.exceptions)
    try:
        name, version, _, _ = parse_wheel_filename(os.path.basename(wheel))
        if canonicalize_name(raw.get("name", "")) != name:
            problems.append(f"the metadata's name {raw.get('name')!r} is not the file name's {name!r}")
        if raw.get("version") is None or Version(raw["version"]) != version:
            problems.append(f"the metadata's version {raw.get('version')!r} is not the file name's {str(version)!r}")
    except (InvalidWheelFilename, InvalidVersion) as exc:
        problems.append(f"invalid wheel file name or version: {exc}")
    warnings = []
    description, content_type = raw.get("description"), raw.get("description_content_type")
    if content_type is None:
        warnings.append("no Description-Content-Type (readme's content type): the index renders it as reStructuredText")
        content_type = "text/x-rst"
    kind, parameters = _content_type(content_type)
    if not description or description.rstrip() == "UNKNOWN":
        warnings.append("no long description (readme): the project's page on the index will be empty")
    elif kind not in ("text/plain", "text/markdown"):  # those always render
        rst = importlib.import_module("readme_renderer.rst")
        stream = io.StringIO()
        if rst.render(description, stream=stream, **parameters) is None:
            problems.append(
                "the README (long description) has reStructuredText errors and would not render on "
                "the index:\n    " + stream.getvalue().strip().replace("\n", "\n    ")
            )
    return problems, warnings


def main() -> None:
    parser = argparse.ArgumentParser(prog="stage_tools")
    commands = parser.add_subparsers(dest="command", required=True)
    test_parser = commands.add_parser("test")
    test_parser.add_argument("--tests", default="")
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
    installed_parser = commands.add_parser("installed")
    installed_parser.add_argument("name")
    arguments = parser.parse_args()
    {"test": test, "docs": docs, "mkdocs": mkdocs, "mkdocs-run": mkdocs_run, "wheel": wheel, "installed": installed}[
        arguments.command
    ](arguments)


if __name__ == "__main__":
    main()
