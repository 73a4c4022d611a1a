"""The debian resolver on small hand-written indexes: no apt, no network."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pywrap.adapters import apt
from pywrap.config.model import Stage
from pywrap.errors import ResolutionError
from pywrap.locking.lockfile import WheelEntry
from pywrap.locking.resolver import binary_wheel_runtime, debian_closure
from pywrap.providers.debian import (
    PackageIndex,
    ResolvedPackage,
    glibc_version_of,
    parse_index,
    parse_indexes,
    python_version_of,
    resolve_closure,
    with_urls,
)


def para(name: str, version: str = "1.0", arch: str = "amd64", **fields: str) -> str:
    """One deb822 paragraph; keyword names map ``Pre_Depends`` -> ``Pre-Depends``."""
    lines = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in fields.items()]
    lines += [
        f"Filename: pool/main/{name[0]}/{name}/{name}_{version.split(':')[-1]}_{arch}.deb",
        f"Size: {len(name) * 100}",
        f"SHA256: {(name.encode().hex() * 64)[:64]}",
    ]
    return "\n".join(lines) + "\n"


def index(*paragraphs: str, suite: str | None = "testsuite") -> PackageIndex:
    return parse_index("\n".join(paragraphs), suite=suite)


def names(closure: list[ResolvedPackage]) -> list[str]:
    return [p.name for p in closure]


def by_name(closure: list[ResolvedPackage]) -> dict[str, ResolvedPackage]:
    return {p.name: p for p in closure}


def test_closure_over_depends_and_pre_depends_not_recommends() -> None:
    idx = index(
        para("app", Depends="liba (>= 1.0), libb", Pre_Depends="dpkg", Recommends="extra"),
        para("liba", "2.0", Depends="libc6"),
        para("libb", arch="all"),
        para("dpkg"),
        para("libc6", "2.36-9"),
        para("extra"),
        para("unrelated"),
    )
    closure = resolve_closure(idx, ["app"], "amd64")
    assert names(closure) == ["app", "dpkg", "liba", "libb", "libc6"]
    app = by_name(closure)["app"]
    assert app.depends == ("dpkg", "liba", "libb")
    assert app.filename == "app_1.0_amd64.deb"
    assert app.pool_path == "pool/main/a/app/app_1.0_amd64.deb"
    assert app.size == 300 and len(app.sha256) == 64
    assert by_name(closure)["libb"].architecture == "all"


def test_parsing_keeps_highest_version_source_and_folded_fields() -> None:
    text = textwrap.dedent(
        """\
        Package: tool
        Source: toolsrc (1.0-1)
        Version: 1:1.0-1
        Architecture: amd64
        Depends: liba,
         libb
        Filename: pool/main/t/toolsrc/tool_1.0-1_amd64.deb
        Size: 10
        SHA256: ABCDEF

        Package: tool
        Version: 2.0-1
        Architecture: amd64
        Filename: pool/main/t/tool/tool_2.0-1_amd64.deb
        Size: 20
        SHA256: 00

        Package: tool
        Version: 9.0
        Architecture: i386
        Filename: pool/main/t/tool/tool_9.0_i386.deb
        Size: 30
        SHA256: 11
        """
    )
    idx = parse_index(text + "\n" + para("liba") + "\n" + para("libb"), arch="amd64")
    # the epoch makes 1:1.0-1 newer than 2.0-1; the i386 paragraph is ignored
    tool = by_name(resolve_closure(idx, ["tool"], "amd64"))["tool"]
    got = (tool.version, tool.source, tool.sha256, tool.size)
    assert got == ("1:1.0-1", "toolsrc", "abcdef", 10)
    assert tool.depends == ("liba", "libb")


def test_alternatives_prefer_one_already_chosen_else_first_existing() -> None:
    idx = index(
        para("app", Depends="missing | first | second, other"),
        para("first"),
        para("second"),
        para("other", Depends="second"),
        para("tool", Depends="mawk | gawk"),
        para("mawk"),
        para("gawk"),
    )
    assert names(resolve_closure(idx, ["app"], "amd64")) == ["app", "first", "other", "second"]
    # requested roots count as chosen: gawk is preferred over the first alternative
    assert names(resolve_closure(idx, ["tool", "gawk"], "amd64")) == ["gawk", "tool"]


def test_virtual_packages_resolve_through_provides() -> None:
    idx = index(
        para("app", Depends="mail-transport-agent, awk, libfoo-abi (>= 2)"),
        para("postfix", Provides="mail-transport-agent"),
        para("exim4", Provides="mail-transport-agent"),
        para("mawk", Provides="awk"),
        para("awk", "5.0"),  # a real package of the virtual name wins
        para("libfoo2", Provides="libfoo-abi (= 2.1)"),
        para("libfoo1", Provides="libfoo-abi (= 1.0)"),
    )
    closure = resolve_closure(idx, ["app"], "amd64")
    # exim4 is the first provider by name; an unversioned Provides can't satisfy (>= 2)
    assert names(closure) == ["app", "awk", "exim4", "libfoo2"]


def test_virtual_prefers_a_provider_already_chosen() -> None:
    idx = index(
        para("app", Depends="postfix, needs-mta"),
        para("needs-mta", Depends="mail-transport-agent"),
        para("exim4", Provides="mail-transport-agent"),
        para("postfix", Provides="mail-transport-agent"),
    )
    assert names(resolve_closure(idx, ["app"], "amd64")) == ["app", "needs-mta", "postfix"]


def test_arch_qualifiers_are_stripped() -> None:
    idx = index(
        para("app", Depends="python3:any (>= 3.11), libc6:amd64, perl:native"),
        para("python3", "3.11.2-1+b1"),
        para("libc6", "2.36-9"),
        para("perl"),
    )
    assert names(resolve_closure(idx, ["app"], "amd64")) == ["app", "libc6", "perl", "python3"]


def test_failing_version_constraint_names_the_chain() -> None:
    idx = index(
        para("app", Depends="libmid"),
        para("libmid", Depends="libc6 (>= 2.40)"),
        para("libc6", "2.36-9"),
    )
    with pytest.raises(ResolutionError) as err:
        resolve_closure(idx, ["app"], "amd64")
    message = str(err.value)
    assert "libc6 (>= 2.40)" in message
    assert "app -> libmid" in message
    assert "libc6 2.36-9" in message
    assert "testsuite" in message


@pytest.mark.parametrize(
    ("constraint", "ok"),
    [("<< 2.0", True), ("<= 1.0", True), ("= 1.0", True), (">> 1.0", False), (">= 1.0~rc1", True),
     ("= 1:1.0", False), ("<< 1.0", False)],
)  # fmt: skip
def test_version_operators(constraint: str, ok: bool) -> None:
    idx = index(para("app", Depends=f"lib ({constraint})"), para("lib", "1.0"))
    if ok:
        assert names(resolve_closure(idx, ["app"], "amd64")) == ["app", "lib"]
    else:
        with pytest.raises(ResolutionError, match="not satisfiable"):
            resolve_closure(idx, ["app"], "amd64")


def test_missing_dependency_names_it_who_needs_it_and_the_suite() -> None:
    idx = index(para("app", Depends="libgone | libalsogone"))
    with pytest.raises(ResolutionError) as err:
        resolve_closure(idx, ["app"], "amd64")
    message = str(err.value)
    assert "libgone | libalsogone" in message
    assert "needed by app" in message
    assert "Debian suite 'testsuite'" in message


def test_missing_root_is_reported() -> None:
    idx = index(para("app"), suite="bookworm")
    with pytest.raises(ResolutionError, match=r"nosuchpkg.*stage's system packages.*'bookworm'"):
        resolve_closure(idx, ["app", "nosuchpkg"], "amd64")


def test_cycles_are_fine() -> None:
    idx = index(
        para("a", Depends="b"),
        para("b", Pre_Depends="c"),
        para("c", Depends="a, c"),
    )
    closure = resolve_closure(idx, ["a"], "amd64")
    assert names(closure) == ["a", "b", "c"]
    assert by_name(closure)["c"].depends == ("a",)  # a self-dependency is not an edge


def test_exclude_skips_and_records() -> None:
    idx = index(
        para("app", Depends="libc6, dpkg (>= 1.15) | install-info, mta"),
        para("libc6"),
        para("dpkg", Depends="tar"),
        para("tar"),
        para("install-info"),
        para("postfix", Provides="mta"),
    )
    closure = resolve_closure(idx, ["app"], "amd64", exclude=frozenset({"dpkg", "mta"}))
    assert names(closure) == ["app", "libc6"]
    assert by_name(closure)["app"].excluded_depends == ("dpkg", "mta")
    assert by_name(closure)["app"].depends == ("libc6",)


def test_wrong_architecture_is_not_a_candidate() -> None:
    idx = index(para("app", Depends="libx"), para("libx", arch="arm64"))
    with pytest.raises(ResolutionError, match="libx"):
        resolve_closure(idx, ["app"], "amd64")


def test_output_is_deterministic_and_sorted() -> None:
    pkgs = [para("z", Depends="y | x"), para("y", Depends="x"), para("x"), para("w", Depends="z")]
    first = resolve_closure(index(*pkgs), ["z", "w"], "amd64")
    again = resolve_closure(index(*reversed(pkgs)), ["w", "z"], "amd64")
    assert first == again
    assert names(first) == ["w", "x", "y", "z"]


def test_with_urls_joins_each_archive_and_pool_path_as_apt_prints_them() -> None:
    main = para("zlib1g", "1:1.2.13.dfsg-1+b1")
    security = para("libabw", "0.1.3~rc1-4")
    idx = parse_indexes([("http://mirror.invalid/debian", main), ("file:///srv/security/", security)], arch="amd64")
    debs = {deb.name: deb for deb in with_urls(resolve_closure(idx, ["zlib1g", "libabw"], "amd64"))}
    assert debs["zlib1g"].url == "http://mirror.invalid/debian/pool/main/z/zlib1g/zlib1g_1.2.13.dfsg-1%2bb1_amd64.deb"
    assert debs["libabw"].url == "file:///srv/security/pool/main/l/libabw/libabw_0.1.3%7erc1-4_amd64.deb"
    assert (debs["zlib1g"].filename, debs["zlib1g"].source) == ("zlib1g_1.2.13.dfsg-1+b1_amd64.deb", "zlib1g")
    with pytest.raises(ResolutionError, match="names no archive"):
        with_urls(resolve_closure(index(main), ["zlib1g"], "amd64"))


def test_the_highest_version_of_any_suite_is_the_candidate() -> None:
    idx = parse_indexes(
        [
            ("http://m.invalid/debian", para("libc6", "2.36-9+deb12u4")),
            ("http://m.invalid/security", para("libc6", "2.36-9+deb12u10")),
            ("http://m.invalid/debian", para("libc6", "2.36-9")),
        ],
        arch="amd64",
    )
    assert (idx.packages["libc6"].version, idx.packages["libc6"].origin) == (
        "2.36-9+deb12u10",
        "http://m.invalid/security",
    )


def test_suite_facts() -> None:
    idx = index(para("python3", "3.11.2-1+b1"), para("libc6", "2.36-9+deb12u4"))
    assert python_version_of(idx) == (3, 11)
    assert glibc_version_of(idx) == (2, 36)
    with pytest.raises(ResolutionError, match="python3"):
        python_version_of(index(para("libc6")))


def test_private_sources_are_derived_from_the_host_sources(tmp_path: Path) -> None:
    """The apt adapter's source rewriting is pure too: same mirrors, new suite."""
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm-updates main\n"
        "deb-src http://mirror.invalid/debian bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-backports\nComponents: main contrib\nSigned-By: /k.gpg\n\n"
        "Types: deb\nURIs: http://mirror.invalid/security\nSuites: bookworm-security\n"
        "Components: main\nEnabled: no\n"
    )
    (tmp_path / "sources.list.d" / "vendor.list").write_text("deb http://vendor.invalid/apt nodistro main\n")
    paras = apt._host_source_paragraphs(tmp_path)
    derived = apt.derive_sources(paras, "bookworm", "trixie", "arm64")
    assert derived == [
        {"Types": "deb", "URIs": "http://mirror.invalid/debian", "Suites": "trixie-updates",
         "Components": "main", "Signed-By": "/k.gpg", "Architectures": "arm64"},
        {"Types": "deb", "URIs": "http://mirror.invalid/debian",
         "Suites": "trixie trixie-backports", "Components": "main contrib",
         "Signed-By": "/k.gpg", "Architectures": "arm64"},
    ]  # fmt: skip


