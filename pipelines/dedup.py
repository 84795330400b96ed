"""`pairmill dedup`: exact and MinHash near-duplicate removal, and decontamination.

Decontamination by n-gram overlap (the default, dataset.contamination): each benchmark's texts
are hashed into n-grams in parallel, merged into one sorted array per benchmark (written under
the spill folder; merged on disk and looked up through a Bloom filter past
`--decontamination-memory-mb`), and every worker checks its pairs against them as a side input
that carries only the arrays' paths. A benchmark is small beside the mined data, so this costs
no shuffle of pairs; only the verdicts of contaminated pairs join the decisions below.

Shuffles carry ids, band keys and signatures, never texts:
  1. read pairs, sign them in batches (dataset.minhash), emit small sketches;
  2. group (id, quality, exact key) by LSH bucket (per task). Exact duplicates share every
     bucket, so band 0's buckets settle them (texts without words get one bucket by their exact
     key); among the rest the best member is the candidate survivor and every other member a
     candidate near duplicate of it. Evaluation texts join the same buckets as contaminants;
  3. every candidate edge meets both signatures in one join keyed by id, and is verified against
     the threshold once both have arrived;
  4. verdicts meet each pair's location (file, row) by id and decide which rows survive;
  5. survivors are read back from the input row groups and written through spill files
     (pipelines.readback): no text ever crosses the runner's shuffle, whose memory on the local
     runner grows with what it carries.
No step needs one worker to see all the data.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import pickle
import re
import tempfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq

from ..dataset.contamination import (
    MAX_NGRAM,
    MEMORY,
    NgramIndex,
    benchmark_grams,
    build_index,
    build_index_on_disk,
    comparable_texts,
    fits_in_memory,
    load_index,
    overlap_words,
)
from ..dataset.minhash import LshBands, estimated_jaccard, signatures
from ..dataset.output import staging_dir
from ..dataset.read import dataset_files, dataset_rows, read_located
from ..dataset.settings import DECONTAMINATION_MIN_TOKENS, DECONTAMINATION_NGRAM, DedupConfig
from ..schemas import storage
from ..schemas.beir import benchmark_texts, is_beir_folder
from ..schemas.counts import Counts
from .dataset_sink import COUNTS, CountsPerBundle, WriteCounts, exact_key
from .readback import SPILL, Kept, WriteKeptRows
from .sharded_group import DEFAULT_NUM_SHARDS, PackCodec, ShardedGroupByKey

PAIR, EVAL = "p", "e"


SKETCH_COLUMNS = ["id", "task", "query", "document", "score", "lang", "source", "origin"]
EXAMPLES = 5  # contaminated pairs shown per benchmark
REPORT_FILE = "decontamination.json"  # in the staging folder, read by the driver


def eval_sources(paths: list[str]) -> list[tuple[str, str]]:
    """(file, label) for every evaluation input: a file is labelled by its name; a pairs dataset
    folder is expanded into its verified Parquet files, labelled by the folder's name."""
    sources = []
    for path in paths:
        label = path.rstrip("/").rsplit("/", 1)[-1].replace(":", "_")  # ":" separates eval ids
        if is_beir_folder(path):  # a benchmark as users have it: its queries and corpus
            sources.append((path, label))
            continue
        files = dataset_files([path]) if storage.is_dir(path) else [path]
        sources.extend((f, label) for f in files)
    return sorted(sources)


def read_eval_texts(source: tuple[str, str], documents: str = "all") -> Iterator[tuple[str, str]]:
    """(eval id, text) from JSON lines (every string field), Parquet (every string column; only
    `query` and `document` of a pairs dataset's files, whose ids and origins are not texts) or a
    BEIR folder (its queries and its corpus: every document, or the judged ones)."""
    path, name = source
    here = format(zlib.crc32(path.encode()), "08x")  # eval ids must be unique across files
    if is_beir_folder(path):
        for text_id, text in benchmark_texts(path, documents):
            if text.strip():
                yield f"{name}:{here}/{text_id}:text", text
        return
    if path.endswith(".parquet"):
        with storage.open_input(path) as f:
            table = pq.read_table(f)
        if {"query", "document", "origin"} <= set(table.column_names):
            table = table.select(["query", "document"])
        cols = [c for c, t in zip(table.column_names, table.schema.types, strict=True)
                if str(t) in ("string", "large_string")]
        for n, row in enumerate(table.select(cols).to_pylist()):
            for col, value in row.items():
                if value and value.strip():
                    yield f"{name}:{here}/{n}:{col}", value
        return
    with storage.open_input(path) as raw, \
            io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as f:
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
                    yield f"{name}:{here}/{n + 1}:{key}", value


