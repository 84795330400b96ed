"""`pairmill dedup`: exact and MinHash near-duplicate removal, and decontamination.

Shuffles carry ids, band keys and signatures, never texts:
  1. read pairs, sign them in batches (pipelines.minhash), emit small sketches;
  2. exact duplicates: group sketches by normalised-text key, keep the best;
  3. near duplicates (within a task): group (id, quality) by LSH bucket; the best member is
     the candidate survivor and every other member a candidate duplicate of it;
  4. candidates are verified on their signatures (joined by id) against the threshold;
  5. evaluation texts go into the same buckets; a pair whose query or document verifies
     against one is removed as contaminated;
  6. texts are joined back by id once; the dataset writer then groups survivors into
     per-task shards (the only other step that moves texts).
No step needs one worker to see all the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq

from ..schemas import load_verified_manifest
from .dataset_sink import exact_key
from .minhash import LshBands, estimated_jaccard, signatures

PAIR, EVAL = "p", "e"


def dataset_files(dirs: list[str]) -> list[str]:
    """Parquet files of verified datasets (a damaged dataset stops the run before it starts)."""
    files = []
    for folder in dirs:
        manifest = load_verified_manifest(folder)
        files.extend(str(Path(folder, e.path)) for files_ in manifest.tasks.values()
                     for e in files_)
    return sorted(files)


def read_pairs(path: str) -> Iterator[dict]:
    """Rows of one Parquet file, a row group at a time (bounded memory)."""
    parquet = pq.ParquetFile(path)
    for i in range(parquet.num_row_groups):
        yield from parquet.read_row_group(i).to_pylist()


def read_eval_texts(path: str) -> Iterator[tuple[str, str]]:
    """(eval id, text) from JSON lines (every string field) or Parquet (every string column)."""
    name = Path(path).name
    if path.endswith(".parquet"):
        table = pq.read_table(path)
        cols = [c for c, t in zip(table.column_names, table.schema.types, strict=True)
                if str(t) in ("string", "large_string")]
        for n, row in enumerate(table.select(cols).to_pylist()):
            for col, value in row.items():
                if value and value.strip():
                    yield f"{name}:{n}:{col}", value
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = line  # a plain text line
            values = obj.items() if isinstance(obj, dict) else [("text", obj)]
            for key, value in values:
                if isinstance(value, str) and value.strip():
                    yield f"{name}:{n + 1}:{key}", value


def quality(pair: dict) -> float:
    """The survivor rule's quality: the source's score when it has one, else text length."""
    score = pair.get("score")
    if score is not None and score == score:
        return float(score)
    return float(len(pair["query"]) + len(pair["document"]))


class SignPairs(beam.DoFn):
    """A batch of pairs -> sketches: (id, task, quality, exact key, signature(s))."""

    def __init__(self, num_perm: int, ngram: int, decontaminate: bool, field: str):
        self._num_perm, self._ngram = num_perm, ngram
        self._decontaminate, self._field = decontaminate, field

    def process(self, batch: list[dict]):
        texts = [_dedup_text(p, self._field) for p in batch]
        sigs = signatures(texts, self._num_perm, self._ngram)
        if self._decontaminate:
            query_sigs = signatures([p["query"] for p in batch], self._num_perm, self._ngram)
            doc_sigs = signatures([p["document"] for p in batch], self._num_perm, self._ngram)
        for i, pair in enumerate(batch):
            sketch = {"id": pair["id"], "task": pair["task"], "quality": quality(pair),
                      "exact": exact_key(pair), "sig": sigs[i]}
            if self._decontaminate:
                sketch["query_sig"], sketch["document_sig"] = query_sigs[i], doc_sigs[i]
            yield sketch


def _dedup_text(pair: dict, field: str) -> str:
    if field == "query":
        return pair["query"]
    if field == "document":
        return pair["document"]
    return pair["query"] + "\n" + pair["document"]


def _rank(member) -> tuple:
    """Sort key: best first (highest quality, then smallest id)."""
    return (-member[1], member[0])


def exact_verdicts(group) -> Iterator[tuple]:
    """(id, ("removed", reason, survivor)) for all but the best of one exact-duplicate group,
    and (survivor, ("stood_for", n))."""
    _, members = group
    # Copies with one id (the same pair in two input datasets) are one pair here; the join
    # back by id keeps one of them and counts the others.
    members = sorted(set(members), key=_rank)
    best = members[0][0]
    for member in members[1:]:
        yield member[0], ("removed", "exact_duplicate", best)
    if len(members) > 1:
        yield best, ("stood_for", len(members) - 1)


def bucket_candidates(group) -> Iterator[tuple]:
    """Candidate edges of one LSH bucket: (other id, (best id, kind)) and eval collisions."""
    _, members = group
    pairs = sorted((m for m in members if m[2] == PAIR), key=_rank)
    evals = [m for m in members if m[2] == EVAL]
    if len(pairs) > 1:
        best = pairs[0][0]
        for other in pairs[1:]:
            yield other[0], (best, "near")
    for ev in evals:
        for pair in pairs:
            if pair[3]:  # field ("query"/"document") this key came from
                yield pair[0], (ev[0], pair[3])


class Dedup(beam.PTransform):
    """Pairs -> (kept pairs, counters, report pieces)."""

    def __init__(self, threshold: float, num_perm: int, ngram: int, field: str,
                 eval_files: list[str]):
        super().__init__()
        self._threshold, self._num_perm, self._ngram = threshold, num_perm, ngram
        self._field, self._eval_files = field, eval_files
        self._bands = LshBands.for_threshold(threshold, num_perm)

    def expand(self, pairs):
        bands, threshold = self._bands, self._threshold
        decon = bool(self._eval_files)
        sketches = (pairs
                    | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                    | "Sign" >> beam.ParDo(SignPairs(self._num_perm, self._ngram, decon,
                                                     self._field)))
        # 2. exact duplicates
        exact = (sketches
                 | "ExactKey" >> beam.Map(lambda s: (s["exact"], (s["id"], s["quality"])))
                 | "ExactGroup" >> beam.GroupByKey()
                 | "ExactVerdicts" >> beam.FlatMap(exact_verdicts))
        removed_exact = (exact | "ExactRemoved" >> beam.Filter(lambda kv: kv[1][0] == "removed")
                         | "ExactIds" >> beam.Map(lambda kv: (kv[0], True)))
        # sketches that survive exact dedup (joined by id, small records only)
        survivors = ({"s": sketches | "SketchById" >> beam.Map(lambda s: (s["id"], s)),
                      "x": removed_exact}
                     | "JoinExact" >> beam.CoGroupByKey()
                     | "KeepExactSurvivors" >> beam.FlatMap(
                         lambda kv: [] if kv[1]["x"] else kv[1]["s"][:1]))

        def pair_keys(s):
            member = (s["id"], s["quality"], PAIR, "")
            for key in bands.keys(s["sig"]):  # near duplicates only within a task
                yield (0, s["task"], key), member
            if decon:
                for field in ("query", "document"):
                    member = (s["id"], s["quality"], PAIR, field)
                    for key in bands.keys(s[f"{field}_sig"]):
                        yield (1, "", key), member

        members = survivors | "PairBuckets" >> beam.FlatMap(pair_keys)
        sig_store = survivors | "SigStore" >> beam.FlatMap(_signature_entries, decon)
        if decon:
            evals = (pairs.pipeline
                     | "EvalFiles" >> beam.Create(sorted(self._eval_files))
                     | "EvalTexts" >> beam.FlatMap(read_eval_texts)
                     | "EvalBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                     | "EvalSign" >> beam.FlatMap(_sign_eval, self._num_perm, self._ngram))
            eval_members = evals | "EvalBuckets" >> beam.FlatMap(
                lambda e: [((1, "", k), (e[0], 0.0, EVAL, "")) for k in bands.keys(e[1])])
            members = (members, eval_members) | "AllMembers" >> beam.Flatten()
            sig_store = ((sig_store, evals | "EvalSigs" >> beam.Map(lambda e: ((e[0], ""), e[1])))
                         | "AllSigs" >> beam.Flatten())
        edges = (members
                 | "Buckets" >> beam.GroupByKey()
                 | "Candidates" >> beam.FlatMap(bucket_candidates)
                 | "UniqueEdges" >> beam.Distinct())
        # attach the candidate's signature, then the survivor's (or eval text's), then verify;
        # survivors are compared on their dedup signature (field ""), eval texts have one
        with_other = ({"edge": edges | "ByOther" >> beam.Map(
                           lambda e: ((e[0], _field_of(e[1][1])), e)),
                       "sig": sig_store}
                      | "JoinOther" >> beam.CoGroupByKey()
                      | "OtherSig" >> beam.FlatMap(
                          lambda kv: [((e[1][0], ""), (e, kv[1]["sig"][0]))
                                      for e in kv[1]["edge"]] if kv[1]["sig"] else []))
        verdicts = ({"edge": with_other, "sig": sig_store}
                    | "JoinTarget" >> beam.CoGroupByKey()
                    | "Verify" >> beam.FlatMap(_verify_edges, threshold))
        stood_for_near = (verdicts
                          | "NearOnly" >> beam.Filter(lambda kv: kv[1][1] == "near_duplicate")
                          | "ByBest" >> beam.Map(lambda kv: (kv[1][2], ("stood_for", 1))))
        all_verdicts = ((exact, verdicts, stood_for_near) | "AllVerdicts" >> beam.Flatten())
        joined = ({"pair": pairs | "PairById" >> beam.Map(lambda p: (p["id"], p)),
                   "verdict": all_verdicts}
                  | "JoinBack" >> beam.CoGroupByKey()
                  | "Apply" >> beam.ParDo(ApplyVerdicts()).with_outputs("counters", main="pairs"))
        return joined.pairs, joined.counters


def _field_of(kind: str) -> str:
    return "" if kind == "near" else kind


def _signature_entries(s: dict, decon: bool):
    yield (s["id"], ""), s["sig"]
    if decon:
        yield (s["id"], "query"), s["query_sig"]
        yield (s["id"], "document"), s["document_sig"]


def _sign_eval(batch, num_perm: int, ngram: int):
    sigs = signatures([text for _, text in batch], num_perm, ngram)
    for (eval_id, _), sig in zip(batch, sigs, strict=True):
        yield eval_id, sig


def _verify_edges(element, threshold: float):
    (_target, _), grouped = element
    if not grouped["sig"]:
        return
    target_sig = grouped["sig"][0]
    for edge, other_sig in grouped["edge"]:
        other_id, (target, kind) = edge
        if estimated_jaccard(np.asarray(other_sig), np.asarray(target_sig)) < threshold:
            continue
        if kind == "near":
            yield other_id, ("removed", "near_duplicate", target)
        else:
            eval_file = target.split(":", 1)[0]
            yield other_id, ("removed", f"decontaminated:{eval_file}", target)


class ApplyVerdicts(beam.DoFn):
    """Drop removed pairs; record on survivors how many pairs they stood for."""

    def process(self, element):
        _, grouped = element
        if not grouped["pair"]:
            return
        pair = grouped["pair"][0]
        task = pair["task"]
        copies = len(grouped["pair"])  # the same pair (same id) in several inputs
        yield beam.pvalue.TaggedOutput("counters", ("records_read", copies))
        yield beam.pvalue.TaggedOutput("counters", (f"rows_in:{task}", copies))
        if copies > 1:
            yield beam.pvalue.TaggedOutput("counters", ("drop:exact_duplicate", copies - 1))
            yield beam.pvalue.TaggedOutput("counters",
                                           (f"removed:{task}:exact_duplicate", copies - 1))
        removals = sorted(v for v in grouped["verdict"] if v[0] == "removed")
        if removals:
            # contamination outranks duplication in the report: it is the reason users act on
            decon = [r for r in removals if r[1].startswith("decontaminated:")]
            reason = (decon or removals)[0][1]
            yield beam.pvalue.TaggedOutput("counters", (f"drop:{reason}", 1))
            yield beam.pvalue.TaggedOutput("counters", (f"removed:{task}:{reason}", 1))
            return
        stood_for = copies + sum(v[1] for v in grouped["verdict"] if v[0] == "stood_for")
        meta = dict(pair.get("meta") or [])
        meta["duplicates"] = str(stood_for - 1)
        pair = {**pair, "meta": sorted(meta.items())}
        yield beam.pvalue.TaggedOutput("counters", (f"rows_out:{task}", 1))
        yield beam.pvalue.TaggedOutput("counters", (f"cluster_size:{stood_for}", 1))
        yield pair


def build_dedup(pipeline: beam.Pipeline, inputs: list[str], output_dir: str, threshold: float,
                num_perm: int, ngram: int, field: str, eval_files: list[str],
                row_group_size: int, rows_per_file: int) -> None:
    from .dataset_sink import WritePairsDataset

    pairs = (pipeline
             | "Files" >> beam.Create(dataset_files(inputs))
             | "Spread" >> beam.Reshuffle()
             | "Read" >> beam.FlatMap(read_pairs))
    kept, counters = pairs | "Dedup" >> Dedup(threshold, num_perm, ngram, field, eval_files)
    errors = pipeline | "NoErrors" >> beam.Create([])
    _ = {"pairs": kept, "errors": errors, "counters": counters} | "Write" >> WritePairsDataset(
        output_dir, row_group_size=row_group_size, rows_per_file=rows_per_file,
        exact_dedup=False)


def dedup_report(raw: dict, threshold: float, num_perm: int, ngram: int, field: str,
                 bands: LshBands) -> dict:
    """Rows in/out per task, removals by reason (per task), cluster-size histogram."""
    tasks: dict[str, dict] = {}
    histogram: dict[str, int] = {}
    for key, n in raw.items():
        kind, _, rest = key.partition(":")
        if kind in ("rows_in", "rows_out"):
            tasks.setdefault(rest, {"rows_in": 0, "rows_out": 0, "removed": {}})[kind] = n
        elif kind == "removed":
            task, _, reason = rest.partition(":")
            entry = tasks.setdefault(task, {"rows_in": 0, "rows_out": 0, "removed": {}})
            entry["removed"][reason] = n
        elif kind == "cluster_size":
            histogram[rest] = n
    return {"dedup": {
        "threshold": threshold, "num_perm": num_perm, "ngram": ngram, "field": field,
        "bands": bands.bands, "rows_per_band": bands.rows,
        "tasks": dict(sorted(tasks.items())),
        "cluster_sizes": dict(sorted(histogram.items(), key=lambda kv: int(kv[0]))),
    }}
