"""The code extractor on the hard cases of each language, and on bad files."""

import ast
import codecs
import json
import textwrap
from pathlib import Path

import pytest

from pairmill.extractors.code import CodeOptions, extract_code_pairs
from pairmill.extractors.code.docstrings import clean_doc
from pairmill.schemas.pairs import meta_dict


def extract(code: str, path: str, **kw):
    return extract_code_pairs(textwrap.dedent(code).lstrip("\n").encode(), path, **kw)


def by_name(result):
    return {meta_dict(p["meta"])["function"]: p for p in result.pairs}


PY = '''
import functools


def plain(a, b):
    """Add two numbers and return the sum.

    Args:
        a: first
    """
    total = a + b
    return total


@functools.lru_cache(maxsize=None)
@other.decorator
def decorated(x):
    """Square a number, caching the result."""
    result = x * x
    return result


class Outer:
    """Not a function."""

    class Inner:
        def method(self, y):
            """Double the value of y for the caller."""
            doubled = y * 2
            return doubled

    async def fetch(self):
        r"""Fetch the raw \\d+ pattern from the server."""
        response = await self.client.get()
        return response

    def only_doc(self):
        """This method only has a docstring."""

    def abstract(self):
        """This method is abstract in practice."""
        raise NotImplementedError

    def test_something(self):
        """Looks like a test function to the filter."""
        value = 1
        return value


def unicode_doc(name):
    """Grüße an die Welt — return a greeting ✓ for the name."""
    greeting = f"Hallo {name}"
    return greeting


def outer_function(items):
    """Sort the items and keep the unique ones."""

    def inner_helper(item):
        """Normalise one item before sorting it."""
        key = item.lower()
        return key.strip()

    return sorted({inner_helper(i) for i in items})


def short(x):
    """Returns x plus one."""
    return x + 1


def tiny_doc(x):
    """Tiny."""
    y = x
    return y


def fstring_doc(x):
    f"""Not a docstring {x} at all."""
    y = x
    return y
'''


def test_python_hard_cases():
    result = extract(PY, "pkg/mod.py", source="repo")
    pairs = by_name(result)
    assert set(pairs) == {"plain", "decorated", "method", "fetch", "unicode_doc",
                          "outer_function", "inner_helper"}
    assert pairs["plain"]["query"] == "Add two numbers and return the sum."
    assert pairs["plain"]["document"].startswith("def plain(a, b):\n    total = a + b")
    assert pairs["decorated"]["document"].startswith("@functools.lru_cache(maxsize=None)\n@other")
    assert pairs["method"]["document"].startswith("def method(self, y):")  # dedented
    assert pairs["fetch"]["query"] == r"Fetch the raw \d+ pattern from the server."
    assert pairs["fetch"]["document"].startswith("async def fetch(self):")
    assert pairs["unicode_doc"]["query"] == "Grüße an die Welt — return a greeting ✓ for the name."
    # the nested helper is its own pair and stays inside its parent's code
    assert "def inner_helper" in pairs["outer_function"]["document"]
    assert "Normalise one item" in pairs["outer_function"]["document"]
    assert "Sort the items" not in pairs["outer_function"]["document"]
    for pair in result.pairs:
        assert pair["query"] not in pair["document"]
        assert pair["task"] == "code_docstring_code" and pair["lang"] == "python"
        assert pair["source"] == "repo"
    assert pairs["plain"]["origin"] == "pkg/mod.py:4"
    assert result.drops["empty_body"] == 2
    assert result.drops["test_function"] == 1
    assert result.drops["short_function"] == 1
    assert result.drops["docstring_too_short"] == 1
    assert result.drops["undocumented"] >= 1  # the f-string "docstring"
    assert result.dead_letters == []