def quality(pair: dict) -> float:
    """The survivor rule's quality: the source's score when it has one, else text length."""
    score = pair.get("score")
    if score is not None and score == score:
        return float(score)
    return float(len(pair["query"]) + len(pair["document"]))


class SignPairs(beam.DoFn):
    """A batch of pairs -> sketches: id, task, quality, exact key, signature bytes and band
    keys (for the dedup text, and for query and document alone when decontaminating)."""

    def __init__(self, num_perm: int, ngram: int, bands: LshBands, decontaminate: bool,
                 field: str):
        self._num_perm, self._ngram, self._bands = num_perm, ngram, bands
        self._decontaminate, self._field = decontaminate, field

    def process(self, batch: list[tuple[int, dict]]):
        fields = {"": [_dedup_text(p, self._field) for _, p in batch]}
        if self._decontaminate:
            fields["query"] = [p["query"] for _, p in batch]
            fields["document"] = [p["document"] for _, p in batch]
        signed = {name: self._sign(texts) for name, texts in fields.items()}
        for i, (at, pair) in enumerate(batch):
            sketch = {"id": id_handle(pair["id"]), "pair_id": pair["id"], "task": pair["task"],
                      "quality": quality(pair), "exact": exact_key(pair), "at": at}
            for name, (sigs, keys) in signed.items():
                sketch[f"{name}sig"], sketch[f"{name}keys"] = sigs[i].tobytes(), keys[i]
            yield sketch

    def _sign(self, texts: list[str]):
        sigs = signatures(texts, self._num_perm, self._ngram)
        return sigs, self._bands.keys(sigs)


def _dedup_text(pair: dict, field: str) -> str:
    if field == "query":
        return pair["query"]
    if field == "document":
        return pair["document"]
    return pair["query"] + "\n" + pair["document"]


_HEX_ID = re.compile(r"[0-9a-f]{32}")


def id_handle(pair_id: str) -> bytes:
    """16 bytes standing for a pair id in the shuffles. Ids made by `pair_id` are 32 hex digits
    and their bytes sort as the ids do, so the survivor rule's tie-break is unchanged; any other
    id is hashed (still deterministic)."""
    if _HEX_ID.fullmatch(pair_id):
        return bytes.fromhex(pair_id)
    return hashlib.blake2b(pair_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _rank(member) -> tuple:
    """Sort key: best first (highest quality, then smallest id)."""
    return (-member[1], member[0])


NEAR, DECON, EXACT = 0, 1, 2  # bucket kinds
FIELDS = ("", "query", "document")  # what a member's signature covers


class BucketCodec(PackCodec):
    """Bucket entries of pairs as fixed 44-byte records, evaluation texts' entries pickled
    beside them; a shard's buckets are found by sorting the records, so the (many) buckets
    with one member never become Python objects."""

    ENTRY = np.dtype([("kind", "u1"), ("band", "<u2"), ("key", "<u8"), ("id", "V16"),
                      ("quality", "<f8"), ("field", "u1"), ("exact", "<u8")])

    def encode(self, pack: list[tuple]) -> bytes:
        records = [(*key, m[0], m[1], FIELDS.index(m[3]), m[4])
                   for key, m in pack if m[2] == PAIR]
        evals = [entry for entry in pack if entry[1][2] == EVAL]
        return pickle.dumps((np.array(records, dtype=self.ENTRY).tobytes(), evals),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def regroup(self, blobs, min_size: int):
        arrays, evals = [], defaultdict(list)
        for blob in blobs:
            data, eval_entries = pickle.loads(blob)
            arrays.append(np.frombuffer(data, dtype=self.ENTRY))
            for key, member in eval_entries:
                evals[key].append(member)
        records = np.concatenate(arrays) if arrays else np.empty(0, self.ENTRY)
        if not len(records):  # buckets of evaluation texts alone decide nothing
            return
        records = records[np.lexsort((records["key"], records["band"], records["kind"]))]
        keys = np.stack([records["kind"].astype(np.uint64), records["band"].astype(np.uint64),
                         records["key"]], axis=1)
        starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)])
        ends = np.r_[starts[1:], len(records)]
        wanted = ends - starts >= min_size
        if evals:  # a pair alone in a bucket with evaluation texts is a candidate too
            eval_keys = np.array(list(evals), dtype=np.uint64).reshape(-1, 3)
            wanted |= np.isin(_bucket_hash(keys[starts]), _bucket_hash(eval_keys))
        for start, end in zip(starts[wanted].tolist(), ends[wanted].tolist(), strict=True):
            key = tuple(int(k) for k in keys[start])
            if end - start < min_size and key not in evals:
                continue  # a hash collision with an evaluation text's bucket
            members = [(bytes(r["id"]), float(r["quality"]), PAIR, FIELDS[r["field"]],
                        int(r["exact"])) for r in records[start:end]]
            yield key, members + evals.get(key, [])


