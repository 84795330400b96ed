"""How a model folder asks to be embedded: its maximum length and its prompts.

sentence-transformers and MTEB read these from the files a sentence-transformers folder carries
(`sentence_bert_config.json`, `config_sentence_transformers.json`); pairmill reads the same files
so that its default figures are the ones users compare with. Torch-free (plain JSON reads).
"""

from __future__ import annotations

import json
from pathlib import Path

# A tokenizer without a real limit reports a huge sentinel (transformers' VERY_LARGE_INTEGER).
_SANE_LIMIT = 100_000
FALLBACK_MAX_LENGTH = 512
# the prompt names sentence-transformers' encode_query / encode_document look for, in order
PROMPT_KEYS = {"query": ("query",), "document": ("document", "passage", "corpus")}


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_max_length(model: str) -> int:
    """Tokens per text sentence-transformers would use for this folder: its `max_seq_length`,
    else the smaller of the tokenizer's `model_max_length` and the position embeddings."""
    folder = Path(model)
    # sentence-transformers reads its config only in its own folders (those with modules.json)
    if (folder / "modules.json").is_file():
        own = _json(folder / "sentence_bert_config.json").get("max_seq_length")
        if isinstance(own, int) and own > 0:
            return own
    limits = [_json(folder / "tokenizer_config.json").get("model_max_length"),
              _json(folder / "config.json").get("max_position_embeddings")]
    sane = [int(v) for v in limits if isinstance(v, (int, float)) and 0 < v < _SANE_LIMIT]
    return min(sane) if sane else FALLBACK_MAX_LENGTH


def resolve_max_length(model: str, max_length: int | None) -> int:
    """The length given, else the model's own: the one rule of every command that evaluates."""
    return max_length if max_length is not None else model_max_length(model)


def model_prompts(model: str) -> tuple[dict[str, str], str | None]:
    """The prompts a sentence-transformers folder declares, and its default prompt's name."""
    config = _json(Path(model) / "config_sentence_transformers.json")
    prompts = config.get("prompts") or {}
    prompts = {str(k): str(v) for k, v in prompts.items()} if isinstance(prompts, dict) else {}
    default = config.get("default_prompt_name")
    return prompts, default if default in prompts else None


def prompt_for(model: str, kind: str, task: str | None = None, given: str | None = None) -> str:
    """The text put before every `kind` ("query" or "document") text of a task.

    `given` (a flag) wins. Otherwise MTEB's order: `TASK-kind`, `TASK`, `Retrieval-kind`,
    `Retrieval`, then the names sentence-transformers' `encode_query`/`encode_document` use,
    then the model's default prompt; none of these gives no prompt.
    """
    if given is not None:
        return given
    prompts, default = model_prompts(model)
    names = [f"{task}-{kind}", task] if task else []
    names += [f"Retrieval-{kind}", "Retrieval", *PROMPT_KEYS[kind]]
    for name in names:
        if name in prompts:
            return prompts[name]
    return prompts[default] if default else ""
