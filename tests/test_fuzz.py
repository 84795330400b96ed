"""Fuzzing every reader and extractor: mutated real-shaped files, compressed or not, cut or not,
go through the record loop every source shares. Nothing may raise, and everything that comes
out must be encodable by Beam's coders and Parquet (what a lone surrogate used to break).

`make test` runs a fixed budget; a longer run: `python -m tests.test_fuzz --examples 2000`.
"""

from __future__ import annotations

import bz2
import gzip
import os
import sys
import tempfile
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pytest
import zstandard
from apache_beam.coders import coders
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairmill.extractors.registry import sources
from pairmill.pipelines.mine import COUNTS, DEAD_LETTERS, PARTS, MineInputs
from pairmill.schemas import DEAD_LETTER_SCHEMA, PAIR_SCHEMA

from . import hostile

EXAMPLES = int(os.environ.get("PAIRMILL_FUZZ_EXAMPLES", "12"))
TEXT_SOURCES = ["reddit", "arxiv", "stackexchange", "web", "s2orc", "wikipedia", "pubmed"]
CODER = coders.FastPrimitivesCoder()


@st.composite
def mutated(draw, clean: bytes) -> bytes:
    """`clean` with a few random edits: flipped bytes, cut, inserted junk, duplicated slices."""
    data = bytearray(clean)
    values = [i + 4 for i in range(len(clean)) if clean.startswith(b'": "', i)]
    if values and draw(st.booleans()):  # a JSON string value opens with a lone surrogate escape
        at = draw(st.sampled_from(values))
        data[at:at] = draw(st.sampled_from([b"\\ud800", b"\\udfff x", b"\\ud83d"]))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "surrogate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 400))]
        elif op == "insert":
            data[at:at] = draw(st.binary(max_size=64))
        elif op == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 300))]
        else:
            data[at:at] = b"\\ud800\\udfff\xed\xa0\x80"
    return bytes(data)


def _compressed(data: bytes, how: str, cut: float) -> tuple[bytes, str]:
    blob = {"": lambda d: d, ".gz": gzip.compress, ".bz2": bz2.compress,
            ".zst": zstandard.ZstdCompressor().compress}[how](data)
    return (blob[:int(len(blob) * cut)] if cut < 1 else blob), how


def _run_file(source: str, flag: str, data: bytes, suffix: str) -> None:
    spec = sources()[source]
    kind = spec.kind(flag.lstrip("-"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"fuzz{suffix}")
        path.write_bytes(data)
        options = spec.prepare(spec.options(), {kind.name: [str(path)]})
        fn = MineInputs(spec, options, max_record_bytes=1 << 20)
        fn.setup()
        for item in fn.process((kind.name, (str(path), path.name))):
            tag = getattr(item, "tag", None)
            value = item.value if isinstance(item, beam.pvalue.TaggedOutput) else item
            if tag == COUNTS:
                continue
            CODER.encode(value)  # what crashed whole jobs: text Beam cannot encode
            if tag is None:
                pa.Table.from_pylist([value], schema=PAIR_SCHEMA)
            elif tag == DEAD_LETTERS:
                pa.Table.from_pylist([value], schema=DEAD_LETTER_SCHEMA)
            else:
                assert tag == PARTS


def _clean(source: str) -> tuple[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        flag, path, _ = hostile.clean_inputs(Path(tmp))[source]
        data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 24)
    return flag, data


@pytest.mark.parametrize("source", TEXT_SOURCES)
def test_mutated_inputs_never_raise_and_always_encode(source):
    flag, clean = _clean(source)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=mutated(clean), how=st.sampled_from(["", ".gz", ".bz2", ".zst"]),
           cut=st.sampled_from([1.0, 1.0, 0.9, 0.5]))
    def check(data, how, cut):
        blob, suffix = _compressed(data, how, cut)
        _run_file(source, flag, blob, suffix)

    check()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(data=st.binary(max_size=4096), name=st.sampled_from(["m.py", "m.go", "m.js", "M.java",
                                                             "m.rb", "m.php"]))
def test_random_source_files_never_raise(data, name):
    from pairmill.extractors.code import extract_code_pairs

    result = extract_code_pairs(data, name)
    for pair in result.pairs:
        CODER.encode(pair)


if __name__ == "__main__":  # a longer run: python -m tests.test_fuzz --examples N
    examples = sys.argv[sys.argv.index("--examples") + 1] if "--examples" in sys.argv else "500"
    os.environ["PAIRMILL_FUZZ_EXAMPLES"] = examples
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