def test_python_docstring_removed_with_its_lines():
    src = 'def f(a):\n    """Compute the thing\n    over several lines."""\n    b = a\n    return b\n'
    [pair] = extract_code_pairs(src.encode(), "m.py", options=CodeOptions(min_code_lines=1)).pairs
    assert pair["document"] == "def f(a):\n    b = a\n    return b"
    assert pair["query"] == "Compute the thing over several lines."


def test_full_docstring_option_keeps_paragraphs():
    src = 'def f(a):\n    """First part here.\n\n    Second part here.\n    """\n    b = a\n    return b\n'
    [pair] = extract_code_pairs(src.encode(), "m.py", options=CodeOptions(full_docstring=True)).pairs
    assert pair["query"] == "First part here.\n\nSecond part here."


def test_python_syntax_error_keeps_good_functions_and_writes_a_dead_letter():
    src = PY + "\n\ndef broken(:\n    return )\n"
    result = extract(src, "pkg/broken.py")
    assert "plain" in by_name(result) and "unicode_doc" in by_name(result)
    [letter] = result.dead_letters
    assert letter["reason"] == "syntax_error" and letter["origin"] == "pkg/broken.py"
    assert "line" in letter["detail"]


def test_go_comments_methods_and_filters():
    src = '''
    package store

    import "fmt"

    // Get returns the value stored under key, or an error
    // when the key is missing.
    func (s *Store) Get(key string) (string, error) {
    	v, ok := s.m[key]
    	if !ok {
    		return "", fmt.Errorf("missing %s", key)
    	}
    	return v, nil
    }

    // Detached comment that is separated by a blank line.

    func NoDoc() int {
    	x := 1
    	return x
    }

    //go:noinline
    // Put stores the value under the key given.
    func Put(key, value string) {
    	m[key] = value
    	count++
    }
    '''
    pairs = by_name(extract(src, "store/store.go"))
    assert set(pairs) == {"Get", "Put"}
    assert pairs["Get"]["query"] == ("Get returns the value stored under key, or an error when "
                                     "the key is missing.")
    assert pairs["Get"]["document"].startswith("func (s *Store) Get(key string)")
    assert pairs["Put"]["query"] == "Put stores the value under the key given."
    assert extract(src, "store/store_test.go").drops["test_file"] == 1


def test_javascript_jsdoc_forms():
    src = '''
    /**
     * Merge two objects into a new one.
     * @param {Object} a
     * @returns {Object}
     */
    export function merge(a, b) {
      const out = {};
      Object.assign(out, a, b);
      return out;
    }

    // A line comment is not JSDoc, so this is undocumented.
    function plain(a) {
      const b = a;
      return b;
    }

    class Queue {
      /** Remove and return the first element of the {@link Queue}. */
      shift() {
        const first = this.items[0];
        this.items = this.items.slice(1);
        return first;
      }
    }

    /** Debounce a function by the given delay in ms. */
    const debounce = (fn, ms) => {
      let t;
      return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
    };

    /** Legacy prototype method that resets the counter. */
    Counter.prototype.reset = function () {
      this.count = 0;
      this.changed = true;
    };

    /** Not a function but a documented constant value. */
    const LIMIT = 10;
    '''
    result = extract(src, "src/util.js")
    pairs = by_name(result)
    assert set(pairs) == {"merge", "shift", "debounce", "reset"}
    assert pairs["merge"]["query"] == "Merge two objects into a new one."
    assert pairs["merge"]["document"].startswith("export function merge(a, b) {")
    assert pairs["shift"]["query"] == "Remove and return the first element of the Queue."
    assert "/**" not in "".join(p["document"] for p in result.pairs)
    assert result.drops["undocumented"] == 1


