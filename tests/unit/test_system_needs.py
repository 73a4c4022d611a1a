"""What a stage needs from the system: compile failures in a log, and the Debian package behind them.

The Contents index is built in the tests (a few lines, the real format); the archive around it is
signed with a throwaway key and read from ``file://`` URLs, as pyrel reads a mirror.
"""

from __future__ import annotations

import datetime
import gzip
import json
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

from pywrap.adapters import http
from pywrap.errors import ResolutionError
from pywrap.execution import hermeticity, system_needs
from pywrap.execution.system_needs import Need, Packages
from pywrap.providers import debian_archive, debian_contents
from pywrap.providers.debian_contents import Found, Wanted
from tests.debian_mirror import make_key, write_suite

CONTENTS_AMD64 = (
    "etc/cron.daily/samba                                    net/samba\n"
    "usr/bin/git                                             vcs/git\n"
    "usr/share/doc/git/README                                vcs/git\n"
    "usr/bin/make                                            devel/make,devel/make-guile\n"
    "usr/include/yaml.h                                      libdevel/libyaml-dev\n"
    "usr/include/libxml2/libxml/parser.h                     libdevel/libxml2-dev\n"
    "usr/include/python3.11/Python.h                         libdevel/libpython3.11-dev\n"
    "usr/lib/x86_64-linux-gnu/libyaml.so                     libdevel/libyaml-dev\n"
    "usr/lib/x86_64-linux-gnu/libyaml.a                      libdevel/libyaml-dev\n"
    "usr/lib/x86_64-linux-gnu/libyaml-0.so.2                 libs/libyaml-0-2\n"
    "usr/lib/x86_64-linux-gnu/libfoo.a                       libdevel/libfoo-dev\n"
    "usr/lib/x86_64-linux-gnu/pkgconfig/yaml-0.1.pc          libdevel/libyaml-dev\n"
    "usr/share/doc/with space/yaml.h                         doc/oddity\n"
    + "".join(f"usr/include/pkg{n}/config.h                   libdevel/pkg{n}-dev\n" for n in range(5))
)
CONTENTS_ALL = "usr/bin/meson                                           devel/meson\n"
DATE = datetime.datetime(2025, 11, 1, 6, 30, tzinfo=datetime.UTC)


def _chunks(text: str, size: int) -> list[bytes]:
    data = text.encode()
    return [data[index : index + size] for index in range(0, len(data), size)]


# --------------------------------------------------------------------------- the Contents index, pure


def test_a_contents_line_gives_the_path_and_the_packages_without_their_sections() -> None:
    assert debian_contents.parse_line(b"usr/include/yaml.h        libdevel/libyaml-dev\n") == (
        "usr/include/yaml.h",
        ("libyaml-dev",),
    )
    assert debian_contents.parse_line(b"usr/bin/make   devel/make,devel/make-guile") == (
        "usr/bin/make",
        ("make", "make-guile"),
    )
    assert debian_contents.parse_line(b"usr/share/a b/c.h   non-free/libdevel/x-dev") == (
        "usr/share/a b/c.h",
        ("x-dev",),
    )
    assert debian_contents.parse_line(b"lonely") is None