def _python_index() -> PackageIndex:
    return index(*_python_paragraphs())


def _python_paragraphs() -> tuple[str, ...]:
    return (
        para("python3.11-minimal", Depends="libc6, zlib1g"),
        para("libpython3.11-stdlib", Depends="libc6, libreadline8, libnsl2, libssl3"),
        para("libreadline8", Depends="libtinfo6, readline-common"),
        para("libnsl2", Depends="libtirpc3"),
        para("libtirpc3", Depends="libgssapi-krb5-2"),
        para("libgssapi-krb5-2", Depends="libc6"),
        para("libtinfo6", Depends="libc6"),
        para("readline-common"),
        para("libssl3", Depends="libc6"),
        para("zlib1g", Depends="libc6"),
        para("libc6"),
        para("gdb", Depends="libreadline8, libc6"),
        para("libstdc++6", Depends="libgcc-s1, libc6"),
        para("libgcc-s1", Depends="libc6"),
    )


def _stage(**fields: object) -> Stage:
    values: dict[str, object] = {
        "name": "source",
        "python": True,
        "system": (),
        "requires": (),
        "requires_file": "",
        "inputs": (),
        "run": ("true",),
        "outputs": ("*",),
    }
    return Stage(**{**values, **fields})  # type: ignore[arg-type]