def test_java_javadoc_annotations_constructors_and_tests():
    src = '''
    package a;

    public class Account {
        /**
         * Create an account with an opening balance.
         * @param balance the opening balance
         */
        public Account(long balance) {
            this.balance = balance;
            this.open = true;
        }

        /**
         * Deposit money into the account, returning the <b>new</b> balance.
         *
         * <p>Second paragraph is dropped.
         */
        @Override
        public synchronized long deposit(long amount) {
            balance += amount;
            return balance;
        }

        /** Abstract methods have no body to pair with. */
        public abstract void close();

        @SuppressWarnings("fallthrough")
        /**
         * Parse one atom of the pattern, as OpenJDK writes it after an annotation.
         */
        private Node atom() {
            int first = peek();
            return new Node(first);
        }

        /** Verifies deposits in a unit test. */
        @Test
        public void depositWorks() {
            Account a = new Account(1);
            assertEquals(2, a.deposit(1));
        }
    }
    '''
    result = extract(src, "src/main/java/a/Account.java")
    pairs = by_name(result)
    assert set(pairs) == {"Account", "deposit", "atom"}
    assert pairs["deposit"]["query"] == "Deposit money into the account, returning the new balance."
    assert pairs["atom"]["query"].startswith("Parse one atom of the pattern")
    assert pairs["atom"]["document"] == ('@SuppressWarnings("fallthrough")\nprivate Node atom() {\n'
                                         '    int first = peek();\n    return new Node(first);\n}')
    assert pairs["deposit"]["document"].startswith("@Override\npublic synchronized long deposit")
    assert result.drops["empty_body"] == 1 and result.drops["test_function"] == 1


def test_ruby_and_php():
    ruby = '''
    # frozen_string_literal: true

    class Stack
      # Pushes an element onto the top of the stack
      # and returns the stack itself.
      # @param item [Object]
      def push(item)
        @items << item
        self
      end

      # Builds an empty stack for the caller.
      def self.build
        stack = new
        stack
      end
    end
    '''
    pairs = by_name(extract(ruby, "lib/stack.rb"))
    assert pairs["push"]["query"] == (
        "Pushes an element onto the top of the stack and returns the stack itself.")
    assert pairs["build"]["document"].startswith("def self.build")
    php = '''
    <?php
    /**
     * Slugify a title for use in URLs.
     *
     * @param string $title
     * @return string
     */
    function slugify($title) {
        $slug = strtolower($title);
        return preg_replace('/\\W+/', '-', $slug);
    }
    '''
    [pair] = extract(php, "src/helpers.php").pairs
    assert pair["query"] == "Slugify a title for use in URLs." and pair["lang"] == "php"
    assert pair["document"].startswith("function slugify($title) {")


def test_clean_doc_removes_tags_and_markup():
    assert clean_doc("Load the file.\n:param path: where\n:returns: data") == "Load the file."
    assert clean_doc("See {@code Foo} and <i>bar</i>, List<String> kept.") == \
        "See Foo and bar, List<String> kept."
    assert clean_doc("Summary line.\n\nDetails.", full=False) == "Summary line."


@pytest.mark.parametrize("path,reason", [
    ("vendor/lib/x.py", "vendored_file"), ("a/node_modules/b/index.js", "vendored_file"),
    ("tests/test_a.py", "test_file"), ("a/test_mod.py", "test_file"), ("x_test.go", "test_file"),
    ("src/__tests__/a.js", "test_file"), ("app.min.js", "minified_file"),
    ("proto/x_pb2.py", "generated_file"), ("README.md", "unsupported_file"),
])
def test_path_filters(path, reason):
    result = extract_code_pairs(b"def f():\n    pass\n", path)
    assert result.drops == {reason: 1} and not result.pairs


def test_generated_and_minified_content():
    generated = b"// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n"
    assert extract_code_pairs(generated, "x.go").drops == {"generated_file": 1}
    django = b"# Generated by Django 4.2.1 on 2024-05-01 10:00\n\nfrom django.db import migrations\n"
    assert extract_code_pairs(django, "app/migrations/0001_initial.py").drops == {
        "generated_file": 1}
    docstring = b'"""\nThis module was automatically generated.\n"""\nimport os\n'
    assert extract_code_pairs(docstring, "m.py").drops == {"generated_file": 1}


