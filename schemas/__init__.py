"""The data contract shared by every pairmill stage: pair schema, task names, ids, manifest."""

from .manifest import (
    FORMAT,
    FileEntry,
    Manifest,
    ManifestError,
    load_verified_manifest,
    read_manifest,
    validate_dataset,
)
from .pairs import (
    DEAD_LETTER_SCHEMA,
    OPTIONAL_COLUMNS,
    PAIR_SCHEMA,
    REQUIRED_COLUMNS,
    TASKS,
    SchemaError,
    check_task,
    make_dead_letter,
    make_pair,
    pair_id,
    register_task,
)

__all__ = [
    "FORMAT",
    "FileEntry",
    "Manifest",
    "ManifestError",
    "load_verified_manifest",
    "read_manifest",
    "validate_dataset",
    "OPTIONAL_COLUMNS",
    "PAIR_SCHEMA",
    "REQUIRED_COLUMNS",
    "TASKS",
    "DEAD_LETTER_SCHEMA",
    "make_dead_letter",
    "SchemaError",
    "check_task",
    "make_pair",
    "pair_id",
    "register_task",
]
