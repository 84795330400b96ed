"""Personal data never reaches a dataset unless asked: placeholders, counts, `--pii`."""

import json

import pyarrow.parquet as pq
import pytest

from pairmill.cli import main
from pairmill.extractors.text.personal_data import redact_personal_data
from pairmill.schemas import pair_id, read_manifest

from .test_stackexchange import answer, posts_xml, question

PLANTED = {
    "email": ["jane.doe+work@example.co.uk", "bob_smith@mail-server.org"],
    "phone": ["(555) 123-4567", "555-987-6543", "+44 20 7946 0958", "+1 415.555.0199",
              "0755-22648081", "13611778776"],
    "ip_address": ["8.8.4.4", "151.101.1.69"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "key": ["AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2c3D4e5" * 4,
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
            "hf_" + "AbCdEfGhIj" * 3 + "kl"],
}
KEPT = ["127.0.0.1", "192.168.1.20", "version 2.4.1", "1234 5678 9012 3456",  # fails Luhn
        "call 2024-01-15 at 10:30", "user@localhost", "see RFC 2616"]


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_kind_is_replaced_by_its_placeholder(kind):
    for value in PLANTED[kind]:
        text, found = redact_personal_data(f"Contact: {value}, thanks.")
        assert value not in text and found == {kind: 1}, (value, text, found)
        assert f"<{kind.upper()}>" in text


def test_what_only_looks_like_personal_data_is_kept():
    for value in KEPT:
        text, found = redact_personal_data(f"Note: {value} here.")
        assert text == f"Note: {value} here." and not found, (value, text)


def _site(tmp_path):
    values = [v for vs in PLANTED.values() for v in vs]
    rows = []
    for i, value in enumerate(values):
        rows += [question(10 * i + 1, accepted=10 * i + 2,
                          Body=f"<p>My setup fails, reach me at {value} if you know why.</p>"),
                 answer(10 * i + 2, 10 * i + 1, text=f"Try again; I wrote to {value} already.")]
    rows += [question(999, accepted=1000), answer(1000, 999)]  # a pair without personal data
    path = tmp_path / "Posts.xml"
    path.write_text(posts_xml(rows), encoding="utf-8")
    return path, values


def _rows(folder):
    return [r for f in folder.glob("data/*/*.parquet") for r in pq.read_table(f).to_pylist()]


def test_planted_personal_data_never_reaches_the_dataset(tmp_path):
    posts, values = _site(tmp_path)
    out = tmp_path / "out"
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(out)]) == 0
    rows = _rows(out)
    dumped = json.dumps(rows)
    leaked = [v for v in values if v in dumped or v.replace("\n", "\\n") in dumped]
    assert not leaked
    assert all(r["id"] == pair_id(r["task"], r["query"], r["document"]) for r in rows)
    counts = {(c["kind"], c["task"], c["reason"]): c["n"]
              for c in json.loads((out / "manifest.json").read_text())["counts"]}
    emails = sum(n for (kind, _, reason), n in counts.items() if reason == "pii:email")
    assert emails == 2 * 3  # each address in a title_body body and a question_answer pair twice
    assert len(rows) == read_manifest(out).rows("stackexchange_title_body") + \
        read_manifest(out).rows("stackexchange_question_answer")


def test_pii_drop_and_keep(tmp_path):
    posts, values = _site(tmp_path)
    dropped, kept = tmp_path / "dropped", tmp_path / "kept"
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(dropped),
                 "--pii", "drop"]) == 0
    rows = _rows(dropped)
    assert len(rows) == 2 and all("reach me" not in r["document"] for r in rows)
    assert read_manifest(dropped).counters["drops"]["personal_data"] == 2 * len(values)
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(kept),
                 "--pii", "keep"]) == 0
    assert any(values[0] in r["document"] for r in _rows(kept))


def test_the_dataset_card_says_what_was_redacted_even_after_dedup(tmp_path):
    from pairmill.schemas.manifest import personal_data_counts

    posts, _ = _site(tmp_path)
    mined, deduped = tmp_path / "mined", tmp_path / "deduped"
    assert main(["mine", "stackexchange", "--input", str(posts), "--output", str(mined)]) == 0
    assert main(["dedup", "--input", str(mined), "--output", str(deduped)]) == 0
    counts = personal_data_counts(read_manifest(deduped))
    assert counts == personal_data_counts(read_manifest(mined)) and counts["email"] == 6
    preview = tmp_path / "preview"
    assert main(["publish", str(deduped), "--repo-id", "org/name", "--license", "cc-by-sa-4.0",
                 "--dry-run", str(preview)]) == 0
    card = (preview / "README.md").read_text()
    assert "personal data replaced by placeholders" in card and "email 6" in card
