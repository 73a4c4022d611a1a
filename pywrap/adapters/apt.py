"""The host's apt *configuration*, read as files: its sources, suite and architecture.

pyrel reads the Debian archive itself (:mod:`pywrap.providers.debian_archive`) and
never runs apt, apt-get, apt-cache or dpkg.  Where no ``debian-mirror`` is configured,
the host's apt sources (``/etc/apt/sources.list``, ``sources.list.d/*.list`` and
``*.sources``) name the mirrors; for a suite other than the host's they are
rewritten (``bookworm-security`` becomes ``trixie-security``).
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from pathlib import Path

from debian.deb822 import Deb822

from pywrap.errors import ResolutionError

SOURCES_DIR = Path("/etc/apt")

#: One-line ``[options]`` whose deb822 field name is not just the capitalized key.
_ONE_LINE_OPTIONS = {"arch": "Architectures", "lang": "Languages", "target": "Targets",
                     "pdiffs": "PDiffs"}  # fmt: skip

#: ``platform.machine()`` -> Debian's architecture name (``dpkg --print-architecture``).
DEBIAN_ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "armhf",
    "armv6l": "armel", "i686": "i386", "i586": "i386", "i386": "i386", "ppc64le": "ppc64el",
    "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64el", "loongarch64": "loong64",
}  # fmt: skip


def host_suite() -> str:
    """The host's codename (``VERSION_CODENAME``): the default suite."""
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        release = {}
    debian_like = "debian" in [release.get("ID", ""), *release.get("ID_LIKE", "").split()]
    codename = release.get("VERSION_CODENAME", "") if debian_like else ""
    if not codename:
        raise ResolutionError(
            "cannot tell this host's Debian suite: /etc/os-release names no Debian (or Debian-based) VERSION_CODENAME",
            hint='set `debian-suite = "bookworm"` (or another suite) in [tool.pyrel]',
        )
    return codename


def host_arch() -> str:
    """The host's Debian architecture, from the machine's hardware name (no dpkg needed)."""
    machine = platform.machine()
    try:
        return DEBIAN_ARCHITECTURES[machine.lower()]
    except KeyError:
        raise ResolutionError(
            f"Debian has no architecture for this machine ({machine!r})", hint='use provider = "nixpkgs"'
        ) from None


# --------------------------------------------------------------------------- sources


def _host_source_paragraphs(root: Path = SOURCES_DIR) -> list[dict[str, str]]:
    """The host's ``deb`` sources as deb822 dicts, from both file formats."""
    paras: list[dict[str, str]] = []
    one_line = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            paras += _parse_one_line(path.read_text())
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        for para in Deb822.iter_paragraphs(path.read_text()):
            if para.get("Enabled", "yes").lower() != "no":
                paras.append(dict(para))
    return [p for p in paras if "deb" in p.get("Types", "").split()]


def _parse_one_line(text: str) -> list[dict[str, str]]:
    paras = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        options: dict[str, str] = {}
        if m := re.match(r"^(\S+)\s+\[([^\]]*)\]\s*(.*)$", line):
            line = f"{m.group(1)} {m.group(3)}"
            for opt in m.group(2).split():
                key, _, value = opt.partition("=")
                field = _ONE_LINE_OPTIONS.get(key) or "-".join(map(str.capitalize, key.split("-")))
                options[field] = value.replace(",", " ")
        words = line.split()
        if len(words) >= 3 and words[0] in ("deb", "deb-src"):
            para = {"Types": words[0], "URIs": words[1], "Suites": words[2]}
            para["Components"] = " ".join(words[3:])
            paras.append({**options, **para})
    return paras


def derive_sources(paras: Iterable[dict[str, str]], host: str, suite: str, arch: str) -> list[dict[str, str]]:
    """Rewrite the host's sources for ``suite``: same mirrors, keys and components;
    ``bookworm-security`` becomes ``trixie-security``.  Third-party sources naming
    other suites are dropped: they were not built for ``suite``."""
    out = []
    for para in paras:
        suites = [
            suite + s[len(host) :] for s in para.get("Suites", "").split() if s == host or s.startswith(host + "-")
        ]
        if suites:
            keep = {k: v for k, v in para.items() if k not in ("Suites", "Architectures")}
            out.append({**keep, "Types": "deb", "Suites": " ".join(suites), "Architectures": arch})
    return out


def host_paragraphs() -> list[dict[str, str]]:
    """The host's ``deb`` sources (none where apt is not configured)."""
    return _host_source_paragraphs() if SOURCES_DIR.is_dir() else []
