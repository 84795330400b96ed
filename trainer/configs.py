"""Settings of the training commands (mix, train, eval): torch-free, so `pairmill --help` and a
recipe check load no model code."""

from __future__ import annotations

from dataclasses import dataclass

from ..dataset.settings import row_group_size_setting
from ..schemas.settings import (
    comma_list,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    render_argv,
    setting,
)

# tokens per text for every command that embeds (train, eval, filter, negatives)
DEFAULT_MAX_LENGTH = 128


def max_length_setting():
    return setting(DEFAULT_MAX_LENGTH, "tokens per text", type=positive_int)


def eval_max_length_setting():
    """Evaluation embeds as sentence-transformers and MTEB do: at the model's own length
    (resolved by trainer.st_config.resolve_max_length), so figures match the leaderboard."""
    return setting(None, "tokens per text (default: the model's own max_seq_length from its "
                         "sentence-transformers config, else its tokenizer's limit, as "
                         "sentence-transformers and MTEB use)", type=positive_int)


# GTE §4 fine-tuning; lr is the stage-1 default divided by ten.
STAGE2_PRESET = {"batch_size": 128, "group_size": 16, "max_length": 512, "lr": 2e-6}

def comma_ints(text) -> tuple[int, ...]:
    """`768,512,256` → (768, 512, 256), each positive."""
    values = tuple(int(v) for v in comma_list(text))
    if any(v <= 0 for v in values):
        raise ValueError(f"{text!r}: dimensions must be positive")
    return values


_INPUT_HELP = "pairs datasets (folders or URLs: s3://, gs://, hf://datasets/ORG/NAME)"


@dataclass(kw_only=True)
class MixtureSettings:
    """How the trainer draws its batches: shared by `mix` and `train`."""

    input: list[str] = setting(help=_INPUT_HELP, many=True, metavar="DIR", aliases=("data",))
    alpha: float = setting(0.5, "task sampling p_i ∝ rows_i^alpha: 0 uniform, 1 proportional",
                           type=non_negative_float)
    batch_size: int = setting(1024, "pairs per global batch, all from one task", type=positive_int)
    seed: int = setting(0, type=non_negative_int)


@dataclass(kw_only=True)
class MixConfig(MixtureSettings):
    steps: int = setting(help="global batches", type=positive_int)
    output: str = setting(help="folder to write", metavar="DIR")
    rows_per_file: int = setting(100_000, type=positive_int)
    overwrite: bool = setting(False, "replace a mixture already in --output")


def duration(text) -> float:
    """`90`, `90s`, `45m`, `1.5h` → seconds: how a time budget is written."""
    value = str(text).strip().lower()
    unit = {"s": 1, "m": 60, "h": 3600}.get(value[-1:], None)
    try:
        seconds = float(value[:-1] if unit else value) * (unit or 1)
    except ValueError:
        raise ValueError(f"{text!r}: expected a duration such as 90s, 45m or 1h") from None
    if seconds <= 0:
        raise ValueError(f"{text!r}: the duration must be positive")
    return seconds


