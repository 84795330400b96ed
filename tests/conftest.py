"""Shared fixtures: small source trees written by the tests themselves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"

SOURCES = {
    "pkg/geometry.py": '''
        """Geometry helpers."""
        import math


        def distance(a, b):
            """Return the Euclidean distance between two points.

            :param a: first point
            """
            dx = a[0] - b[0]
            dy = a[1] - b[1]
            return math.hypot(dx, dy)


        class Shape:
            """A shape."""

            @property
            def area(self):
                """Compute the area of this shape in square units."""
                width = self.width
                height = self.height
                return width * height

            async def fetch(self, client):
                """Fetch the shape's definition from a remote service."""
                response = await client.get(self.url)
                data = response.json()
                return data

            def undocumented(self):
                x = 1
                return x
        ''',
    "pkg/tests/test_geometry.py": '''
        def helper():
            """This helper lives in a test file and must be skipped."""
            a = 1
            return a
        ''',
    "cmd/server.go": '''
        package main

        // Serve starts the HTTP server on the given address
        // and blocks until it stops.
        func Serve(addr string) error {
        	srv := newServer(addr)
        	return srv.ListenAndServe()
        }
        ''',
    "web/util.js": '''
        /**
         * Format a number of bytes as a human readable string.
         * @param {number} n the byte count
         */
        function formatBytes(n) {
          const units = ["B", "KB", "MB"];
          return n + units[0];
        }
        ''',
    "src/Main.java": '''
        public class Main {
            /**
             * Parse the command line arguments into options.
             * @param args the arguments
             */
            public static Options parse(String[] args) {
                Options o = new Options();
                return o;
            }
        }
        ''',
    "lib/greeter.rb": '''
        # Greets the person with the given name
        # in a friendly way.
        def greet(name)
          message = "Hello #{name}"
          puts message
          message
        end
        ''',
    "src/Cart.php": '''
        <?php
        class Cart {
            /**
             * Add an item to the shopping cart.
             * @param Item $item
             */
            public function add($item) {
                $this->items[] = $item;
                return $this;
            }
        }
        ''',
}


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    """A small repository with one documented function or more in each of the six languages."""
    return write_tree(tmp_path / "repo", SOURCES)


def write_pairs_dataset(root: Path, rows_per_task: dict[str, int], row_group_size: int = 10,
                        rows_per_file: int = 35, negatives: int = 0) -> Path:
    """A small pairs dataset written straight with pyarrow: row i of task t says `t i` in its texts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pairmill.dataset.output import describe_file, write_manifest
    from pairmill.schemas import PAIR_SCHEMA, Manifest, make_pair

    manifest = Manifest(row_group_size=row_group_size, command=["test"], created_by="tests")
    for task, n in rows_per_task.items():
        rows = [make_pair(task, f"query {task} {i}", f"document {task} {i}", "tests", f"row:{i}",
                          negatives=[f"negative {task} {i} {k}" for k in range(negatives)] or None)
                for i in range(n)]
        for part, start in enumerate(range(0, n, rows_per_file)):
            rel = f"data/{task}/part-{part:05d}.parquet"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(rows[start:start + rows_per_file], schema=PAIR_SCHEMA)
            pq.write_table(table, root / rel, row_group_size=row_group_size)
            manifest.tasks.setdefault(task, []).append(describe_file(root, rel))
    write_manifest(root, manifest)
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised two-layer BERT with the packaged MiniLM tokenizer: fast on CPU."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pairmill.trainer.model import default_model_path

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
