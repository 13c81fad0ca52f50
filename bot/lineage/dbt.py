"""dbt's manifest.json (schema v10 to v12) as lineage edges: each model, seed and snapshot reads what its
`depends_on.nodes` names; sources are tables named by their `identifier`.

The shape is dbt's: https://docs.getdbt.com/reference/artifacts/manifest-json and the JSON schemas at
https://schemas.getdbt.com/dbt/manifest/v12.json (v11, v10 alike for these fields): `metadata.dbt_schema_version`,
`nodes[unique_id]` with `resource_type`, `database`, `schema`, `alias` (else `name`) and `depends_on.nodes`;
`sources[unique_id]` with `database`, `schema`, `identifier` (else `name`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.lineage.graph import Graph

SUPPORTED = (10, 11, 12)
# Tables in the warehouse: tests, analyses, operations and unit tests are not.
_TABLES = {"model", "seed", "snapshot"}


class ManifestError(ValueError):
    """The manifest cannot be read; the message says what to do."""


def _relation(node: dict[str, Any], name_key: str) -> str | None:
    name = node.get(name_key) or node.get("name")
    parts = [node.get("database"), node.get("schema"), name]
    if not name or not node.get("schema"):
        return None
    return ".".join(str(p) for p in parts if p)


def version(doc: dict[str, Any]) -> int | None:
    m = re.search(r"/manifest/v(\d+)\.json", str((doc.get("metadata") or {}).get("dbt_schema_version", "")))
    return int(m.group(1)) if m else None


def parse(doc: dict[str, Any], origin: str = "dbt manifest") -> Graph:
    """The edges of a parsed manifest.json; ManifestError when it is not one dre-bot can read."""
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict):
        raise ManifestError(f"{origin} is not a dbt manifest (no `nodes`): point [lineage] dbt_manifest at "
                            "target/manifest.json, written by `dbt parse` or any dbt run.")
    found = version(doc)
    if found is not None and found not in SUPPORTED:
        raise ManifestError(f"{origin} is dbt manifest schema v{found}; dre-bot reads v10 to v12 (dbt 1.6 and "
                            "later). Regenerate it with a newer dbt: `dbt parse`.")
    relations: dict[str, str] = {}
    for uid, node in doc["nodes"].items():
        if isinstance(node, dict) and node.get("resource_type") in _TABLES:
            rel = _relation(node, "alias")
            if rel:
                relations[uid] = rel
    for uid, source in (doc.get("sources") or {}).items():
        if isinstance(source, dict):
            rel = _relation(source, "identifier")
            if rel:
                relations[uid] = rel
    edges = []
    for uid, node in doc["nodes"].items():
        if uid not in relations:
            continue
        for dep in ((node.get("depends_on") or {}).get("nodes") or []):
            if dep in relations:
                edges.append((relations[dep], relations[uid]))
    return Graph.of(edges, origin)


def load(path: str | Path) -> Graph:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ManifestError(f"[lineage] dbt_manifest names {path}, which does not exist. Run `dbt parse` and "
                            "point it at target/manifest.json.") from None
    except ValueError as exc:
        raise ManifestError(f"{path} is not JSON ({exc}); point [lineage] dbt_manifest at dbt's "
                            "target/manifest.json.") from None
    return parse(doc, str(path))
