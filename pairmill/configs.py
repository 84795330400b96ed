"""Settings of the commands that sit above the pipelines and the trainer: publish, run, demo,
report."""

from __future__ import annotations

from dataclasses import dataclass

from .schemas.settings import non_negative_float, positive_int, setting


@dataclass(kw_only=True)
class PublishConfig:
    source: str = setting(help="a pairs dataset, or with --repo-type model a `pairmill train` "
                               "output folder", positional=True, metavar="DIR")
    repo_id: str = setting(help="the Hub repository", metavar="ORG/NAME")
    repo_type: str = setting("dataset", choices=("dataset", "model"))
    private: bool = setting(False, "create the repository private")
    license: str = setting("other", "license id for the card (other: the sources' licenses "
                                    "apply to their texts)")
    dry_run: str | None = setting(None, "write the exact folder that would be uploaded, upload "
                                        "nothing", metavar="OUTDIR")
    eval: str | None = setting(None, "with --repo-type model: a `pairmill eval --output` report "
                                     "for the card (default: DIR/eval.json when present)",
                               metavar="FILE")
    force: bool = setting(False, "with --repo-type model: upload a model even when its run "
                                 "recorded that no checkpoint beat the base model")


@dataclass(kw_only=True)
class RunConfig:
    recipe: str = setting(help="the recipe file", positional=True, metavar="RECIPE.yaml")
    output: str | None = setting(None, "run folder (default: the recipe's `output`)")
    redo: list[str] = setting([], "run these stages again even if complete (and what depends "
                                  "on them)", many=True, metavar="STAGE")
    plan: bool = setting(False, "print the stages and whether each would run, run nothing")


@dataclass(kw_only=True)
class DemoConfig:
    output: str = setting("demo-output", "run folder")
    budget_mb: int = setting(40, "MB of Python source to mine from site-packages",
                             type=positive_int)


@dataclass(kw_only=True)
class ReportConfig:
    source: str = setting(help="a pairs dataset, a `pairmill train` folder or a `pairmill run` "
                               "folder", positional=True, metavar="DIR")
    output: str | None = setting(None, "folder to write (default: DIR/report)")
    datasets: str | None = setting(None, "for a run folder: where its mined/ and pairs/ datasets "
                                         "are, when a recipe's `datasets:` put them elsewhere "
                                         "(default: DIR)", metavar="ROOT")
    alpha: list[float] = setting([0.0, 0.5, 1.0], "mixture exponents to show task probabilities "
                                                  "for", type=non_negative_float, many=True)
    sample_rows: int = setting(100_000, "rows per task read for the length charts",
                               type=positive_int)