@dataclass(kw_only=True)
class TrainConfig(MixtureSettings):
    output: str = setting(help="training folder (checkpoints, metrics, model)", metavar="DIR")
    # batch and steps default to None: the run is sized to the device and --time-budget
    batch_size: int | None = setting(
        None, "pairs per global batch, all from one task (default: sized to the device: 32 on "
              "a CPU, 1024 or more on a GPU, never more than the smallest task)",
        type=positive_int)
    steps: int | None = setting(
        None, "global batches (default: as many as --time-budget allows, from timed warm-up "
              "batches)", type=positive_int)
    time_budget: float = setting(
        3600.0, "wall-clock time the run is sized to when --steps is not given (90s, 45m, 1h): "
                "setup, warm-up batches, training and dev evaluations", type=duration)
    eval_beir: list[str] = setting(
        [], "dev set: BEIR/MTEB folders (or CodeSearchNet files) whose --eval-split is scored "
            "at step 0 and every --eval-every steps; default: a held-out slice of the input "
            "(--dev-pairs)", many=True, metavar="DIR")
    eval_split: str = setting("dev", "the qrels split of --eval-beir folders")
    dev_pairs: int = setting(
        500, "without --eval-beir: pairs per task held out of training as the dev set (at most "
             "a tenth of the task; chosen by pair id); 0: no dev set, the last step is the model",
        type=non_negative_int)
    eval_every: int | None = setting(
        None, "steps between dev evaluations, each also a checkpoint (default: about ten per "
              "run, fewer when an evaluation is slow against the budget)", type=positive_int)
    model: str | None = setting(
        None, "Hugging Face model folder or name (default: packaged all-MiniLM-L6-v2)")
    pooling: str | None = setting(None, "default: the model's own, else mean",
                                  choices=("mean", "cls", "last"))
    loss: str = setting("gte", "a registered loss: gte (GTE's four-direction partition, fixed "
                               "temperature) or cpt (symmetric, trainable temperature)")
    temperature: float | None = setting(
        None, "the loss's temperature (default: gte follows the batch size: 0.05 up to 64 "
              "pairs, 0.01 from 1024, log-interpolated between; cpt learns it from 0.05)",
        type=positive_float)
    lr: float = setting(2e-5, type=positive_float)
    warmup: float = setting(0.1, "warm-up: a fraction of --steps when below 1, else steps",
                            type=non_negative_float)
    weight_decay: float = setting(0.01, type=non_negative_float)
    max_length: int = max_length_setting()
    token_budget: int = setting(16384, "padded tokens per GradCache chunk with gradients",
                                type=positive_int)
    nograd_factor: int = setting(4, "no-grad chunks are this many times larger when dropout is off",
                                 type=positive_int)
    chunk_rows: int = setting(1024, "rows of the similarity matrix computed at once",
                              type=positive_int)
    group_size: int = setting(
        2, "texts per query: its positive and up to G-1 hard negatives from the dataset's "
           "`negatives` column (`pairmill negatives`); 1 uses in-batch negatives only",
        type=positive_int)
    preset: str | None = setting(
        None, "stage2: GTE's fine-tuning settings (batch 128, group 16, 512 tokens, learning "
              "rate 2e-6: the default divided by ten) for every one of these left at its default "
              "value", choices=("stage2",))
    matryoshka_dims: tuple[int, ...] = setting(
        (), "also train truncated embeddings (for example 384,256,128,64): the loss is summed "
            "over these leading dimensions, each renormalised", type=comma_ints, metavar="DIMS")
    report_to: str = setting("none", "also log metrics to tensorboard (OUTPUT/runs), wandb or "
                                     "trackio (both offline unless you configured them)",
                             choices=("none", "tensorboard", "wandb", "trackio"))
    dropout: bool = setting(True, "turn dropout off (allows larger no-grad chunks)")
    bf16: str = setting("auto", "auto: on for CUDA devices that support it",
                        choices=("auto", "on", "off"))
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass")
    checkpoint_every: int = setting(100, type=positive_int)
    keep_checkpoints: int = setting(2, type=positive_int)
    stop_after: int | None = setting(None, "run at most this many steps now; a rerun continues",
                                     type=positive_int)
    device: str | None = setting(None, "cpu, cuda, cuda:1 (default: cuda if present)")
    overwrite: bool = setting(False, "discard a previous run in --output")
    progress: bool = setting(True, "hide the progress bar")


@dataclass(kw_only=True)
class EvalConfig:
    input: list[str] = setting([], "pairs datasets whose pairs are scored", many=True,
                               metavar="DIR", aliases=("data",))
    beir: list[str] = setting([], "BEIR/MTEB retrieval folders (corpus.jsonl, queries.jsonl, "
                                  "qrels/SPLIT.tsv; plain or .gz) or CodeSearchNet JSON-lines "
                                  "files", many=True, metavar="DIR")
    split: str = setting("test", "the qrels split of BEIR folders (test, dev, train)")
    model: str | None = setting(None, "model folder (default: packaged all-MiniLM-L6-v2)")
    candidates: int | None = setting(
        None, "rank each query against N candidates (CodeSearchNet: 1000) instead of the "
              "whole sample", type=positive_int)
    max_pairs: int = setting(1000, "pairs sampled per task", type=positive_int)
    max_length: int | None = eval_max_length_setting()
    query_prompt: str | None = setting(
        None, "text put before every query (default: the model's own prompt for queries from "
              "its config_sentence_transformers.json, as MTEB picks it; E5: 'query: ')",
        metavar="TEXT")
    document_prompt: str | None = setting(
        None, "text put before every document (default: the model's own prompt for documents; "
              "E5: 'passage: ')", metavar="TEXT")
    seed: int = setting(0, type=non_negative_int)
    device: str | None = setting(None)
    json: bool = setting(False, "print the report as JSON")
    output: str | None = setting(None, "also write the report as JSON to FILE (a model card "
                                       "reads it)", metavar="FILE")
    output_dir: str | None = setting(
        None, "also write one JSON per --beir set in MTEB's results layout: "
              "DIR/ORG__NAME/REVISION/TASK.json and model_meta.json", metavar="DIR")
    progress: bool = setting(True, "hide the progress bars")