@pytest.mark.parametrize("size", [7, 64, 1 << 20])
def test_search_finds_each_wanted_file_where_its_tool_looks_whatever_the_chunks(size: int) -> None:
    wanted = [
        Wanted("header", "yaml.h"),
        Wanted("header", "libxml/parser.h"),
        Wanted("link", "yaml"),
        Wanted("link", "foo"),
        Wanted("library", "libyaml-0.so.2"),
        Wanted("pkg-config", "yaml-0.1"),
        Wanted("tool", "git"),
        Wanted("tool", "make"),
        Wanted("tool", "README"),
        Wanted("header", "absent.h"),
    ]
    found = debian_contents.search(_chunks(CONTENTS_AMD64, size), wanted)
    assert found[Wanted("header", "yaml.h")] == Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),))
    # A header under its own include directory needs the flags pkg-config gives: found, ranked after.
    assert found[Wanted("header", "libxml/parser.h")].rank == 1
    assert found[Wanted("header", "libxml/parser.h")].packages == ("libxml2-dev",)
    assert found[Wanted("link", "yaml")] == Found(0, (("usr/lib/x86_64-linux-gnu/libyaml.so", ("libyaml-dev",)),))
    assert found[Wanted("link", "foo")].rank == 1  # only the static library
    assert found[Wanted("library", "libyaml-0.so.2")].packages == ("libyaml-0-2",)
    assert found[Wanted("pkg-config", "yaml-0.1")].packages == ("libyaml-dev",)
    assert found[Wanted("tool", "git")].packages == ("git",)  # not usr/share/doc/git/
    assert found[Wanted("tool", "make")].packages == ("make", "make-guile")
    # A file of that name outside the directories a tool searches is not an answer.
    assert Wanted("tool", "README") not in found and Wanted("header", "absent.h") not in found


def test_the_contents_file_listed_is_the_most_compact_with_content() -> None:
    files = {
        "main/Contents-amd64": debian_archive.IndexFile("main/Contents-amd64", "a" * 64, 100),
        "main/Contents-amd64.gz": debian_archive.IndexFile("main/Contents-amd64.gz", "b" * 64, 20),
        "main/Contents-all.gz": debian_archive.IndexFile("main/Contents-all.gz", "c" * 64, 0),
    }
    release = debian_archive.Release("bookworm", "bookworm", DATE, None, ("main",), ("amd64",), files, False, False)
    listed = debian_contents.contents_file(release, "main", "amd64")
    assert listed is not None and listed.path == "main/Contents-amd64.gz"
    assert debian_contents.contents_file(release, "main", "all") is None  # an empty index (a security suite's)
    assert debian_contents.contents_file(release, "contrib", "amd64") is None


# --------------------------------------------------------------------------- the log, pure


def test_compile_failures_names_headers_libraries_pkg_config_modules_and_tools_once_each() -> None:
    log = "\n".join(
        [
            "building 'yaml._yaml' extension",
            "yaml/_yaml.c:1234:10: fatal error: yaml.h: No such file or directory",
            "compilation terminated.",
            "other.c:3:10: fatal error: yaml.h: No such file or directory",
            "src/ext.c:2:10: fatal error: 'zstd.h' file not found",
            "cc1: fatal error: missing.c: No such file or directory",
            "/usr/bin/ld: cannot find -lyaml: No such file or directory",
            "Package yaml-0.1 was not found in the pkg-config search path.",
            "No package 'yaml-0.1' found",
            "Package 'libffi', required by 'virtual:world', not found",
            "Run-time dependency \x1b[1mxxhash\x1b[0m found: \x1b[31mNO\x1b[0m (tried pkgconfig)",
            "error: command 'swig' failed: No such file or directory",
            "sh: 1: cython: not found",
            "sh: python3: not found",
            "Error compiling module, falling back to pure Python",
        ]
    )
    needs = system_needs.compile_failures(log)
    assert [need.wanted for need in needs] == [
        Wanted("header", "yaml.h"),
        Wanted("header", "zstd.h"),
        Wanted("link", "yaml"),
        Wanted("pkg-config", "yaml-0.1"),
        Wanted("pkg-config", "libffi"),
        Wanted("pkg-config", "xxhash"),
        Wanted("tool", "swig"),
        Wanted("tool", "cython"),
    ]
    assert needs[0].evidence == "yaml/_yaml.c:1234:10: fatal error: yaml.h: No such file or directory"


def test_a_successful_log_without_compile_failures_says_nothing() -> None:
    log = "checking for yaml.h... no\nbuilding wheel\nSuccessfully built demo-1.0-py3-none-any.whl\n"
    assert system_needs.compile_failures(log) == []