# Real files that mention generated code without being generated (CPython's http/cookiejar.py
# writes a "Do not edit." header; Ruby's unicode_normalize/normalize.rb names another file).
@pytest.mark.parametrize("source", [
    b'import re\n\nHEADER = """\\\n# Netscape HTTP Cookie File\n# This is a generated file!  '
    b'Do not edit.\n"""\n\ndef save(f):\n    """Write the cookies to f in Netscape format."""\n'
    b'    f.write(HEADER)\n    f.write("\\n")\n    return f\n',
    b"# This file, the companion file tables.rb (autogenerated), and the module\n"
    b"# are part of the implementation.\n\ndef save(f):\n"
    b'    """Write the cookies to f in Netscape format."""\n    f.write(1)\n    f.write(2)\n'
    b"    return f\n",
])
def test_mentions_of_generated_code_are_not_generated_files(source):
    result = extract_code_pairs(source, "lib.py")
    assert "generated_file" not in result.drops
    assert [meta_dict(p["meta"])["function"] for p in result.pairs] == ["save"]
    minified = b"function a(){" + b"var b=1;" * 1000 + b"}\n"
    assert extract_code_pairs(minified, "bundle.js").drops == {"minified_file": 1}


def test_binary_file_is_a_dead_letter():
    result = extract_code_pairs(b"\x7fELF\x00\x00\x01binary", "tool.py", source="r")
    assert [d["reason"] for d in result.dead_letters] == ["binary_file"]
    assert result.dead_letters[0]["origin"] == "tool.py" and not result.pairs


def test_non_utf8_file_is_a_dead_letter():
    src = 'def f(a):\n    """Gibt den Wert für a zurück."""\n    b = a\n    return b\n'
    result = extract_code_pairs(src.encode("latin-1"), "m.py")
    assert [d["reason"] for d in result.dead_letters] == ["decode_error"]
    assert not result.pairs


def test_coding_cookie_and_byte_order_marks_are_honoured():
    body = 'def f(a):\n    """Gibt den Wert für a zurück."""\n    b = a\n    c = b\n    return c\n'
    latin = ("# -*- coding: latin-1 -*-\n" + body).encode("latin-1")
    utf16 = codecs.BOM_UTF16_LE + body.encode("utf-16-le")
    utf8_bom = codecs.BOM_UTF8 + body.encode()
    for data in (latin, utf16, utf8_bom):
        [pair] = extract_code_pairs(data, "m.py").pairs
        assert pair["query"] == "Gibt den Wert für a zurück."


def test_large_files_are_capped_but_files_below_the_cap_are_mined():
    func = 'def f{i}(a):\n    """Return the value {i} for a."""\n    b = a\n    c = b\n    return c\n\n'
    big = "".join(func.format(i=i) for i in range(20000)).encode()  # ~2 MB
    assert extract_code_pairs(big, "big.py").drops == {"file_too_large": 1}
    result = extract_code_pairs(big, "big.py", options=CodeOptions(max_file_bytes=len(big)))
    assert len(result.pairs) == 20000


def test_deeply_nested_code_does_not_crash():
    src = "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n" + PY
    assert "plain" in by_name(extract_code_pairs(src.encode(), "deep.py"))


def test_stdlib_recall_against_ast():
    """On the running Python's own stdlib modules, the extractor sees >= 90% of the functions
    that `ast` says are documented, and no pair's code still holds its docstring."""
    import json
    import logging

    roots = [Path(json.__file__).parent, Path(logging.__file__).parent,
             Path(textwrap.__file__)]
    files = [p for r in roots for p in ([r] if r.is_file() else sorted(r.rglob("*.py")))]
    expected = seen = kept = 0
    for path in files:
        data = path.read_bytes()
        expected += sum(1 for n in ast.walk(ast.parse(data))
                        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                        and ast.get_docstring(n))
        result = extract_code_pairs(data, path.name)
        kept += len(result.pairs)
        seen += len(result.pairs) + sum(result.drops[r] for r in (
            "short_function", "empty_body", "docstring_too_short", "test_function"))
        for pair in result.pairs:
            assert pair["query"] not in pair["document"]
    assert expected > 100
    assert seen >= 0.9 * expected
    assert kept >= 0.5 * expected


