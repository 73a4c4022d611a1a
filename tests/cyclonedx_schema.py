"""The tests' check that an SBOM pyrel wrote is valid CycloneDX (pyrel itself never validates one)."""

from __future__ import annotations

from collections.abc import Sequence


def validate_sbom(document: str) -> Sequence[str]:
    """Errors of ``document`` against the CycloneDX 1.6 JSON schema (strict); empty when valid."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document, all_errors=True)
    if errors is None:
        return ()
    return [str(error) for error in errors]