# --------------------------------------------------------------------------- the words


def _fix(wanted: Wanted, found: Found | None, failure: str = "", present: Collection[str] = ()) -> str:
    return " ".join(
        system_needs.package_fix(
            wanted, "wheel", suite="bookworm", found=found, failure=failure, stage_packages=present
        ).split()
    )


def test_one_package_is_named_with_its_file_and_the_key_to_add() -> None:
    found = Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),))
    assert _fix(Wanted("header", "yaml.h"), found) == (
        "'libyaml-dev' ships it (/usr/include/yaml.h, bookworm's Contents index): add it to "
        "[tool.pyrel.stages.wheel].system and run `pyrel lock`"
    )


def test_where_the_name_would_be_a_guess_none_is_named() -> None:
    two = Found(0, (("usr/bin/make", ("make", "make-guile")),))
    assert "'make' or 'make-guile' ship it" in _fix(Wanted("tool", "make"), two)
    many = Found(1, tuple((f"usr/include/pkg{n}/config.h", (f"pkg{n}-dev",)) for n in range(5)))
    text = _fix(Wanted("header", "config.h"), many)
    assert "5 Debian packages ship a file of that name" in text and "so none is named" in text
    assert "pkg0-dev'" not in text
    assert "lists no Debian package that ships it" in _fix(Wanted("header", "absent.h"), None)
    # Under its own include directory: named, with how the compile step finds that directory.
    xml = Found(1, (("usr/include/libxml2/libxml/parser.h", ("libxml2-dev",)),))
    text = _fix(Wanted("header", "libxml/parser.h"), xml)
    assert text.startswith("'libxml2-dev' ships it (/usr/include/libxml2/libxml/parser.h") and "'pkgconf'" in text
    assert "pkgconf" not in _fix(Wanted("header", "yaml.h"), Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),)))
    # The stage has the package: adding it again would not help; the step did not look there.
    text = _fix(Wanted("header", "libxml/parser.h"), xml, present={"libxml2-dev"})
    assert text.startswith("the stage already has 'libxml2-dev'") and "add" not in text


def test_a_missing_compiler_is_answered_with_the_compiler_key_and_a_failed_lookup_says_why() -> None:
    # meson's and CMake's probes try other compilers in turn: each is the compiler key, never a lookup.
    for tool in ("gcc", "x86_64-linux-gnu-gcc", "cc", "g++-12", "clang++", "nvc++", "pgc++", "icpc", "icpx"):
        assert system_needs.is_compiler(Wanted("tool", tool))
        assert _fix(Wanted("tool", tool), None).startswith("set compiler = true in [tool.pyrel.stages.wheel]")
    assert not system_needs.is_compiler(Wanted("tool", "make"))
    text = _fix(Wanted("header", "yaml.h"), None, failure="the suite's Contents index could not be read: offline")
    assert text == (
        "add the Debian package that ships it to [tool.pyrel.stages.wheel].system and run `pyrel lock` "
        "(none is named: the suite's Contents index could not be read: offline)"
    )


def _packages(answers: Mapping[Wanted, Found] | Exception) -> tuple[Packages, list[list[Wanted]]]:
    asked: list[list[Wanted]] = []

    def look(wanted: Collection[Wanted]) -> Mapping[Wanted, Found]:
        asked.append(sorted(wanted, key=lambda item: item.key))
        if isinstance(answers, Exception):
            raise answers
        return answers

    return Packages(look, "bookworm"), asked


def test_a_stage_that_succeeded_gets_a_warning_naming_the_package_asked_once_per_run() -> None:
    yaml = Wanted("header", "yaml.h")
    packages, asked = _packages({yaml: Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),))})
    needs = [Need(yaml, "y.c:1:10: fatal error: yaml.h: No such file or directory")]
    [warning] = system_needs.success_notices(needs, "wheel", packages, ())
    assert warning.startswith("a compile step did not find the header 'yaml.h', and the stage went on without it")
    assert "'libyaml-dev' ships it (/usr/include/yaml.h" in warning
    assert warning.endswith("\n    log: y.c:1:10: fatal error: yaml.h: No such file or directory")
    system_needs.success_notices(needs, "test", packages, ())
    assert asked == [[yaml]]