def _bucket_hash(keys: np.ndarray) -> np.ndarray:
    """(kind, band, key) rows -> one uint64 each, for set membership tests in numpy."""
    with np.errstate(over="ignore"):
        return keys[:, 2] ^ (keys[:, 1] * np.uint64(0x9E3779B97F4A7C15)) ^ (keys[:, 0] << np.uint64(61))


def bucket_verdicts(group) -> Iterator[tuple]:
    """One bucket -> exact-duplicate verdicts (id, ("removed", ...)) / (id, ("stood_for", n)),
    and candidate edges tagged "edge": (other id, best or eval id, field compared)."""
    (kind, band, _), members = group
    # the same pair read from two inputs is one member here; the join back counts its copies
    pairs = sorted({m for m in members if m[2] == PAIR}, key=_rank)
    if kind == DECON:
        for ev in sorted({m for m in members if m[2] == EVAL}, key=_rank):
            for pair in pairs:
                yield beam.pvalue.TaggedOutput("edge", (pair[0], ev[0], pair[3]))
        return
    best_of_exact: dict[str, tuple] = {}
    for member in pairs:  # best first, so the first of each exact key is its survivor
        best = best_of_exact.setdefault(member[4], member)
        if best is not member and band == 0:
            yield member[0], ("removed", "exact_duplicate", best[0])
    if band == 0:
        sizes = Counter(m[4] for m in pairs)
        for key, best in best_of_exact.items():
            if sizes[key] > 1:
                yield best[0], ("stood_for", sizes[key] - 1)
    survivors = list(best_of_exact.values())
    for other in survivors[1:]:
        yield beam.pvalue.TaggedOutput("edge", (other[0], survivors[0][0], ""))


def bucket_entries(element: dict) -> Iterator[tuple]:
    """(bucket key, member) for a pair's sketch or an evaluation text."""
    if "eval" in element:
        for band, key in enumerate(element["keys"]):
            yield (DECON, band, key), (element["eval"], 0.0, EVAL, "", 0)
        return
    # 60 bits of the exact key suffice: it is only compared inside one LSH bucket
    member = (element["id"], element["quality"], PAIR, "", int(element["exact"][:15], 16))
    salt = _task_salt(element["task"])  # near duplicates only within a task
    for band, key in enumerate(element["keys"]):
        yield (NEAR, band, key ^ salt), member
    if not element["keys"]:  # no words: only exact duplicates are possible
        yield (EXACT, 0, member[4]), member
    for field in ("query", "document"):
        for band, key in enumerate(element.get(f"{field}keys", ())):
            yield (DECON, band, key), (element["id"], element["quality"], PAIR, field, 0)


def signature_entries(element) -> Iterator[tuple]:
    """((id, field), value) for the signature join: a sketch's or an evaluation text's
    signatures, and an edge routed to both signatures it needs (the candidate's for its field,
    the survivor's or evaluation text's for field "")."""
    if isinstance(element, tuple):
        other, target, field = element
        yield (other, field), ("edge", element, 0)
        yield (target, ""), ("edge", element, 1)
    elif "eval" in element:
        yield (element["eval"], ""), ("sig", element["sig"])
    else:
        for field in ("", "query", "document"):
            if f"{field}sig" in element:
                yield (element["id"], field), ("sig", element[f"{field}sig"])


