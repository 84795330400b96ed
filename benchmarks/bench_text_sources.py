"""Text-source throughput: records/s and MB/s per core for every `pairmill mine` text source.

  python benchmarks/bench_text_sources.py [--sources web,reddit,...] [--scale 1.0]

Inputs are the real samples in ../shared/realdata, repeated with fresh ids (and, for the crawl,
fresh URLs) until each run takes some seconds; a source whose sample is absent is skipped, except
arxiv, which falls back to generated lines. Three figures per source, in one process, one core:
  anchor     the least any reader of that format must spend (json.loads of the records, lxml
             iterparse of the XML rows/pages), or for the crawl bare trafilatura on the same
             pages with the same settings (the issue's yardstick: pipeline overhead under 25%);
  extractor  pairmill's record reader + pure extractor over the same files, no Beam;
  pipeline   `pairmill mine <source>` end to end (FnApiRunner, joins, Parquet, manifest).
MB are uncompressed input bytes. Results go to benchmarks/results/text_sources.json.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "text_sources.json"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def _zst_lines(path: Path) -> list[dict]:
    import zstandard

    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(path.open("rb"))
    return [json.loads(line) for line in io.TextIOWrapper(reader, encoding="utf-8") if line.strip()]


def _write_lines(path: Path, records: list[dict]) -> int:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    path.write_bytes(data)
    return len(data)


def arxiv(tmp: Path, scale: float) -> dict:
    sample = REALDATA / "arxiv" / "arxiv-metadata-oai-snapshot.sample.jsonl"
    if sample.exists():
        base = [json.loads(line) for line in sample.open(encoding="utf-8")]
    else:
        base = [{"id": "0", "title": r"On $(k,\ell)$-sparse graphs of Erd\H{o}s", "categories": "math.CO",
                 "abstract": r"We study \emph{sparse} graphs and prove a bound of $O(n^2)$ " * 8}]
    records = [dict(base[i % len(base)], id=f"bench.{i:07d}") for i in range(int(20_000 * scale))]
    path = tmp / "arxiv.jsonl"
    size = _write_lines(path, records)
    return {"args": ["--input", str(path)], "records": len(records), "bytes": size,
            "anchor": ("json.loads", lambda: _json_lines([path]))}


def _json_lines(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as f:
            for line in f:
                json.loads(line)


def reddit(tmp: Path, scale: float) -> dict | None:
    subs_path = REALDATA / "reddit" / "AskWomen_submissions.zst"
    comments_path = REALDATA / "reddit" / "RC_2005-12.zst"
    if not subs_path.exists():
        return None
    subs, comments = _zst_lines(subs_path), _zst_lines(comments_path)
    copies = max(1, int(4 * scale))
    out_subs = [dict(s, id=f"{s['id']}c{k}") for k in range(copies) for s in subs]
    out_comments = []
    for k in range(copies * 8):  # the comment month is small: more copies of it
        for c in comments:
            out_comments.append(dict(c, id=f"{c['id']}c{k}", link_id=f"{c['link_id']}c{k}",
                                     parent_id=c["parent_id"] + (f"c{k}" if c["parent_id"] == c["link_id"]
                                                                 else "")))
    size = _write_lines(tmp / "RS.jsonl", out_subs) + _write_lines(tmp / "RC.jsonl", out_comments)
    return {"args": ["--submissions", str(tmp / "RS.jsonl"), "--comments", str(tmp / "RC.jsonl")],
            "records": len(out_subs) + len(out_comments), "bytes": size,
            "anchor": ("json.loads", lambda: _json_lines([tmp / "RS.jsonl", tmp / "RC.jsonl"]))}


def _iterparse(path: Path, tag: str) -> None:
    from lxml import etree

    for _, element in etree.iterparse(str(path), tag=tag):
        element.clear()


def stackexchange(tmp: Path, scale: float, mark_copy=None) -> dict | None:
    """Posts.xml copies with shifted ids; `mark_copy(text, k)`, when given, makes copy k's titles
    and bodies differ too."""
    from lxml import etree

    posts = REALDATA / "stackexchange" / "Posts.xml"
    if not posts.exists():
        return None
    rows = [dict(r.attrib) for r in etree.parse(str(posts)).getroot()]
    root = etree.Element("posts")
    copies = max(1, int(30 * scale))
    for k in range(copies):
        for row in rows:
            shifted = dict(row)
            for key in ("Id", "ParentId", "AcceptedAnswerId"):
                if key in shifted:
                    shifted[key] = str(int(shifted[key]) + k * 100_000)
            if mark_copy is not None:
                for key in ("Title", "Body"):
                    if key in shifted:
                        shifted[key] = mark_copy(shifted[key], k)
            etree.SubElement(root, "row", shifted)
    path = tmp / "Posts.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return {"args": ["--input", str(path)], "records": copies * len(rows), "bytes": path.stat().st_size,
            "anchor": ("lxml iterparse", lambda: _iterparse(path, "row"))}


def s2orc(tmp: Path, scale: float) -> dict | None:
    papers = [json.loads(p.read_text()) for p in sorted((REALDATA / "s2orc").glob("*.json"))]
    if not papers:
        return None
    copies = max(1, int(100 * scale))
    records = [dict(p, paper_id=f"{p['paper_id']}c{k}") for k in range(copies) for p in papers]
    path = tmp / "papers.jsonl"
    size = _write_lines(path, records)
    return {"args": ["--input", str(path)], "records": len(records), "bytes": size,
            "anchor": ("json.loads", lambda: _json_lines([path]))}


def wikipedia(tmp: Path, scale: float) -> dict | None:
    import bz2

    from lxml import etree

    dump = REALDATA / "wikipedia" / "enwiki-table-markup.xml.bz2"
    if not dump.exists():
        return None
    root = etree.fromstring(bz2.decompress(dump.read_bytes()))
    ns = root.nsmap[None]
    pages = root.findall(f"{{{ns}}}page")
    for page in pages:
        root.remove(page)
    copies = max(1, int(30 * scale))
    for k in range(copies):
        for page in pages:
            copy = etree.fromstring(etree.tostring(page))
            title = copy.find(f"{{{ns}}}title")
            title.text = f"{title.text} {k}" if k else title.text
            root.append(copy)
    path = tmp / "pages.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return {"args": ["--input", str(path)], "records": copies * len(pages), "bytes": path.stat().st_size,
            "anchor": ("lxml iterparse", lambda: _iterparse(path, f"{{{ns}}}page"))}


def crawl(tmp: Path, scale: float) -> dict | None:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    warc = REALDATA / "warc" / "warcfile.warc.gz"
    if not warc.exists():
        return None
    responses = []
    with gzip.open(warc) as f:
        for record in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False):
            responses.append((record.headers.get("WARC-Target-URI"), record.reader.read()))
    copies = max(1, int(12 * scale))
    members, pages = [], []
    for k in range(copies):
        for url, block in responses:
            url = f"{url.rstrip('/')}/copy{k}" if k else url
            head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
                    f"WARC-Date: 2020-08-03T10:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
                    f"Content-Length: {len(block)}\r\n\r\n").encode()
            members.append(gzip.compress(head + block + b"\r\n\r\n", compresslevel=1))
    path = tmp / "crawl.warc.gz"
    path.write_bytes(b"".join(members))
    with gzip.open(path) as f:  # the decoded HTML payloads, exactly as the extractor sees them
        for record in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True,
                                      auto_decode="all", quirks_mode=True):
            pages.append((record.headers.get("WARC-Target-URI"), record.reader.read()))

    def bare_trafilatura() -> None:
        import trafilatura

        for url, body in pages:
            trafilatura.bare_extraction(body, url=url, include_comments=False, include_tables=False)

    return {"args": ["--input", str(path)], "records": len(pages),
            "bytes": sum(len(m) for m in (gzip.decompress(x) for x in members)),
            "anchor": ("bare trafilatura", bare_trafilatura)}


WORKLOADS = {"web": crawl, "reddit": reddit, "stackexchange": stackexchange, "arxiv": arxiv,
             "s2orc": s2orc, "wikipedia": wikipedia}


def _extract_only(source: str, args: list[str]) -> int:
    """pairmill's readers and extractors over the inputs, no Beam: pairs returned by extraction."""
    from pairmill.cli import build_parser
    from pairmill.commands import command
    from pairmill.extractors.inputs import open_input
    from pairmill.extractors.registry import source as source_spec
    from pairmill.pipelines.mine import resolve_inputs

    config = command("mine").config_from_args(build_parser().parse_args(
        ["mine", source, *args, "--output", "unused"]), [])
    spec = source_spec(config.source)
    options = spec.prepare(config.options, config.inputs)
    pairs = 0
    for kind_name, (path, _label) in resolve_inputs(spec, config.inputs):
        kind = spec.kind(kind_name)
        extract = kind.extract(options)
        with open_input(path, kind.archive_member) as stream:
            for locator, record in kind.records(stream):
                if not isinstance(record, tuple):
                    pairs += len(extract(record, f"{path}:{locator}").pairs)
    return pairs