def test_when_the_index_cannot_be_read_the_warning_appears_and_says_why() -> None:
    packages, asked = _packages(
        ResolutionError("cannot download http://mirror.invalid/debian/dists/bookworm/InRelease")
    )
    needs = [Need(Wanted("link", "yaml"), "/usr/bin/ld: cannot find -lyaml")]
    [warning] = system_needs.success_notices(needs, "wheel", packages, ())
    assert "a link did not find the library -lyaml (libyaml.so)" in warning
    assert "none is named: the suite's Contents index could not be read: cannot download" in warning
    system_needs.success_notices(needs, "wheel", packages, ())
    assert len(asked) == 1  # a failure is kept for the run: no second wait on an unreachable mirror


def test_undeclared_tool_and_missing_library_findings_name_the_package() -> None:
    log = "sh: make: not found\nImportError: libyaml-0.so.2: cannot open shared object file: No such file or directory"
    violations = hermeticity.classify(log, "docs")
    assert [violation.kind for violation in violations] == ["undeclared-tool", "missing-library"]
    packages, _ = _packages(
        {
            Wanted("tool", "make"): Found(0, (("usr/bin/make", ("make",)),)),
            Wanted("library", "libyaml-0.so.2"): Found(
                0, (("usr/lib/x86_64-linux-gnu/libyaml-0.so.2", ("libyaml-0-2",)),)
            ),
        }
    )
    tool, library = system_needs.named_violations(violations, "docs", packages, ())
    assert tool.explanation.startswith(violations[0].explanation)
    assert "For the program 'make': 'make' ships it (/usr/bin/make" in tool.explanation
    assert "add it to [tool.pyrel.stages.docs].system" in tool.explanation
    assert "'libyaml-0-2' ships it (/usr/lib/x86_64-linux-gnu/libyaml-0.so.2" in library.explanation
    assert (tool.kind, tool.evidence) == (violations[0].kind, violations[0].evidence)


def test_findings_without_a_system_file_are_left_as_they_are() -> None:
    violations = hermeticity.classify("No module named 'requests'\nsh: python3: not found", "docs")
    packages, asked = _packages({})
    assert system_needs.named_violations(violations, "docs", packages, ()) == tuple(violations)
    assert asked == []


def test_the_needs_of_a_built_output_are_remembered_for_the_runs_that_find_it_built(tmp_path: Path) -> None:
    record = tmp_path / "needs" / "abc-demo.json"
    yaml = Wanted("header", "yaml.h")
    packages, _ = _packages({yaml: Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),))})
    log = "y.c:1:10: fatal error: yaml.h: No such file or directory\n"
    first = system_needs.remembered_notices(record, log, "wheel", packages, ())
    assert json.loads(record.read_text()) == [{"kind": "header", "name": "yaml.h", "evidence": log.strip()}]
    assert system_needs.remembered_notices(record, "", "wheel", packages, ()) == first
    assert system_needs.remembered_notices(tmp_path / "none.json", "", "wheel", packages, ()) == ()


# --------------------------------------------------------------------------- the archive, read as a lock reads it