def attach_signature(element) -> Iterator[tuple]:
    """(id, field) with its signature and the edges that need it -> (edge, (end, signature))."""
    _, values = element
    sigs = [v[1] for v in values if v[0] == "sig"]
    if not sigs:
        return
    for edge, end in {v[1:] for v in values if v[0] == "edge"}:  # found in several buckets
        yield edge, (end, sigs[0])


def _bucket_shard(key: tuple) -> int:
    return key[2]


def _id_shard(key: tuple) -> int:
    handle = key[0]
    return zlib.crc32(handle if isinstance(handle, bytes) else handle.encode("utf-8", "surrogatepass"))


def verify_edge(element, threshold: float) -> Iterator[tuple]:
    (other, target, field), ends = element
    sigs = dict(ends)
    if 0 not in sigs or 1 not in sigs:
        return
    if estimated_jaccard(np.frombuffer(sigs[0], dtype=np.uint32),
                         np.frombuffer(sigs[1], dtype=np.uint32)) < threshold:
        return
    if not field:
        yield other, ("removed", "near_duplicate", target)
        yield target, ("stood_for", 1)
    else:
        eval_file = target.split(":", 1)[0]
        yield other, ("removed", f"decontaminated:{eval_file}", target)


@dataclasses.dataclass(frozen=True)
class Decontamination:
    """How `--decontaminate` texts are matched, and where the per-benchmark report is staged."""

    mode: str = "ngram"
    ngram: int = DECONTAMINATION_NGRAM
    min_tokens: int = DECONTAMINATION_MIN_TOKENS
    report_path: str | None = None
    memory: int = MEMORY  # bytes for one benchmark's n-grams in a worker
    documents: str = "all"  # a BEIR folder's corpus documents: all, or the judged ones