@dataclass(kw_only=True)
class FilterConfig:
    """`pairmill filter`: keep pairs whose document ranks near the top for their query."""

    input: list[str] = setting(help=_INPUT_HELP, many=True, metavar="DIR")
    output: str = setting(help="dataset folder to write", metavar="DIR")
    model: str | None = setting(None, "model folder (default: packaged all-MiniLM-L6-v2; a "
                                      "model from `pairmill train` in a real run)")
    top_k: int = setting(2, "keep a pair when its document is within the top K for its query "
                            "(E5: 2)", type=positive_int)
    pool: int = setting(1000, "rank among N documents of the task (E5 used 1M at scale; "
                              "memory is one pool's embeddings)", type=positive_int)
    max_length: int = max_length_setting()
    row_group_size: int = row_group_size_setting()
    device: str | None = setting(None)
    overwrite: bool = setting(False, "replace a dataset already in --output")

    def argv(self) -> list[str]:
        return ["filter", *render_argv(self, skip={"overwrite"})]


def parse_rank_range(text: str) -> tuple[int, int]:
    """`A:B` → (A, B): candidate ranks A (inclusive, 0 = the top) to B (exclusive)."""
    start, sep, stop = text.partition(":")
    try:
        a, b = int(start), int(stop)
    except ValueError:
        raise ValueError(f"{text!r}: expected A:B, for example 10:100") from None
    if not sep or a < 0 or b <= a:
        raise ValueError(f"{text!r}: expected 0 <= A < B, for example 10:100")
    return a, b


def rank_range(text: str) -> str:
    """A flag's check: `A:B` as typed, once it parses."""
    parse_rank_range(text)
    return text


@dataclass(kw_only=True)
class NegativesConfig:
    """`pairmill negatives`: hard negatives from a first model, false negatives kept out."""

    input: list[str] = setting(help=_INPUT_HELP, many=True, metavar="DIR")
    output: str = setting(help="dataset folder to write (the input with a `negatives` column)",
                          metavar="DIR")
    corpus: list[str] = setting([], "pairs datasets whose documents of the same task are the "
                                    "candidates (default: the input's own documents)",
                                many=True, metavar="DIR")
    model: str | None = setting(None, "model folder (default: packaged all-MiniLM-L6-v2; a "
                                      "model from `pairmill train` in a real run)")
    per_query: int = setting(7, "negatives per row (a training group is 1 + this; GTE: 15)",
                             type=positive_int)
    rank_range: str = setting("3:60", "sample from candidates ranked A (0 = top) to B, as "
                                      "FlagEmbedding and sentence-transformers do", type=rank_range)
    margin: float = setting(0.05, "relative margin: a candidate scoring above (1 - X) times the "
                                  "positive's score is a likely false negative and skipped",
                            type=non_negative_float)
    near_duplicate: float = setting(0.8, "a candidate whose estimated Jaccard similarity to the "
                                         "positive reaches this is a copy of it and skipped",
                                    type=non_negative_float)
    max_length: int = max_length_setting()
    token_budget: int = setting(8192, "padded tokens embedded at once (memory grows with it)",
                                type=positive_int)
    block_rows: int = setting(16384, "corpus rows scored at once (memory: queries × this)",
                              type=positive_int)
    query_rows: int = setting(1024, "queries searched at once", type=positive_int)
    search: str = setting("exact", "exact: blocked inner products over the memory-mapped "
                                   "corpus; faiss: a faiss flat index (pip install faiss-cpu), "
                                   "faster on large corpora, the embedding matrix in memory",
                          choices=("exact", "faiss"))
    teacher: str | None = setting(
        None, "a cross-encoder folder (Hugging Face sequence classification) that scores each "
              "candidate against the query; see --teacher-max-score")
    teacher_max_score: float = setting(
        0.5, "with --teacher: a candidate the teacher scores at or above this (sigmoid of its "
             "logit, 0..1) is a likely positive and skipped", type=non_negative_float)
    row_group_size: int = row_group_size_setting()
    seed: int = setting(0, type=non_negative_int)
    device: str | None = setting(None)
    overwrite: bool = setting(False, "replace a dataset already in --output (otherwise a rerun "
                                     "resumes: finished tasks are kept)")

    def argv(self) -> list[str]:
        return ["negatives", *render_argv(self, skip={"overwrite"})]
