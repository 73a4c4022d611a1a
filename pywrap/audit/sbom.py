"""SBOMs: CycloneDX 1.6 JSON, one per stage and one per exported artifact (pure).

A stage's SBOM lists every pinned lock entry of its supply chain (what was
needed to build it), each with its purl and sha256; a property says whether
the stage's sandbox could also see it.  The dependency graph is the Debian
``Depends`` edges from the lock; wheels hang off the stage (PEP 751 records no
edges).  The document is deterministic: its serial number is derived from its
content and its timestamp is the release's ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from pywrap.audit import closures

PROPERTY_PREFIX = "pyrel"


def _component(component: closures.Component, in_sandbox: bool) -> Component:
    return Component(
        name=component.name,
        version=component.version,
        # An intersphinx inventory is data the docs are built with, not code.
        type=ComponentType.DATA if component.kind == "inventory" else ComponentType.LIBRARY,
        bom_ref=component.purl,
        purl=PackageURL.from_string(component.purl),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=component.sha256)],
        properties=[
            Property(name=f"{PROPERTY_PREFIX}:kind", value=component.kind),
            Property(name=f"{PROPERTY_PREFIX}:filename", value=component.filename),
            Property(name=f"{PROPERTY_PREFIX}:in-sandbox", value="true" if in_sandbox else "false"),
        ],
    )


def _bom(subject: Component, stage: closures.StageAudit, timestamp: datetime.datetime) -> Bom:
    sandbox_ids = stage.sandbox.component_ids()
    components = {c.id: _component(c, c.id in sandbox_ids) for c in stage.supply_chain.components}
    by_name = {c.name: c for c in stage.supply_chain.components if c.kind == "deb"}
    bom = Bom(metadata=BomMetaData(component=subject, timestamp=timestamp))
    for component in components.values():
        bom.components.add(component)
    depended_on: set[str] = set()
    for entry in stage.supply_chain.components:
        targets = [components[by_name[name].id] for name in entry.depends if name in by_name]
        depended_on |= {by_name[name].id for name in entry.depends if name in by_name}
        bom.register_dependency(components[entry.id], targets)
    # The subject depends directly on every entry nothing else in the closure depends on.
    tops = [components[key] for key in sorted(components) if key not in depended_on]
    bom.register_dependency(subject, tops)
    return bom


def _serialize(bom: Bom) -> str:
    # A serial number from the content keeps the document reproducible.
    bom.serial_number = uuid.UUID(int=0)
    draft = JsonV1Dot6(bom).output_as_string(indent=2)
    bom.serial_number = uuid.UUID(hashlib.sha256(draft.encode()).hexdigest()[:32], version=5)
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _timestamp(source_date_epoch: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(source_date_epoch, tz=datetime.UTC)


def stage_sbom(project: str, stage: closures.StageAudit, *, source_date_epoch: int) -> str:
    subject = Component(
        name=f"{project}-{stage.name}",
        type=ComponentType.APPLICATION,
        bom_ref=f"pyrel-stage:{stage.name}",
        description=f"pyrel stage '{stage.name}' of {project}: its supply chain",
        properties=[
            Property(name=f"{PROPERTY_PREFIX}:derivation", value=stage.derivation),
            Property(name=f"{PROPERTY_PREFIX}:output", value=stage.output),
        ],
    )
    return _serialize(_bom(subject, stage, _timestamp(source_date_epoch)))


def artifact_sbom(
    project: str, stage: closures.StageAudit, artifact_name: str, artifact_sha256: str, *, source_date_epoch: int
) -> str:
    subject = Component(
        name=artifact_name,
        type=ComponentType.FILE,
        bom_ref=f"pyrel-artifact:{stage.name}/{artifact_name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact_sha256)],
        description=f"exported by pyrel stage '{stage.name}' of {project}",
        properties=[
            Property(name=f"{PROPERTY_PREFIX}:stage", value=stage.name),
            Property(name=f"{PROPERTY_PREFIX}:derivation", value=stage.derivation),
        ],
    )
    return _serialize(_bom(subject, stage, _timestamp(source_date_epoch)))