def benchmark_parts(batch: list[tuple[str, str]], decon: Decontamination, folder: str | None
                    ) -> Iterator[tuple[str, tuple]]:
    """A batch of (eval id, text) -> per benchmark: (its n-grams, spilled to a file when
    there is a folder, else inline; texts read; lengths of its short texts; n-gram count)."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for eval_id, text in batch:
        by_label[eval_id.split(":", 1)[0]].append((eval_id, text))
    for label, items in sorted(by_label.items()):
        texts = [text for _, text in items]
        grams, short = benchmark_grams(texts, decon.ngram, decon.min_tokens)
        data = grams.tobytes()
        if folder:  # named by its texts' ids (unique): a retried bundle rewrites the same file
            name = hashlib.blake2b("\n".join(i for i, _ in items).encode("utf-8", "surrogatepass"),
                                   digest_size=12).hexdigest()
            path = storage.join(folder, "parts", f"{name}.u64")
            storage.write_bytes(path, data)
            data = path
        yield label, (data, len(texts), tuple(sorted(short)), len(grams))


def merge_benchmark(label: str, parts, decon: Decontamination, folder: str | None
                    ) -> tuple[str, dict]:
    """One benchmark's parts -> its index (written as one file, or kept inline) and report.
    Parts whose merge fits `decon.memory` are merged in memory; bigger benchmarks are merged on
    disk from the part files, in runs, and looked up through a Bloom filter (same removals)."""
    parts = list(parts)  # small: paths (or inline bytes) and counts
    texts = sum(p[1] for p in parts)
    short = set().union(*(p[2] for p in parts))
    name = hashlib.blake2b(label.encode(), digest_size=8).hexdigest()
    if not fits_in_memory(sum(p[3] for p in parts), decon.memory):
        location = storage.join(folder, name) if folder else \
            os.path.join(tempfile.mkdtemp(prefix="pairmill-decontamination-"), name)
        head, ngrams = build_index_on_disk([(p[0], p[3]) for p in parts], short, location,
                                           decon.memory, decon.ngram, decon.min_tokens)
        return label, {"texts": texts, "ngrams": ngrams, "index": head}
    batches = []
    for data, _, part_short, _ in parts:
        if folder:  # the parts go with the staging folder (a retried merge reads them again)
            data = storage.read_bytes(data)
        batches.append((np.frombuffer(data, dtype=np.uint64), set(part_short)))
    index = build_index(batches, decon.ngram, decon.min_tokens)
    data = index.to_bytes()
    if folder:
        path = storage.join(folder, f"{name}.npz")
        storage.write_bytes(path, data)
        data = path
    return label, {"texts": texts, "ngrams": int(len(index.grams)), "index": data}


@functools.lru_cache(maxsize=256)
def _load_index(path: str) -> NgramIndex:
    """A benchmark's index, read once per worker process: every batch of pairs is checked
    against every benchmark, so all of a run's indexes stay (all of BEIR and MTEB's code sets
    are far fewer than 256); each holds at most --decontamination-memory-mb."""
    return load_index(path)


class FindContaminated(beam.DoFn):
    """A batch of pairs -> a `removed` verdict for each pair whose query or document matches a
    benchmark (code compared as code, by the pair's language), and examples tagged "example"."""

    def process(self, batch: list[tuple[int, dict]], benchmarks: list[tuple[str, dict]]):
        views, owner = [], []
        for i, (_, pair) in enumerate(batch):
            for field, lang in (("document", pair.get("lang")), ("query", None)):
                for view in comparable_texts(pair[field], lang):
                    views.append(view)
                    owner.append((i, field))
        for label, info in sorted(benchmarks):
            index = info["index"]
            index = _load_index(index) if isinstance(index, str) else NgramIndex.from_bytes(index)
            seen: set[int] = set()
            for (i, field), view, match in zip(owner, views, index.matches(views), strict=True):
                if match is None or i in seen:
                    continue
                seen.add(i)
                pair = batch[i][1]
                yield id_handle(pair["id"]), ("removed", f"decontaminated:{label}", label)
                origin = "/".join(filter(None, (pair.get("source"), pair.get("origin"))))
                example = {"id": pair["id"], "task": pair["task"], "origin": origin,
                           "field": field, "overlap": overlap_words(view, match)[:300]}
                yield beam.pvalue.TaggedOutput("example", (label, (pair["id"], json.dumps(example))))


class WriteDecontamination(beam.PTransform):
    """(label, report) per benchmark and (label, (id, example)) -> one JSON file for the
    driver: per benchmark its report and its first `EXAMPLES` examples by pair id."""

    def __init__(self, path: str | None, examples):
        super().__init__()
        self._path, self._examples = path, examples

    def expand(self, benchmarks):
        if not self._path:
            return None
        examples = (self._examples
                    | "Smallest" >> beam.combiners.Top.SmallestPerKey(2 * EXAMPLES)
                    | "AllExamples" >> beam.combiners.ToDict())
        return (benchmarks
                | "AllBenchmarks" >> beam.combiners.ToList()
                | "Write" >> beam.Map(_write_report, self._path, beam.pvalue.AsSingleton(examples)))


def _write_report(benchmarks: list, path: str, examples: dict) -> None:
    report = {}
    for label, info in benchmarks:
        # a pair read from two inputs is one example: its first copy's
        unique = {pair_id: json.loads(e) for pair_id, e in reversed(examples.get(label, []))}
        report[label] = {"texts": info.get("texts", 0), "ngrams": info.get("ngrams"),
                         "examples": [unique[i] for i in sorted(unique)][:EXAMPLES]}
    storage.write_bytes(path, json.dumps(report, sort_keys=True).encode())


class NgramDecontamination(beam.PTransform):
    """(location, pair) -> verdicts of the pairs that overlap a benchmark; writes the report."""

    def __init__(self, eval_files: list[str], decon: Decontamination, folder: str | None):
        super().__init__()
        self._eval_files, self._decon, self._folder = eval_files, decon, folder

    def expand(self, pairs):
        decon, folder = self._decon, self._folder
        benchmarks = (pairs.pipeline
                      | "EvalFiles" >> beam.Create(eval_sources(self._eval_files))
                      | "EvalTexts" >> beam.FlatMap(read_eval_texts, decon.documents)
                      | "EvalBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                      | "EvalGrams" >> beam.FlatMap(benchmark_parts, decon, folder)
                      | "EvalByLabel" >> beam.GroupByKey()
                      | "EvalIndex" >> beam.Map(lambda kv: merge_benchmark(*kv, decon, folder)))
        found = (pairs
                 | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                 | "Find" >> beam.ParDo(FindContaminated(), beam.pvalue.AsList(benchmarks))
                 .with_outputs("example", main="verdicts"))
        _ = benchmarks | "Report" >> WriteDecontamination(decon.report_path, found.example)
        return found.verdicts


class Dedup(beam.PTransform):
    """(location, pair) -> (`Kept` rows, counts)."""

    def __init__(self, threshold: float, num_perm: int, ngram: int, field: str,
                 eval_files: list[str], num_shards: int = DEFAULT_NUM_SHARDS,
                 spill_dir: str | None = None, decontamination: Decontamination | None = None):
        super().__init__()
        self._num_shards, self._spill_dir = num_shards, spill_dir
        self._threshold, self._num_perm, self._ngram = threshold, num_perm, ngram
        self._field, self._eval_files = field, eval_files
        self._bands = LshBands.for_threshold(threshold, num_perm)
        self._decon = decontamination or Decontamination()

    def expand(self, pairs):
        by_ngrams = bool(self._eval_files) and self._decon.mode == "ngram"
        decon = bool(self._eval_files) and not by_ngrams
        sketches = (pairs
                    | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                    | "Sign" >> beam.ParDo(SignPairs(self._num_perm, self._ngram, self._bands,
                                                     decon, self._field)))
        signed = (sketches,)  # packed where each is made, never flattened whole
        if decon:
            evals = (pairs.pipeline
                     | "EvalFiles" >> beam.Create(eval_sources(self._eval_files))
                     | "EvalTexts" >> beam.FlatMap(read_eval_texts, self._decon.documents)
                     | "EvalBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=1024)
                     | "EvalSign" >> beam.FlatMap(_sign_eval, self._num_perm, self._ngram,
                                                  self._bands))
            signed = (sketches, evals)
            texts = evals | "EvalLabels" >> beam.Map(lambda e: (e["eval"].split(":", 1)[0], 1))
            _ = ((texts | "EvalCount" >> beam.CombinePerKey(sum)
                  | "EvalInfo" >> beam.MapTuple(lambda label, n: (label, {"texts": n})))
                 | "Report" >> WriteDecontamination(self._decon.report_path,
                                                    pairs.pipeline | "NoExamples" >> beam.Create([])))
        # a bucket with one member decides nothing, so only shared buckets leave the shuffle
        buckets = (signed
                   | "Buckets" >> ShardedGroupByKey(_bucket_shard, self._num_shards, min_size=2,
                                                    entries_of=bucket_entries,
                                                    codec=BucketCodec(),
                                                    spill_dir=self._spill("buckets"))
                   | "Candidates" >> beam.FlatMap(bucket_verdicts).with_outputs(
                       "edge", main="verdicts"))
        verified = ((*signed, buckets.edge)
                    | "JoinSignatures" >> ShardedGroupByKey(_id_shard, self._num_shards,
                                                            min_size=2,
                                                            entries_of=signature_entries,
                                                            spill_dir=self._spill("signatures"))
                    | "AttachSignatures" >> beam.FlatMap(attach_signature)
                    | "EdgeGroup" >> beam.GroupByKey()
                    | "Verify" >> beam.FlatMap(verify_edge, self._threshold))
        located = sketches | "Located" >> beam.Map(
            lambda s: (s["id"], (AT, s["at"], s["task"], s["pair_id"])))
        verdicts = (located, buckets.verdicts, verified)
        if by_ngrams:
            verdicts = (*verdicts, pairs | "Decontaminate" >> NgramDecontamination(
                self._eval_files, self._decon, self._spill("decontamination")))
        decided = (verdicts
                   | "ById" >> ShardedGroupByKey(zlib.crc32, self._num_shards,
                                                 spill_dir=self._spill("decisions"))
                   | "Decide" >> beam.ParDo(Decide()).with_outputs(COUNTS, main="kept"))
        return decided.kept, decided[COUNTS]

    def _spill(self, name: str) -> str | None:
        return storage.join(self._spill_dir, name) if self._spill_dir else None


@functools.lru_cache(maxsize=1024)
def _task_salt(task: str) -> int:
    return int.from_bytes(hashlib.blake2b(task.encode(), digest_size=8).digest(), "little") >> 1


def _sign_eval(batch, num_perm: int, ngram: int, bands: LshBands):
    sigs = signatures([text for _, text in batch], num_perm, ngram)
    for (eval_id, _), sig, keys in zip(batch, sigs, bands.keys(sigs), strict=True):
        yield {"eval": eval_id, "sig": sig.tobytes(), "keys": keys}


AT = "at"  # a pair's location, among its verdicts


class Decide(CountsPerBundle):
    """An id's locations and verdicts -> its survivor (`Kept`, recording how many pairs it
    stood for), or nothing when it was removed."""

    def process(self, element):
        _, values = element
        places = sorted(v[1:] for v in values if v[0] == AT)
        if not places:
            return
        verdicts = [v for v in values if v[0] != AT]
        task = places[0][1]
        count = self._counts
        copies = len(places)  # the same pair (same id) in several inputs
        count.add("total", "records_read", copies)
        count.add("total", "rows_in", copies, task)
        count.add("removed", "exact_duplicate", copies - 1, task)
        removals = sorted(v for v in verdicts if v[0] == "removed")
        if removals:
            # contamination outranks duplication in the report: it is the reason users act on
            decon = [r for r in removals if r[1].startswith("decontaminated:")]
            count.add("removed", (decon or removals)[0][1], 1, task)
            return
        stood_for = copies + sum(v[1] for v in verdicts if v[0] == "stood_for")
        count.add("total", "rows_out", 1, task)
        count.add("histogram", f"cluster_size:{stood_for}")
        # the first copy in input order survives
        location, _, pair_id = places[0]
        yield Kept(location, pair_id, task, (("duplicates", str(stood_for - 1)),))


ENTRIES_PER_SHARD = 1_000_000


def shuffle_shards_for(rows: int, config: DedupConfig) -> int:
    """`--shuffle-shards`, or one shard per million LSH bucket entries (at least 16). A shard
    is one task on Spark and Flink: 1024 of them for 180 pairs took 4 minutes on Spark, 16 took
    71 s; at a billion pairs this gives about 20,000. The bytes written do not depend on it."""
    if config.shuffle_shards:
        return config.shuffle_shards
    bands = LshBands.for_threshold(config.threshold, config.num_perm).bands
    return max(16, -(-rows * bands // ENTRIES_PER_SHARD))


def build_dedup(pipeline: beam.Pipeline, config: DedupConfig) -> None:
    files = dataset_files(config.input)
    shards = shuffle_shards_for(dataset_rows(config.input), config)
    pairs = (pipeline
             | "Files" >> beam.Create(list(enumerate(files)))
             | "Spread" >> beam.Reshuffle()
             | "Read" >> beam.FlatMapTuple(read_located, columns=SKETCH_COLUMNS))
    staging = staging_dir(config.write.output)
    decontamination = Decontamination(config.decontamination_mode, config.decontamination_ngram,
                                      config.decontamination_min_tokens,
                                      storage.join(staging, REPORT_FILE),
                                      config.decontamination_memory_mb << 20,
                                      config.decontamination_documents)
    kept, counts = pairs | "Dedup" >> Dedup(config.threshold, config.num_perm, config.ngram,
                                              config.field, config.decontaminate,
                                              shards, storage.join(staging, SPILL),
                                              decontamination)
    task_rows = kept | "Write" >> WriteKeptRows(files, staging, config.write.row_group_size,
                                                config.write.rows_per_file)
    kept_counts = task_rows | "KeptCounts" >> beam.MapTuple(
        lambda task, n: Counts().add("total", "pairs_kept", n, task))
    _ = (counts, kept_counts) | "Counts" >> WriteCounts(staging)


def decontamination_report(counts: Counts, config: DedupConfig, staged: dict) -> dict:
    """Per benchmark (every one named, zero included): texts read, n-grams held (ngram mode),
    pairs removed (from the `decontaminated:LABEL` counters) and up to `EXAMPLES` of them."""
    labels = sorted({label for _, label in eval_sources(config.decontaminate)})
    removed = Counter()
    for _, reason, n in counts.select("removed"):
        if reason.startswith("decontaminated:"):
            removed[reason.split(":", 1)[1]] += n
    benchmarks = {}
    for label in labels:
        info = staged.get(label, {})
        entry = {"texts": info.get("texts", 0), "removed": removed[label],
                 "examples": info.get("examples", [])}
        if config.decontamination_mode == "ngram":
            entry["ngrams"] = info.get("ngrams") or 0
        benchmarks[label] = entry
    report = {"mode": config.decontamination_mode, "documents": config.decontamination_documents,
              "benchmarks": benchmarks}
    if config.decontamination_mode == "ngram":
        report.update(ngram=config.decontamination_ngram,
                      min_tokens=config.decontamination_min_tokens)
    else:
        report["threshold"] = config.threshold
    return report


def dedup_report(counts: Counts, config: DedupConfig, staged: dict | None = None) -> dict:
    """Rows in/out per task, removals by reason (per task), cluster-size histogram, and the
    decontamination report when there were `--decontaminate` texts."""
    bands = LshBands.for_threshold(config.threshold, config.num_perm)
    tasks: dict[str, dict] = {}

    def entry(task: str) -> dict:
        return tasks.setdefault(task, {"rows_in": 0, "rows_out": 0, "removed": {}})

    for task, reason, n in counts.select("total"):
        if reason in ("rows_in", "rows_out"):
            entry(task)[reason] = n
    for task, reason, n in counts.select("removed"):
        entry(task)["removed"][reason] = n
    histogram = {reason.split(":", 1)[1]: n for _, reason, n in counts.select("histogram")
                 if reason.startswith("cluster_size:")}
    return {"dedup": {
        "threshold": config.threshold, "num_perm": config.num_perm, "ngram": config.ngram,
        "field": config.field, "bands": bands.bands, "rows_per_band": bands.rows,
        "tasks": dict(sorted(tasks.items())),
        "cluster_sizes": dict(sorted(histogram.items(), key=lambda kv: int(kv[0]))),
        **({"decontamination": decontamination_report(counts, config, staged or {})}
           if config.decontaminate else {}),
    }}


def dedup(config: DedupConfig) -> int:
    """Run `pairmill dedup` from its config: every input checked before any work starts."""
    import sys
    import time

    from ..dataset.output import prepare_output
    from ..schemas import read_manifest
    from ..schemas.manifest import personal_data_counts
    from .dataset_sink import finish_command, run_pipeline
    from .options import beam_options

    options = beam_options(config.beam_args)
    if config.num_perm & (config.num_perm - 1) or not 8 <= config.num_perm <= 1024:
        raise ValueError("--num-perm must be a power of two between 8 and 1024")
    if not config.decontamination_min_tokens <= config.decontamination_ngram <= MAX_NGRAM:
        raise ValueError(f"--decontamination-ngram must be at most {MAX_NGRAM} and at least "
                         f"--decontamination-min-tokens")
    if config.decontamination_memory_mb < 1:
        raise ValueError("--decontamination-memory-mb must be a whole number of MiB, at least 1")
    for folder in config.input:
        if not storage.is_dir(folder):
            raise FileNotFoundError(f"{folder}: no such directory")
    dataset_files(config.input)  # refuses damaged datasets before any work starts
    for path in config.decontaminate:
        if is_beir_folder(path):
            continue
        if storage.is_dir(path):
            dataset_files([path])
        elif not storage.is_file(path):
            raise FileNotFoundError(f"{path}: no such file or dataset")
    output = config.write.output
    prepare_output(output, config.write.overwrite, inputs=config.input)
    started = time.time()
    print(f"pairmill: dedup of {len(config.input)} dataset(s) -> {output}", file=sys.stderr)
    pipeline = beam.Pipeline(options=options)
    build_dedup(pipeline, config)
    run_pipeline(pipeline)
    report_path = storage.join(staging_dir(output), REPORT_FILE)
    staged = json.loads(storage.read_bytes(report_path)) if storage.is_file(report_path) else {}
    history: list[list[str]] = []  # the commands that made the inputs, for the dataset card
    personal: Counter = Counter()  # what mining redacted stays on the card after dedup
    for folder in config.input:
        manifest = read_manifest(folder)
        personal.update(personal_data_counts(manifest))
        for command in [*manifest.extra.get("history", []), manifest.command]:
            if command and command not in history:
                history.append(command)
    extra = {"personal_data": dict(sorted(personal.items()))} if personal else None
    return finish_command(config.write, ["pairmill", *config.argv()], started,
                          report=lambda counts: dedup_report(counts, config, staged),
                          history=history,
                          extra=extra)

