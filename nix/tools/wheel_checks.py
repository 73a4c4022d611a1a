"""The wheel stage's checks of the wheel its backend built: normalized, held to the manylinux policy of
the stage's glibc (auditwheel; repaired only when configured), retagged, and the checks an upload
would fail (`twine check`'s).

Imported by stage_tools.py's ``wheel`` while the backend builds: these imports (zipfile, csv and
packaging, which compiles its regular expressions on import) then cost the stage nothing.
"""

from __future__ import annotations

import csv
import glob
import importlib
import importlib.util
import io
import json
import os
import re
import sys
import zipfile

from normalize_archives import normalize_zip
from stage_common import fail, record_digest, run


def release_candidate(wheel: str, work: str, *, repair: bool, epoch: int) -> tuple[str, dict[str, object]]:
    """The wheel as it is released: normalized (what is checked is what is released) and, for a compiled
    one, checked against the manylinux policy and tagged with it; and what was done, for wheel-checks.json."""
    normalize_zip(wheel, epoch)
    if not is_platform_wheel(wheel):
        return wheel, {}
    release, record = manylinux(wheel, work, repair=repair, epoch=epoch)
    return release, {"manylinux": record}


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
    try:
        shown = json.loads(completed.stdout)
    except ValueError:
        shown = None
    # auditwheel exits 1 with {"error": ...} for a wheel it cannot judge (no ELF file in it): an answer.
    if isinstance(shown, dict) and (completed.returncode == 0 or "error" in shown):
        return shown
    sys.stderr.write(completed.stdout + completed.stderr)
    if "No module named auditwheel" in completed.stderr:
        fail(
            "a compiled wheel is checked with auditwheel, which the wheel stage's lock does not hold: add "
            '"auditwheel" to [tool.pyrel.stages.wheel].extra-requires and run `pyrel lock`'
        )
    if completed.returncode != 0:
        fail(f"auditwheel show failed on {os.path.basename(wheel)} (exit {completed.returncode})")
    fail(f"auditwheel show --json printed no JSON for {os.path.basename(wheel)}")


def policy_problems(shown: dict[str, object], platform_tag: str) -> tuple[list[str], list[str]]:
    """Why the wheel is not consistent with ``platform_tag``, and the libraries a repair would vendor."""
    if "error" in shown:
        error = str(shown["error"])
        if "no ELF" in error:
            return [
                "it is tagged for a platform but holds no compiled code (auditwheel: no ELF file): the build "
                "skipped the project's extension, often an optional one whose library or headers the stage "
                "lacks (the backend's output above says which; add its -dev package to "
                "[tool.pyrel.stages.wheel].system), or the backend tags a pure wheel wrongly"
            ], []
        return [error], []
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