EXPRESS_STYLE = '''
/*!
 * a licence header, not a doc comment
 */

/**
 * Initialize the server and its default settings.
 *
 * @private
 */

app.init = function init() {
  this.cache = {};
  this.settings = {};
};

/**
 * Send a response body with the right headers.
 * @public
 */
res.send = function send(body) {
  var chunk = body;
  return this.end(chunk);
};

/**
 * Compile the query parser setting into a function.
 */
exports.compileQueryParser = function compileQueryParser(val) {
  var fn = val;
  return fn;
};

/**
 * Create an application with the given options.
 */

module.exports = function createApplication(options) {
  var app = {};
  return app;
};

/**
 * Normalize a path into its canonical form.
 */
const normalize = (path) => {
  const parts = path.split('/');
  return parts.join('/');
};

var proto = {
  /**
   * Look up a route handler by its name.
   */
  lookup: function (name) {
    var found = this.routes[name];
    return found;
  },

  /**
   * Register a route handler under its name.
   */
  register(name, fn) {
    this.routes[name] = fn;
    return this;
  },
};

/**
 * Return the remote address from the trusted proxy.
 */

defineGetter(req, 'ip', function ip(){
  var trust = this.app.get('trust proxy fn');
  return proxyaddr(this, trust);
});

/**
 * An anonymous callback is not a named function.
 */
app.use(function (req, res) {
  res.end();
  return res;
});
'''


def test_javascript_as_real_repositories_write_it():
    """Express's styles: functions assigned to properties, exports and module.exports, arrow
    functions, object-literal methods, named functions passed to a call statement, and JSDoc
    blocks separated by one blank line."""
    out = extract(EXPRESS_STYLE, "lib/application.js")
    names = {meta_dict(p["meta"])["function"] for p in out.pairs}
    assert names == {"init", "send", "compileQueryParser", "exports", "normalize", "lookup",
                     "register", "ip"}
    init = next(p for p in out.pairs if meta_dict(p["meta"])["function"] == "init")
    assert init["query"] == "Initialize the server and its default settings."
    assert "licence" not in json.dumps([p["query"] for p in out.pairs])


def test_a_blank_line_is_allowed_once_and_only_for_jsdoc_blocks():
    far = "/**\n * Too far above to be the doc.\n */\n\n\nfunction far(a) {\n  a += 1;\n  return a;\n}\n"
    line = "// Line comments must touch the function.\n\nfunction near(a) {\n  a += 1;\n  return a;\n}\n"
    assert not extract_code_pairs(far.encode(), "a.js").pairs
    assert not extract_code_pairs(line.encode(), "b.js").pairs


def test_typescript_functions_methods_and_assigned_arrows():
    source = '''
/**
 * Add two numbers and return their sum.
 */
export function add(a: number, b: number): number {
  const sum = a + b;
  return sum;
}

export class Store<T> {
  /** Get the value stored under a key. */
  get(key: string): T | undefined {
    const value = this.items.get(key);
    return value;
  }
}

/**
 * Double a number, for the demo.
 */
export const double = (x: number): number => {
  const y = x * 2;
  return y;
};

/** An interface method has no body. */
interface Shape { area(): number; }
'''
    out = extract(source, "src/math.ts")
    assert {meta_dict(p["meta"])["function"] for p in out.pairs} == {"add", "get", "double"}
    assert all(p["lang"] == "typescript" for p in out.pairs)
    assert not extract(source, "src/math.test.ts").pairs  # test files are skipped
