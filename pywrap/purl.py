"""Package URLs of locked artifacts: one spelling for the audit, the SBOMs and the attestations."""

from __future__ import annotations

from packageurl import PackageURL
from packaging.utils import canonicalize_name


def deb_purl(name: str, version: str, architecture: str) -> str:
    return str(
        PackageURL(
            type="deb", namespace="debian", name=name, version=version, qualifiers={"arch": architecture}
        ).to_string()
    )


def inventory_purl(name: str, version: str, sha256: str) -> str:
    """An intersphinx inventory (``objects.inv``): no package type names one, so purl's generic type, with its hash."""
    return str(
        PackageURL(
            type="generic", name=f"intersphinx-{name}", version=version, qualifiers={"checksum": f"sha256:{sha256}"}
        ).to_string()
    )


def pypi_purl(name: str, version: str) -> str:
    return str(PackageURL(type="pypi", name=canonicalize_name(name), version=version).to_string())
