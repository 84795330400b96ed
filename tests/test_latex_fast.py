"""The LaTeX fast path (extractors/text/latex.py) against pylatexenc, the reference it replaces.

Wherever the fast path answers, its text must be pylatexenc's, character for character: checked on
real arXiv texts, on those texts mutated at random, on strings generated from a pool of LaTeX
pieces, and on hostile inputs. Where it declines (None), `latex_to_text` falls back to pylatexenc.
"""

from __future__ import annotations

import json
import logging
import random
import time
from unittest import mock

import pytest
from pylatexenc.latex2text import LatexNodes2Text

from pairmill.extractors import text as text_package
from pairmill.extractors.text import arxiv
from pairmill.extractors.text.latex import fast_latex_to_text, latex_to_text, pylatexenc_latex_to_text

from .conftest import REALDATA

SAMPLE = REALDATA / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl"
REFERENCE = LatexNodes2Text(math_mode="text", strict_latex_spaces=False)

# Pieces of LaTeX as arXiv writes it, and pieces that break it.
POOL = (
    "word", "x", " ", "  ", "\n", "\n\n", "\n \n", "\t", "{", "}", "{", "}", "$", "$", "$$", "\\(", "\\)",
    "\\[", "\\]", "%", "% note\n", "\\emph", "\\textbf", "\\textit", "\\'", '\\"', "\\^", "\\`", "\\~",
    "\\c", "\\v", "\\H", "\\alpha", "\\beta", "\\mathbb", "\\mathcal", "\\mathrm", "\\frac", "\\sqrt",
    "\\cite", "\\label", "\\\\", "\\item", "\\hspace", "\\foo", "\\Q", "\\text", "\\ensuremath", "\\mbox",
    "\\url", "\\footnote", "\\i", "\\l", "\\%", "\\$", "\\&", "\\{", "\\}", "\\ ", "\\,", "--", "---",
    "-", "~", "``", "''", "'", "`", "&", "!`", "?`", "[", "]", "*", "é", "π", "1", "^", "_", "\\le",
    "\\pm", "\\overline", "\\ket", "\\braket", "\\not", "\\vec", "\\hat", "\\ddot", "\\hbar", "\\ell",
    "\\textsf", "\\em", "\\bf", "\\cal", "\\left(", "\\right)", "\\sum", "\\infty", "\\times", "\\dots",
    "\\textcolor", "\\xrightarrow", "\\citep", "\\ref", "\\nicefrac", "\\d", "\\k", "\\=", "\\.", "\\-",
    "\\begin{equation}", "\\end{equation}", "\\begin{align*}", "\\end{align*}", "\\begin{theorem}",
    "\\end{theorem}", "\\begin{cases}", "\\end{cases}", "\\begin{pmatrix}", "\\end{x}", "\\href",
    "\\verb|x|",
)


class PylatexencCalled(BaseException):
    """Raised by a patched-out pylatexenc; not an Exception, so no fallback can swallow it."""


def reference(text: str) -> str:
    """pylatexenc's raw text, or the exception it raises (the fast path must then decline)."""
    try:
        return REFERENCE.latex_to_text(text)
    except Exception as exc:  # noqa: BLE001 - any failure is an answer the fast path must not give
        return f"<{type(exc).__name__}>"


def check(texts) -> tuple[int, int]:
    """Every answer equals pylatexenc's; returns (answered, total)."""
    answered = total = 0
    for text in texts:
        total += 1
        fast = fast_latex_to_text(text)
        if fast is not None:
            answered += 1
            assert fast == reference(text), text
    return answered, total


