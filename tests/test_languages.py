"""Language on every text pair, offline, and `--languages` on every `mine` command."""

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.text.language import identify_language
from pairmill.schemas import read_manifest

from .conftest import REALDATA, SOURCES, write_tree
from .test_stackexchange import answer, posts_xml, question

SENTENCES = {
    "en": "The committee will publish its final report on the water supply next week.",
    "de": "Der Ausschuss wird seinen Abschlussbericht über die Wasserversorgung nächste Woche "
          "veröffentlichen.",
    "fr": "Le comité publiera son rapport final sur l'approvisionnement en eau la semaine "
          "prochaine.",
    "es": "El comité publicará su informe final sobre el suministro de agua la próxima semana.",
    "ja": "委員会は来週、水道に関する最終報告書を公表する予定です。",
    "zh": "委员会将于下周发布关于供水的最终报告。",
    "ru": "Комитет опубликует свой окончательный доклад о водоснабжении на следующей неделе.",
}


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_identifies_languages_offline(code, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    got, probability = identify_language(SENTENCES[code])
    assert got == code and 0 < probability <= 1


def test_a_text_that_opens_without_words_is_read_on():
    """The first characters decide only when they are clear: code and numbers first, then
    German, is German (as the whole text read to MAX_CHARS says)."""
    opening = "x = 1; y = 2; print(x + y)  # 1234 5678 " * 8
    text = opening + (SENTENCES["de"] + " ") * 12
    assert identify_language(opening)[1] < 0.5
    assert identify_language(text)[0] == "de"


def _site(tmp_path):
    rows = []
    for i, text in enumerate(SENTENCES[c] for c in sorted(SENTENCES)):
        q = question(10 * i + 1, accepted=10 * i + 2, Title=text, Body=f"<p>{text} {text}</p>")
        rows += [q, answer(10 * i + 2, 10 * i + 1, text=text)]
    path = tmp_path / "Posts.xml"
    path.write_text(posts_xml(rows), encoding="utf-8")
    return path


def test_every_text_pair_gets_its_language_and_languages_keeps_those(tmp_path):
    posts = _site(tmp_path)
    everything = tmp_path / "all"
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(everything)]) == 0
    manifest = read_manifest(everything)
    rows = [r for f in everything.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {r["lang"] for r in rows} == set(SENTENCES)
    assert all(r["lang"] for r in rows)

    kept = tmp_path / "kept"
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(kept),
                 "--languages", "de,JA"]) == 0
    rows = [r for f in kept.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {r["lang"] for r in rows} == {"de", "ja"}
    # the joined question/answer pairs pass the same filter as the direct ones
    assert {r["task"] for r in rows} == {"stackexchange_title_body",
                                         "stackexchange_question_answer"}
    drops = read_manifest(kept).counters["drops"]
    total = sum(manifest.rows(t) for t in manifest.tasks)
    assert drops["language"] == total - len(rows) == 10


def test_a_question_is_identified_once_and_its_answer_pair_shares_its_language(tmp_path,
                                                                              monkeypatch):
    import pairmill.extractors.rules as rules
    import pairmill.extractors.text.stackexchange as stackexchange

    texts = []
    monkeypatch.setattr(stackexchange, "identify_language",
                        lambda text: (texts.append(text), identify_language(text))[1])
    monkeypatch.setattr(rules, "identify_language",
                        lambda text: pytest.fail("a Stack Exchange pair identified again"))
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(_site(tmp_path)), "--output",
                 str(out)]) == 0
    rows = [r for f in out.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert len(texts) == len(SENTENCES) and len(rows) == 2 * len(SENTENCES)
    by_task = {task: {r["query"].split("\n")[0]: r["lang"] for r in rows if r["task"] == task}
               for task in {r["task"] for r in rows}}
    assert by_task["stackexchange_question_answer"] == by_task["stackexchange_title_body"]
    assert set(by_task["stackexchange_title_body"].values()) == set(SENTENCES)


def test_a_bad_language_code_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["mine", "stackexchange", "--input", str(_site(tmp_path)), "--output",
              str(tmp_path / "o"), "--languages", "english"])
    assert "not an ISO 639-1 language code" in capsys.readouterr().err


def test_code_keeps_its_programming_language_and_filters_by_docstring(tmp_path):
    tree = write_tree(tmp_path / "tree", SOURCES)
    out = tmp_path / "code"
    assert main(["mine", "code", "--input", str(tree), "--output", str(out),
                 "--languages", "en"]) == 0
    rows = [r for f in out.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    assert rows and all(r["lang"] in {"python", "go", "javascript", "java", "ruby", "php"}
                        for r in rows)
    assert all(identify_language(r["query"])[0] == "en" for r in rows)


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent (fresh clone)")
def test_real_reddit_pairs_all_get_a_language(tmp_path):
    out = tmp_path / "reddit"
    assert main(["mine", "reddit", "--submissions",
                 str(REALDATA / "reddit" / "AskWomen_submissions.zst"),
                 "--output", str(out)]) == 0
    rows = [r for f in out.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]
    langs = [r["lang"] for r in rows]
    assert rows and all(isinstance(x, str) and len(x) == 2 for x in langs)
    assert langs.count("en") / len(langs) > 0.9  # an English-speaking forum


def test_codes_are_always_two_letters():
    """The model also knows Wu, Cantonese, Egyptian Arabic... under three-letter codes; `lang`
    must stay ISO 639-1, so those texts get the closest two-letter language."""
    for text in ("佢哋喺度做緊嘢，我哋等陣先去食飯啦。", "ازيك يا صاحبي عامل ايه النهارده؟",
                 "阿拉今朝一道去白相好伐？", "??? !!! 123"):
        code, _ = identify_language(text)
        assert len(code) == 2 and code.isalpha(), (text, code)