class Downloads:
    """http.download, counting what was downloaded."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, target: Path) -> bool:
        self.urls.append(url)
        return http.download(url, target)


def _mirror(tmp_path: Path, *, by_hash: bool = True, tamper: bool = False) -> tuple[Path, Path]:
    key, keyring = make_key(tmp_path / "keys", "archive")
    root = tmp_path / "debian"
    extra = {
        "main/Contents-amd64.gz": gzip.compress(CONTENTS_AMD64.encode(), mtime=0),
        "main/Contents-all.gz": gzip.compress(CONTENTS_ALL.encode(), mtime=0),
    }
    write_suite(root, "bookworm", "", key, date=DATE, extra=extra, by_hash=by_hash)
    if tamper:
        served = root / "dists/bookworm/main/Contents-amd64.gz"
        served.write_bytes(gzip.compress(CONTENTS_AMD64.replace("libyaml-dev", "evil-dev").encode(), mtime=0))
    return root, keyring


def _lookup(
    root: Path, keyring: Path, cache: Path, wanted: Collection[Wanted], download: Downloads
) -> dict[Wanted, Found]:
    return debian_contents.lookup(
        debian_archive.sources_from_mirrors([f"file://{root}"], "bookworm"),
        wanted,
        suite="bookworm",
        arch="amd64",
        cache=debian_archive.IndexCache(cache),
        get=http.get,
        download=download,
        keyrings=[keyring],
    )


def test_the_lookup_reads_the_signed_suite_and_its_arch_index_first_then_the_all_index(tmp_path: Path) -> None:
    root, keyring = _mirror(tmp_path)
    downloads = Downloads()
    yaml, meson = Wanted("header", "yaml.h"), Wanted("tool", "meson")
    found = _lookup(root, keyring, tmp_path / "cache", [yaml], downloads)
    assert found[yaml].packages == ("libyaml-dev",)
    assert len(downloads.urls) == 1 and "/main/by-hash/SHA256/" in downloads.urls[0]  # Contents-all not needed
    found = _lookup(root, keyring, tmp_path / "cache", [yaml, meson], downloads)
    assert found[meson].packages == ("meson",) and found[yaml].packages == ("libyaml-dev",)
    assert len(downloads.urls) == 2  # Contents-all, for meson only
    # Asked again: the answers kept beside the cached indexes, nothing downloaded or decompressed.
    (root / "dists/bookworm/main").rename(tmp_path / "gone")
    assert _lookup(root, keyring, tmp_path / "cache", [yaml, meson], downloads) == found
    assert len(downloads.urls) == 2


def test_an_index_that_differs_from_the_signed_inrelease_is_neither_used_nor_cached(tmp_path: Path) -> None:
    root, keyring = _mirror(tmp_path, by_hash=False, tamper=True)
    with pytest.raises(ResolutionError, match="differs from what the signed"):
        _lookup(root, keyring, tmp_path / "cache", [Wanted("header", "yaml.h")], Downloads())
    assert not [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]


def test_an_archive_signed_by_an_unknown_key_is_refused(tmp_path: Path) -> None:
    root, _ = _mirror(tmp_path)
    _, other = make_key(tmp_path / "other", "someone-else")
    with pytest.raises(ResolutionError, match="signature does not verify"):
        _lookup(root, other, tmp_path / "cache", [Wanted("header", "yaml.h")], Downloads())


def test_a_failed_stage_says_which_header_its_compile_step_missed_but_leaves_tools_to_its_findings() -> None:
    yaml = Wanted("header", "yaml.h")
    packages, asked = _packages({yaml: Found(0, (("usr/include/yaml.h", ("libyaml-dev",)),))})
    log = "ext.c:1:10: fatal error: yaml.h: No such file or directory\nsh: make: not found\n"
    [warning] = system_needs.failure_notices(log, "wheel", packages, ())
    assert warning.startswith("a compile step did not find the header 'yaml.h': 'libyaml-dev' ships it")
    assert "went on" not in warning and asked == [[yaml]]


def test_a_suite_without_a_contents_index_says_so(tmp_path: Path) -> None:
    key, keyring = make_key(tmp_path / "keys", "archive")
    write_suite(tmp_path / "debian", "bookworm", "", key, date=DATE)
    with pytest.raises(
        ResolutionError, match=r"InRelease: lists no amd64 Contents index of the components read \(main\)"
    ):
        _lookup(tmp_path / "debian", keyring, tmp_path / "cache", [Wanted("header", "yaml.h")], Downloads())