def real_texts() -> list[str]:
    texts = []
    with open(SAMPLE, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            texts += [record.get("title") or "", record.get("abstract") or ""]
    return texts


def test_common_constructs_take_the_fast_path():
    text = r"Erd\H{o}s--R\'enyi graphs with $n^2$ \emph{edges}"
    assert fast_latex_to_text(text) == REFERENCE.latex_to_text(text)
    assert latex_to_text(text) == "Erdős–Rényi graphs with n^2 edges"
    for text in (r"$\Lambda_{\alpha}$ and $\alpha\ge 0$", r"Gr\"obner {\em bases} in $\mathbb{Z}[[q]]$",
                 r"a $\sqrt[3]{x}$, \cite{k} 50\% ``quoted''~x", "ratio 10% of\nthe rest"):
        assert fast_latex_to_text(text) == REFERENCE.latex_to_text(text), text
    assert text_package.latex_to_text is latex_to_text  # the package exports the fast one


def test_environments_and_what_pylatexenc_raises_on():
    for text in (r"so \begin{equation*} x \le y \\ z \end{equation*} holds",
                 r"\begin{theorem}[Main] $T$ \end{theorem} and \begin{cases} a & b \end{cases}"):
        assert fast_latex_to_text(text) == REFERENCE.latex_to_text(text), text
    text = r"Code: \href{https://x.org}{here} $x$"  # pylatexenc raises; textnorm keeps the raw text
    with pytest.raises(IndexError):
        REFERENCE.latex_to_text(text)
    assert fast_latex_to_text("$x$") == "x"  # tables built before pylatexenc is patched away
    with mock.patch("pylatexenc.latex2text.LatexNodes2Text.latex_to_text", side_effect=PylatexencCalled):
        assert latex_to_text(text) == "Code: \\href{https://x.org}{here} $x$"  # without pylatexenc
    assert latex_to_text(r"\cite{\href{a}{b}} c") == pylatexenc_latex_to_text(r"\cite{\href{a}{b}} c") == "c"


def test_declines_what_it_does_not_model():
    for text in (r"\begin{pmatrix} 1 \end{pmatrix}", r"\verb|\x|",
                 r"$\text{$x$}$", "\\emph\\mathbb R", "tail \\"):
        assert fast_latex_to_text(text) is None, text
        assert latex_to_text(text) == pylatexenc_latex_to_text(text)


def test_generated_strings_match_pylatexenc():
    logging.disable(logging.CRITICAL)  # pylatexenc logs every parse error it forgives
    try:
        rng = random.Random(2026)
        texts = ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 20))) for _ in range(1500)]
        answered, total = check(texts)
    finally:
        logging.disable(logging.NOTSET)
    assert answered > total // 10  # the comparison means something only if the fast path answers


def test_hostile_inputs():
    logging.disable(logging.CRITICAL)
    try:
        for text in ("unbalanced { brace and \\cite{x} $ dollar", "}} stray $x}$ \\) closers \\]",
                     "$unclosed math", "$$ display never closed \\alpha", "{\\em never closed",
                     "% only a comment", "a\\\\", "\\'", "\\emph{}", "\\\"{}x", "$$$$$", "[a]{b}",
                     "\\sqrt[2", "\\emph\n\n{x}", "\\fracπ 2", "\\\x00\x01 \u200b\ufeff"):
            fast = fast_latex_to_text(text)
            assert fast is None or fast == reference(text), text
        assert fast_latex_to_text("unbalanced { brace and \\cite{x} $ dollar") is not None
        deep = "{" * 5000 + "x" + "}" * 5000
        assert fast_latex_to_text(deep) is None  # beyond the nesting it models: pylatexenc decides
        assert latex_to_text(deep) == pylatexenc_latex_to_text(deep)
        assert fast_latex_to_text("$" * 20_001) == reference("$" * 20_001)
    finally:
        logging.disable(logging.NOTSET)


def test_huge_input_is_linear_and_exact():
    unit = "We bound $\\|f\\|_{L^2} \\le C\\,\\epsilon$ for Schr\\\"odinger--type \\emph{flows}.\n"
    text = unit * 500  # 37 kB
    started = time.perf_counter()
    fast = fast_latex_to_text(text)
    fast_seconds = time.perf_counter() - started
    started = time.perf_counter()
    slow = REFERENCE.latex_to_text(text)
    slow_seconds = time.perf_counter() - started
    assert fast == slow
    assert fast_seconds < slow_seconds  # measured about 40x faster; only the direction is asserted


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/realdata is not present")
def test_real_texts_match_and_mostly_take_the_fast_path():
    texts = [t for t in real_texts() if text_package.textnorm._LATEX_HINT.search(t)]
    answered, total = check(texts)
    assert total > 50 and answered >= 0.9 * total  # 86 of 86 when written


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/realdata is not present")
def test_mutated_real_texts_match():
    logging.disable(logging.CRITICAL)
    try:
        texts = [t for t in real_texts() if "$" in t or "\\" in t]
        rng = random.Random(7)
        mutated = []
        for _ in range(600):
            text = rng.choice(texts)
            start = rng.randrange(len(text))
            text = text[start:start + rng.randint(20, 300)]
            for _ in range(rng.randint(0, 4)):
                at = rng.randrange(len(text) + 1)
                text = text[:at] + rng.choice(POOL) + text[at:] if rng.random() < 0.7 else \
                    text[:at] + text[at + 1:]
            mutated.append(text)
        answered, total = check(mutated)
    finally:
        logging.disable(logging.NOTSET)
    assert answered > total // 2


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/realdata is not present")
def test_extractor_output_is_unchanged_on_the_real_sample():
    lines = SAMPLE.read_bytes().splitlines()
    fast = [arxiv.extract_arxiv_record(line, f"s:{i}") for i, line in enumerate(lines)]
    with mock.patch.object(arxiv, "latex_to_text", pylatexenc_latex_to_text):
        slow = [arxiv.extract_arxiv_record(line, f"s:{i}") for i, line in enumerate(lines)]
    assert len(fast) == 200
    for a, b in zip(fast, slow, strict=True):
        assert a.pairs == b.pairs and a.drops == b.drops and a.dead_letters == b.dead_letters
