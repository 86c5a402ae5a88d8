"""The JSON Schema of the published record, generated from the typed record (:mod:`.model`,
:mod:`.whole`): the same annotations validate what the engine reads, so the schema cannot
drift from it. Published beside the record as ``d2l-record.schema.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from d2l_compiler.engine.formats import RECORD_FORMAT
from d2l_compiler.engine.record.whole import Record

SCHEMA_NAME = "d2l-record.schema.json"


def record_schema() -> dict[str, Any]:
    """The record's JSON Schema (draft 2020-12)."""
    generated = msgspec.json.schema(Record)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_NAME,
            "title": f"d2l_compiler build record (d2l-record.json), format {RECORD_FORMAT}",
            "description": (
                "What every executed region of every page printed, bound and raised, where it "
                "ran, and the inputs of each page's content key (its key: the hex SHA-256 of "
                "the inputs as compact JSON with sorted keys, json.dumps(inputs, "
                "sort_keys=True, separators=(',', ':'))). Generated from the engine's typed "
                "record (d2l_compiler.engine.record)."),
            **generated}


def schema_file(folder: Path) -> Path:
    """The schema as a file in ``folder`` (written when it is missing or differs)."""
    path = folder / SCHEMA_NAME
    text = json.dumps(record_schema(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path
