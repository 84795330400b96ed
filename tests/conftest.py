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