def _timed(fn, *args) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every input size")
    args = parser.parse_args()
    from pairmill.cli import main as pairmill
    from pairmill.schemas import read_manifest

    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}, one core"}
    if RESULTS.exists():
        results = {**json.loads(RESULTS.read_text()), **results}
    for source in args.sources.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            work = WORKLOADS[source](Path(tmp), args.scale)
            if work is None:
                print(f"{source}: skipped, its sample is not in {REALDATA}")
                continue
            anchor_name, anchor = work["anchor"]
            anchor_s, _ = _timed(anchor)
            extractor_s, _ = _timed(_extract_only, source, work["args"])
            out = Path(tmp, "out")
            pipeline_s, code = _timed(pairmill, ["mine", source, *work["args"], "--output", str(out)])
            if code:
                sys.exit(f"pairmill mine {source} failed")
            manifest = read_manifest(out)
        n, mb = work["records"], work["bytes"] / 1e6
        figures = {
            "records": n, "megabytes": round(mb, 1),
            "pairs": {task: sum(f.rows for f in files) for task, files in manifest.tasks.items()},
            "anchor": anchor_name, "anchor_records_per_s": round(n / anchor_s, 1),
            "extractor_records_per_s": round(n / extractor_s, 1),
            "extractor_mb_per_s": round(mb / extractor_s, 2),
            "pipeline_records_per_s": round(n / pipeline_s, 1),
            "pipeline_mb_per_s": round(mb / pipeline_s, 2),
            "pipeline_seconds": round(pipeline_s, 1),
            "pipeline_time_over_anchor": round(pipeline_s / anchor_s, 2),
        }
        results[source] = figures
        print(f"{source}: {n:,} records, {mb:.1f} MB")
        print(f"  {anchor_name + ' (anchor)':<28}{figures['anchor_records_per_s']:>10,} records/s")
        print(f"  {'extractor':<28}{figures['extractor_records_per_s']:>10,} records/s "
              f"{figures['extractor_mb_per_s']:>7} MB/s")
        print(f"  {'mine ' + source + ', end to end':<28}{figures['pipeline_records_per_s']:>10,} records/s "
              f"{figures['pipeline_mb_per_s']:>7} MB/s  time / anchor {figures['pipeline_time_over_anchor']}")
        if source == "web":
            print(f"  pipeline overhead over bare trafilatura: {(pipeline_s / anchor_s - 1) * 100:+.0f}% "
                  "(goal: under 25%)")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
