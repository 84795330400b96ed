"""The training commands of `pairmill`: mix, train, eval. torch is imported only when they run."""

from __future__ import annotations

import json
import os
import sys

from ..cli_types import non_negative_float, non_negative_int, positive_float, positive_int

TRAINER_COMMANDS = ("mix", "train", "eval")


def _add_mixture_flags(parser, steps_default: int | None) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="pairs datasets (folders or fsspec URLs such as hf://datasets/ORG/NAME)")
    parser.add_argument("--alpha", type=non_negative_float, default=0.5,
                        help="task sampling p_i ∝ rows_i^alpha: 0 uniform, 1 proportional (0.5)")
    parser.add_argument("--batch-size", type=positive_int, default=1024,
                        help="pairs per global batch, all from one task (1024)")
    parser.add_argument("--steps", type=positive_int, required=steps_default is None,
                        default=steps_default, help="global batches")
    parser.add_argument("--seed", type=non_negative_int, default=0)


def add_commands(commands) -> None:
    mix = commands.add_parser(
        "mix", help="write the training mixture as sequential one-task-per-batch shards",
        description="Materialise the trainer's mixture plan: every aligned block of --batch-size "
                    "rows is one task, in the order `pairmill train` would use.")
    _add_mixture_flags(mix, None)
    mix.add_argument("--output", required=True, help="folder to write")
    mix.add_argument("--rows-per-file", type=positive_int, default=100_000)
    mix.add_argument("--overwrite", action="store_true")

    train = commands.add_parser(
        "train", help="contrastive training with GradCache on a task mixture",
        description="Train an embedding model on pairs datasets. Reruns with the same --output "
                    "resume from the last checkpoint. Multi-GPU: torchrun --nproc_per_node N "
                    "-m pairmill train ...")
    _add_mixture_flags(train, 1000)
    train.add_argument("--output", required=True, help="training folder (checkpoints, metrics, model)")
    train.add_argument("--model", default=None,
                       help="Hugging Face model folder or name (default: packaged all-MiniLM-L6-v2)")
    train.add_argument("--pooling", choices=("mean", "cls", "last"), default=None,
                       help="default: the model's own, else mean")
    train.add_argument("--loss", choices=("gte", "cpt"), default="gte")
    train.add_argument("--temperature", type=positive_float, default=None,
                       help="gte: fixed (0.01); cpt: initial value of the trainable one (0.05)")
    train.add_argument("--lr", type=positive_float, default=2e-5)
    train.add_argument("--warmup", type=non_negative_float, default=0.1,
                       help="warm-up: a fraction of --steps when below 1, else steps (0.1)")
    train.add_argument("--weight-decay", type=non_negative_float, default=0.01)
    train.add_argument("--max-length", type=positive_int, default=128, help="tokens per text (128)")
    train.add_argument("--token-budget", type=positive_int, default=16384,
                       help="padded tokens per GradCache chunk with gradients (16384)")
    train.add_argument("--nograd-factor", type=positive_int, default=4,
                       help="no-grad chunks are this many times larger when dropout is off (4)")
    train.add_argument("--chunk-rows", type=positive_int, default=1024,
                       help="rows of the similarity matrix computed at once (1024)")
    train.add_argument("--negatives", type=non_negative_int, default=1,
                       help="hard negatives per pair from a `negatives` column (1)")
    train.add_argument("--no-dropout", dest="dropout", action="store_false",
                       help="turn dropout off (allows larger no-grad chunks)")
    train.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    train.add_argument("--gradient-checkpointing", action="store_true")
    train.add_argument("--checkpoint-every", type=positive_int, default=100)
    train.add_argument("--keep-checkpoints", type=positive_int, default=2)
    train.add_argument("--stop-after", type=positive_int, default=None,
                       help="run at most this many steps now; a rerun continues")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if present)")
    train.add_argument("--overwrite", action="store_true", help="discard a previous run in --output")
    train.add_argument("--no-progress", dest="progress", action="store_false")

    evaluate = commands.add_parser(
        "eval", help="retrieval metrics of a model on a dataset's held-out pairs",
        description="MRR@10, nDCG@10 and Recall@1/10/100 of each query against the documents.")
    evaluate.add_argument("--model", default=None,
                          help="model folder (default: packaged all-MiniLM-L6-v2)")
    evaluate.add_argument("--data", nargs="+", required=True, metavar="DIR")
    evaluate.add_argument("--candidates", type=positive_int, default=None,
                          help="rank each query against N candidates (CodeSearchNet: 1000) "
                               "instead of the whole sample")
    evaluate.add_argument("--max-pairs", type=positive_int, default=1000,
                          help="pairs sampled per task (1000)")
    evaluate.add_argument("--max-length", type=positive_int, default=128)
    evaluate.add_argument("--seed", type=non_negative_int, default=0)
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--output", metavar="FILE", default=None,
                          help="also write the report as JSON to FILE (a model card reads it)")


def run_command(args, argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.command == "mix":
        from .mix import write_mixture

        described = write_mixture(args.data, args.output, args.alpha, args.batch_size, args.steps,
                                  args.seed, args.rows_per_file, ["pairmill", *argv], args.overwrite)
        per_task = ", ".join(f"{t}: {n}" for t, n in described["steps_per_task"].items())
        print(f"pairmill: wrote {args.steps} batches of {args.batch_size} to {args.output} ({per_task})")
        return 0
    if args.command == "train":
        from .train import config_from_args, train

        summary = train(config_from_args(args), overwrite=args.overwrite)
        if summary["rank"] != 0:
            return 0
        if summary["finished"]:
            print(f"pairmill: trained {summary['steps']} steps, last loss {summary['last_loss']:.4f}; "
                  f"model in {summary['model']}")
        else:
            print(f"pairmill: stopped after step {summary['steps_done']} of {summary['steps']}; "
                  f"rerun the same command to continue", file=sys.stderr)
        return 0
    from .evaluate import evaluate, format_report
    from .model import default_model_path

    report = evaluate(args.model or default_model_path(), args.data, args.candidates, args.max_pairs,
                      args.max_length, args.seed, args.device)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if args.output:
        from ..schemas import storage

        storage.write_bytes(args.output, (json.dumps(report, indent=2) + "\n").encode())
    return 0
