"""`pairmill filter`: planted mismatched pairs are removed, true pairs stay, counted."""

import json

import pyarrow.parquet as pq

from pairmill.cli import main
from pairmill.schemas import make_pair, read_manifest

from .test_dedup import write_dataset

TOPICS = ["volcano eruptions", "violin making", "income tax returns", "sourdough bread",
          "honey bees", "solar panels", "chess openings", "marathon training", "coral reefs",
          "jazz piano", "dog grooming", "roof repair", "black holes", "tomato plants",
          "credit scores", "glacier melting", "yoga breathing", "bicycle brakes",
          "vaccine trials", "desert camels", "knitting socks", "guitar tuning",
          "wine tasting", "earthquake safety", "python decorators", "ancient Rome",
          "sleep apnea", "wind turbines", "sushi rice", "kidney stones"]


def _pairs():
    true = [make_pair("stackexchange_question_answer", f"What should I know about {t}?",
                      f"Here is what matters about {t}: the basics of {t}, common mistakes "
                      f"people make with {t}, and where to learn more about {t}.", "s", f"t{i}")
            for i, t in enumerate(TOPICS)]
    # a question answered by a text about something else entirely
    wrong = [make_pair("stackexchange_question_answer", f"How do I get started with {a}?",
                       f"Here is what matters about {b}: the basics of {b}, common mistakes "
                       f"people make with {b}, and where to learn more about {b}.", "s", f"w{i}")
             for i, (a, b) in enumerate(zip(TOPICS[:6], TOPICS[-6:][::-1], strict=True))]
    return true, wrong


def test_mismatched_pairs_are_removed_and_true_pairs_stay(tmp_path):
    true, wrong = _pairs()
    folder = write_dataset(tmp_path / "in", true + wrong)
    out = tmp_path / "out"
    assert main(["filter", "--input", str(folder), "--output", str(out), "--top-k", "2",
                 "--pool", "64"]) == 0
    kept = {r["origin"] for f in out.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()}
    assert {p["origin"] for p in wrong}.isdisjoint(kept)
    assert len(kept & {p["origin"] for p in true}) >= 0.9 * len(true)
    manifest = read_manifest(out)
    assert manifest.counters["drops"]["inconsistent"] == len(true) + len(wrong) - len(kept)
    assert json.loads((out / "manifest.json").read_text())["command"][:2] == ["pairmill", "filter"]
    assert main(["stats", str(out)]) == 0


def test_small_pools_borrow_candidates_and_bad_settings_are_refused(tmp_path, capsys):
    true, wrong = _pairs()
    folder = write_dataset(tmp_path / "in", true + wrong)
    out = tmp_path / "out"
    # pools of 20: the last pool (16 rows) is ranked against the previous pool's documents too
    assert main(["filter", "--input", str(folder), "--output", str(out), "--top-k", "2",
                 "--pool", "20"]) == 0
    rows = [r for f in out.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    drops = read_manifest(out).counters["drops"].get("inconsistent", 0)
    assert len(rows) + drops == len(true) + len(wrong) and drops >= len(wrong) // 2
    assert main(["filter", "--input", str(folder), "--output", str(out)]) == 2  # exists
    assert main(["filter", "--input", str(folder), "--output", str(tmp_path / "o2"),
                 "--top-k", "5", "--pool", "5"]) == 2
    assert "--top-k must be smaller than --pool" in capsys.readouterr().err