def test_system_exclude_cuts_a_package_and_what_only_it_pulled_in() -> None:
    stage = _stage(system_exclude=("libreadline*", "libnsl*"))
    closure, trimmed = debian_closure(_python_index(), stage, "3.11", "amd64", frozenset())
    assert trimmed == ("libgssapi-krb5-2", "libnsl2", "libreadline8", "libtinfo6", "libtirpc3", "readline-common")
    assert names(closure) == ["libc6", "libpython3.11-stdlib", "libssl3", "python3.11-minimal", "zlib1g"]
    assert by_name(closure)["libpython3.11-stdlib"].excluded_depends == ("libnsl2", "libreadline8")


def test_system_exclude_never_cuts_what_a_declared_system_package_needs() -> None:
    stage = _stage(system=("gdb",), system_exclude=("libreadline*", "libnsl*"))
    closure, trimmed = debian_closure(_python_index(), stage, "3.11", "amd64", frozenset())
    assert {"gdb", "libreadline8", "libtinfo6", "readline-common"} <= set(names(closure))
    assert trimmed == ("libgssapi-krb5-2", "libnsl2", "libtirpc3")


def test_system_exclude_never_cuts_what_the_compiler_needs() -> None:
    # The wheel stage of a C project: libc6-dev's libnsl-dev and libtirpc-dev match its default patterns.
    compiler_index = index(
        *_python_paragraphs(),
        para("gcc", Depends="libc6"),
        para("libpython3.11-dev", Depends="libc6"),
        para("libc6-dev", Depends="libc6, libnsl-dev, libtirpc-dev"),
        para("libnsl-dev", Depends="libnsl2"),
        para("libtirpc-dev", Depends="libtirpc3"),
    )
    stage = _stage(name="wheel", compiler=True, system_exclude=("libreadline*", "libnsl*", "libtirpc*"))
    closure, trimmed = debian_closure(compiler_index, stage, "3.11", "amd64", frozenset())
    assert {"libc6-dev", "libnsl-dev", "libnsl2", "libtirpc-dev", "libtirpc3"} <= set(names(closure))
    assert trimmed == ("libreadline8", "libtinfo6", "readline-common")


