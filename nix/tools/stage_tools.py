"""What the built-in `docs` and `test` stages run inside the sandbox.

Static part of pyrel's Nix library, run by the stage's own pinned Python:

    python "$pyrelTools/stage_tools.py" test
    python "$pyrelTools/stage_tools.py" docs --sphinx-dir docs --name N --version V --builders html

``test`` installs the *built* sdist (the `source` stage's read-only output) and
runs pytest against it; failures are recorded in ``$out/exit-code`` so the
report is exported either way.  ``docs`` builds the project from the source
tree (for autodoc), runs Sphinx per builder and writes deterministic archives.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import NoReturn

from normalize_archives import write_tar_gz

TEST_DIRS = ("tests", "test", "testing")


def fail(message: str) -> NoReturn:
    print(f"pyrel: {message}", file=sys.stderr)
    sys.exit(1)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, text=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def unpack_wheel(wheel: str, site: str, bin_dir: str, python: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    for data in glob.glob(os.path.join(site, "*.data")):
        for scheme in ("purelib", "platlib"):
            if os.path.isdir(os.path.join(data, scheme)):
                shutil.copytree(os.path.join(data, scheme), site, dirs_exist_ok=True)
        if os.path.isdir(os.path.join(data, "scripts")):
            shutil.copytree(os.path.join(data, "scripts"), bin_dir, dirs_exist_ok=True)
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


def install_project(project_dir: str, work: str) -> tuple[str, dict[str, str]]:
    """Build the project's wheel with the pinned backend; a venv that imports it."""
    wheels = os.path.join(work, "wheels")
    site = os.path.join(work, "site")
    bin_dir = os.path.join(work, "venv", "bin")
    frontend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pep517.py")
    result = run([sys.executable, frontend, "wheel", wheels], cwd=project_dir)
    if result.returncode != 0:
        fail(f"building the project's wheel failed (exit {result.returncode})")
    built = glob.glob(os.path.join(wheels, "*.whl"))
    if len(built) != 1:
        fail(f"expected one wheel, the backend wrote {built}")
    python = make_venv(work, [site])
    unpack_wheel(built[0], site, bin_dir, python)
    # The stage's console scripts run the stage's Python: give the venv its own.
    for wheel_site in [path for path in sys.path if path.endswith("/site") and path.startswith(os.sep)]:
        subprocess.run([python, "-B", os.environ["consoleScripts"], wheel_site, bin_dir], check=True)
    return python, {"PATH": os.pathsep.join([bin_dir, os.environ["PATH"]])}


def built_wheel(work: str) -> str:
    [wheel] = glob.glob(os.path.join(work, "wheels", "*.whl"))
    return wheel


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
RUN_DIR_IGNORED = ("build", "dist", ".git", ".hg", ".tox", ".nox", ".eggs", "__pycache__", ".pytest_cache",
                   "*.egg-info", "*.pyc")
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
                        not is_dir and name.endswith(_MODULE_SUFFIXES) and name.split(".", 1)[0] in shadowing):
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


def test(arguments: argparse.Namespace) -> None:
    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-test")
    source_output = os.environ.get("PYREL_INPUT_source", "")
    sdists = sorted(glob.glob(os.path.join(source_output, "*.tar.gz")))
    if len(sdists) != 1:
        fail(f"the test stage reads one sdist from the source stage, found {sdists}")
    unpacked = os.path.join(work, "sdist")
    with tarfile.open(sdists[0]) as archive:
        archive.extractall(unpacked)
    [project_dir] = [os.path.join(unpacked, name) for name in os.listdir(unpacked)]
    python, path = install_project(project_dir, work)
    environment = {**os.environ, **path}

    # Test the installed artifact, not the package sources beside the tests:
    # the tests run in a copy of the tree without the packages the wheel installs.
    origin = project_dir if (arguments.tests or _test_tree(project_dir)) else os.getcwd()
    tree = arguments.tests or _test_tree(origin)
    if tree is None or not os.path.isdir(os.path.join(origin, tree)):
        fail("no test tree (tests/, test/ or testing/) in the sdist or the project; "
             "set the test stage's `run` to the command that runs the tests")
    run_dir = os.path.join(work, "run")
    copy_run_dir(origin, run_dir, wheel_top_level(built_wheel(work)) - {tree.split("/")[0]})
    command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit2",
               f"--junitxml={os.path.join(out, 'junit.xml')}", *arguments.pytest_args, tree]
    print("+ " + " ".join(command), flush=True)
    with open(os.path.join(out, "pytest.log"), "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=run_dir, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
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
    try:
        version = importlib.metadata.version("pytest")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return (f"pytest stopped before running any test (exit {status}, no junit report; its error is above). "
            f"If a conftest.py, plugin or pytest option does not work with the locked pytest {version}, "
            "resolve the test tools the project was released with: set exclude-newer = \"<the release's date>\" "
            "in [tool.pyrel], or declare [tool.pyrel.stages.test].requires with e.g. \"pytest<"
            + version.split(".")[0] + "\", then run `pyrel lock`")


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
            result = run([engine, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", tex],
                         cwd=directory, capture_output=True)
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
    if os.path.isfile("pyproject.toml") or os.path.isfile("setup.py"):
        python, path = install_project(".", work)
        environment.update(path)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    failed = False
    for builder in arguments.builders.split(","):
        build_dir = os.path.join(work, f"docs-{builder}")
        warnings = os.path.join(out, f"sphinx-{builder}.log")
        strict = ["-W", "--keep-going"] if arguments.fail_on_warning else []
        sphinx_builder = "latex" if builder == "latexpdf" else builder
        command = [python, "-m", "sphinx", "-b", sphinx_builder, "-d", os.path.join(work, "doctrees"),
                   "-w", warnings, *strict, arguments.sphinx_dir, build_dir]
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
    arguments = parser.parse_args()
    {"test": test, "docs": docs}[arguments.command](arguments)


if __name__ == "__main__":
    main()
