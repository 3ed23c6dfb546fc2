"""Load and validate ``MarketMaker`` manifests: YAML files → typed, validated specs.

The public face of ``controller.spec``; the work is done by modules of one job each:

* ``files``: paths and directories → files → documents, duplicate names across files;
* ``yaml_loader``: the safe YAML loader and its size, depth and alias limits;
* ``document``: one document through normalise → schema → rules → ``build``;
* ``schema_messages``: JSON Schema (``schemas/marketmaker.schema.json``) violations as words;
* ``rules``: the semantic rules a schema cannot express;
* ``build``: validated mapping → ``MarketMakerSpec``; ``dump``: the way back, to YAML.

Nothing here raises on bad input (except ``load_manifests``, by design): every problem
becomes a ``ManifestError`` whose ``str()`` is one line, ``<file>[<doc>] <field.path>: <message>``.
This module may not grow logic of its own: it only re-exports.
"""

from __future__ import annotations

from controller.spec.document import validate_document
from controller.spec.dump import API_VERSION, KIND, dump_manifests, spec_to_manifest
from controller.spec.files import MAX_FILE_BYTES, load_manifests, parse_manifest_text, validate_paths
from controller.spec.results import FileLoad, LoadResult, ManifestError, ManifestErrors
from controller.spec.rules import TICK_SIZES
from controller.spec.schema_messages import SCHEMA_NAME
from controller.spec.wording import format_path
from controller.spec.yaml_loader import MAX_DEPTH, MAX_DOCUMENTS, MAX_INT_DIGITS, MAX_NODES

__all__ = [
    "API_VERSION",
    "KIND",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "SCHEMA_NAME",
    "TICK_SIZES",
    "FileLoad",
    "LoadResult",
    "ManifestError",
    "ManifestErrors",
    "dump_manifests",
    "format_path",
    "load_manifests",
    "parse_manifest_text",
    "spec_to_manifest",
    "validate_document",
    "validate_paths",
]
