"""`pairmill eval --output-dir`: one JSON per task in MTEB's results layout.

`DIR/<org>__<name>/<revision>/<Task>.json` and `model_meta.json` beside them, as MTEB writes
and the embeddings-benchmark/results repository keeps them, so a figure can be set beside the
published one file by file (`scores.test[0].ndcg_at_10`, `main_score`, `evaluation_time`). BEIR
folders carry their lower-case names; the MTEB task name of each known set is used instead.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .model import base_model_name

# BEIR folder name -> MTEB task name (the English BEIR sets of the MTEB leaderboard)
MTEB_TASKS = {
    "arguana": "ArguAna", "climate-fever": "ClimateFEVER", "dbpedia-entity": "DBPedia",
    "fever": "FEVER", "fiqa": "FiQA2018", "hotpotqa": "HotpotQA", "msmarco": "MSMARCO",
    "nfcorpus": "NFCorpus", "nq": "NQ", "quora": "QuoraRetrieval", "scidocs": "SCIDOCS",
    "scifact": "SciFact", "trec-covid": "TRECCOVID", "webis-touche2020": "Touche2020",
    "android": "CQADupstackAndroidRetrieval", "english": "CQADupstackEnglishRetrieval",
    "gaming": "CQADupstackGamingRetrieval", "gis": "CQADupstackGisRetrieval",
    "mathematica": "CQADupstackMathematicaRetrieval", "physics": "CQADupstackPhysicsRetrieval",
    "programmers": "CQADupstackProgrammersRetrieval", "stats": "CQADupstackStatsRetrieval",
    "tex": "CQADupstackTexRetrieval", "unix": "CQADupstackUnixRetrieval",
    "webmasters": "CQADupstackWebmastersRetrieval", "wordpress": "CQADupstackWordpressRetrieval",
}
NO_REVISION = "no_revision_available"  # MTEB's folder name when a model's revision is unknown


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pairmill")
    except PackageNotFoundError:
        return None


def task_name(set_name: str) -> str:
    """The MTEB task a BEIR folder is (its own name when MTEB has no such task)."""
    return MTEB_TASKS.get(set_name.lower(), set_name)


def model_revision(model: str) -> str:
    """The Hub commit a local model folder was downloaded at, when its path or its
    pairmill_model.json says; else MTEB's placeholder."""
    snapshot = re.search(r"snapshots/([0-9a-f]{40})", str(Path(model).resolve()))
    if snapshot:
        return snapshot.group(1)
    info = Path(model, "pairmill_model.json")
    if info.is_file():
        revision = json.loads(info.read_text()).get("revision")
        if revision:
            return str(revision)
    return NO_REVISION


def model_folder(output_dir: str, model: str) -> Path:
    """`DIR/<org>__<name>/<revision>`, MTEB's folder for one model."""
    return Path(output_dir) / base_model_name(model).replace("/", "__") / model_revision(model)


def mteb_scores(metrics: dict[str, float]) -> dict[str, float]:
    """`ndcg@10` -> `ndcg_at_10`, rounded to six digits as MTEB writes them; main_score is
    nDCG@10, MTEB's main score for retrieval."""
    scores = {m.replace("@", "_at_"): round(v, 6) for m, v in sorted(metrics.items())}
    scores["main_score"] = scores["ndcg_at_10"]
    return scores


def write_task(folder: Path, set_name: str, split: str, metrics: dict[str, float],
               seconds: float) -> Path:
    """One task's results file; returns its path."""
    name = task_name(set_name)
    languages = ["eng-Latn"] if set_name.lower() in MTEB_TASKS else []
    result = {
        "dataset_revision": "local",
        "task_name": name,
        "mteb_version": None,
        "pairmill_version": _version(),
        "scores": {split: [{"hf_subset": "default", "languages": languages,
                            **mteb_scores(metrics)}]},
        "evaluation_time": round(seconds, 3),
        "kg_co2_emissions": None,
        "date": time.time(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def write_model_meta(folder: Path, model: str, max_length: int, dim: int,
                     prompts: dict[str, str]) -> Path:
    """`model_meta.json`: what MTEB records of the model, plus how pairmill embedded it."""
    meta = {"name": base_model_name(model), "revision": model_revision(model),
            "max_tokens": max_length, "embed_dim": dim, "similarity_fn_name": "cosine",
            "framework": ["pairmill"], "modalities": ["text"],
            "pairmill": {"version": _version(), "max_length": max_length, "prompts": prompts}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model_meta.json"
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path