def test_no_system_exclude_keeps_debians_closure() -> None:
    closure, trimmed = debian_closure(_python_index(), _stage(), "3.11", "amd64", frozenset())
    assert trimmed == ()
    assert len(closure) == 11


def _wheel(filename: str) -> WheelEntry:
    return WheelEntry(
        name=filename.split("-")[0],
        version="1",
        filename=filename,
        url=f"http://mirror.invalid/{filename}",
        sha256="0" * 64,
    )


def test_a_binary_wheel_that_loads_the_cpp_runtime_brings_it() -> None:
    pure = _wheel("attrs-25.3.0-py3-none-any.whl")
    cpp = _wheel("ujson-5.10.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    c_only = _wheel("tomli-2.2.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    loads = {cpp.filename: {"libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"}, c_only.filename: {"libc.so.6"}}
    opened: list[str] = []

    def needed_by(wheel: WheelEntry) -> set[str]:
        opened.append(wheel.filename)
        return loads[wheel.filename]

    assert binary_wheel_runtime([pure, c_only], needed_by) == []  # glibc comes with libc6
    assert binary_wheel_runtime([pure, c_only, cpp], needed_by) == ["libgcc-s1", "libstdc++6"]
    assert pure.filename not in opened  # a pure-Python wheel is never downloaded to be read
    # Kept like Python itself: a default system-exclude never cuts it.
    stage = _stage(system_exclude=("libstdc*", "libreadline*"))
    closure, trimmed = debian_closure(
        _python_index(), stage, "3.11", "amd64", frozenset(), binary_wheel_runtime([cpp], needed_by)
    )
    assert {"libstdc++6", "libgcc-s1"} <= set(names(closure))
    assert "libstdc++6" not in trimmed
    plain, _ = debian_closure(_python_index(), _stage(), "3.11", "amd64", frozenset())
    assert "libstdc++6" not in names(plain)


def _git_index() -> PackageIndex:
    return index(
        *_python_paragraphs(),
        para("git", Depends="libc6, libcurl3-gnutls, libpcre2-8-0, zlib1g, perl, liberror-perl, git-man"),
        para("libcurl3-gnutls", Depends="libc6, libgnutls30"),
        para("libgnutls30", Depends="libc6"),
        para("libpcre2-8-0", Depends="libc6"),
        para("perl", Depends="perl-modules-5.36, libperl5.36"),
        para("perl-modules-5.36"),
        para("libperl5.36", Depends="libc6"),
        para("liberror-perl", Depends="perl"),
        para("git-man"),
    )


def test_a_stage_with_git_gets_gits_binary_without_perl_http_or_manuals() -> None:
    closure, trimmed = debian_closure(_git_index(), _stage(git=True), "3.11", "amd64", frozenset())
    assert {"git", "libpcre2-8-0", "zlib1g"} <= set(names(closure))
    assert trimmed == (
        "git-man", "libcurl3-gnutls", "liberror-perl", "libgnutls30", "libperl5.36", "perl", "perl-modules-5.36",
    )  # fmt: skip


def test_git_declared_in_system_keeps_its_whole_closure() -> None:
    closure, trimmed = debian_closure(_git_index(), _stage(git=True, system=("git",)), "3.11", "amd64", frozenset())
    assert {"perl", "libcurl3-gnutls", "git-man"} <= set(names(closure))
    assert trimmed == ()
