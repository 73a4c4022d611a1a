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
import configparser
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

from normalize_archives import write_tar_gz

TEST_DIRS = ("tests", "test", "testing")
TEST_CONFIG_FILES = ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py")


def fail(message: str) -> None:
    print(f"pyrel: {message}", file=sys.stderr)
    sys.exit(1)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, text=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def write_console_scripts(site: str, bin_dir: str) -> None:
    """Wrappers for the installed wheel's console scripts (tests often call the CLI)."""
    os.makedirs(bin_dir, exist_ok=True)
    for entry_points in glob.glob(os.path.join(site, "*.dist-info", "entry_points.txt")):
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(entry_points)
        if not parser.has_section("console_scripts"):
            continue
        for name, target in parser.items("console_scripts"):
            module, _, function = target.strip().partition(":")
            path = os.path.join(bin_dir, name)
            with open(path, "w", encoding="utf-8") as script:
                script.write(f"#!{sys.executable}\nimport sys\nfrom {module} import {function.split('.')[0]}\n"
                             f"sys.exit({function}())\n")
            os.chmod(path, 0o755)


def unpack_wheel(wheel: str, site: str, bin_dir: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    for data in glob.glob(os.path.join(site, "*.data")):
        for scheme in ("purelib", "platlib"):
            if os.path.isdir(os.path.join(data, scheme)):
                shutil.copytree(os.path.join(data, scheme), site, dirs_exist_ok=True)
        if os.path.isdir(os.path.join(data, "scripts")):
            shutil.copytree(os.path.join(data, "scripts"), bin_dir, dirs_exist_ok=True)
        shutil.rmtree(data)
    write_console_scripts(site, bin_dir)


def install_project(project_dir: str, work: str) -> dict[str, str]:
    """Build the project's wheel with the pinned backend and put it on sys.path."""
    wheels = os.path.join(work, "wheels")
    site = os.path.join(work, "site")
    bin_dir = os.path.join(work, "bin")
    result = run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", wheels, project_dir])
    if result.returncode != 0:
        fail(f"building the project's wheel failed (exit {result.returncode})")
    built = glob.glob(os.path.join(wheels, "*.whl"))
    if len(built) != 1:
        fail(f"expected one wheel, the backend wrote {built}")
    unpack_wheel(built[0], site, bin_dir)
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH", "")])),
        "PATH": os.pathsep.join([bin_dir, os.environ["PATH"]]),
    }


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
    environment = {**os.environ, **install_project(project_dir, work)}

    # Test the installed artifact, not the package sources beside the tests:
    # copy only the test tree and the configuration pytest reads.
    origin = project_dir if (arguments.tests or _test_tree(project_dir)) else os.getcwd()
    tree = arguments.tests or _test_tree(origin)
    if tree is None or not os.path.isdir(os.path.join(origin, tree)):
        fail("no test tree (tests/, test/ or testing/) in the sdist or the project; "
             "set the test stage's `run` to the command that runs the tests")
    run_dir = os.path.join(work, "run")
    shutil.copytree(os.path.join(origin, tree), os.path.join(run_dir, tree))
    for name in TEST_CONFIG_FILES:
        if os.path.isfile(os.path.join(origin, name)):
            shutil.copy(os.path.join(origin, name), run_dir)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit2",
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
        fail(f"pytest wrote no junit report (exit {status})")


def docs(arguments: argparse.Namespace) -> None:
    out = os.environ["out"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pyrel-docs")
    environment = dict(os.environ)
    if os.path.isfile("pyproject.toml") or os.path.isfile("setup.py"):
        environment.update(install_project(".", work))
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    failed = False
    for builder in arguments.builders.split(","):
        build_dir = os.path.join(work, f"docs-{builder}")
        warnings = os.path.join(out, f"sphinx-{builder}.log")
        strict = ["-W", "--keep-going"] if arguments.fail_on_warning else []
        if builder == "latexpdf":
            command = [sys.executable, "-m", "sphinx", "-M", "latexpdf", arguments.sphinx_dir, build_dir,
                       "-w", warnings, *strict]
        else:
            command = [sys.executable, "-m", "sphinx", "-b", builder, "-d", os.path.join(work, "doctrees"),
                       "-w", warnings, *strict, arguments.sphinx_dir, build_dir]
        result = run(command, env=environment)
        if result.returncode != 0:
            failed = True
            continue
        if builder == "latexpdf":
            build_dir = os.path.join(build_dir, "latex")
        prefix = f"{arguments.name}-{arguments.version}-docs-{builder}"
        write_tar_gz(build_dir, os.path.join(out, f"{prefix}.tar.gz"), prefix, epoch)
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
