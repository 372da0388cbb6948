"""Issue 25's attacks on the importers and the PDF reader, each reproduced as reported and run for real:
`rag index` in a subprocess over a folder holding the hostile file beside good ones (peak resident memory
of the process measured, <= 1.5 GB, and a time ceiling), hostile Zotero data directories (a real SQLite
database), CSL-JSON, BibTeX and the reference exports (RIS, BibTeX, CSL-JSON, batch CSV and Markdown).
Inputs come from tests/attack_data.py; bench/ingest_attack_probe.py measures the same before and after."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests import attack_data as A

RSS_CEILING_MB = 1500
RAG = str(Path(sys.executable).parent / "rag")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "RAG_JOBS": "1", **extra}


def index(tmp: Path, *args: str, ceiling_s: float = 240, **extra: str) -> tuple[dict, list[str]]:
    """`rag index ... --json` for real: its report and its stderr lines; asserts the memory and time
    ceilings (the subprocess is killed beyond twice them, so a regression cannot take the machine down)."""
    rc, seconds, peak_mb, out, err = A.run_measured(
        [RAG, "index", *args, "--index", str(tmp / "idx"), "--json"],
        tmp,
        _env(**extra),
        2 * ceiling_s,
        2 * RSS_CEILING_MB,
    )
    assert rc == 0, (rc, err[-2000:])
    assert peak_mb <= RSS_CEILING_MB, f"peak RSS {peak_mb:.0f} MB"
    assert seconds <= ceiling_s, f"{seconds:.0f} s"
    return json.loads(out), err.splitlines()


def info_docs(tmp: Path) -> dict:
    """Document id -> record, from `rag info --json`."""
    rc, _, _, out, err = A.run_measured([RAG, "info", "--index", str(tmp / "idx"), "--json"], tmp, _env(), 120)
    assert rc == 0, err
    return {d["doc"]: d for d in json.loads(out)["per_document"]}


# --- PDFs (bugs 4 and 5, weak points) ------------------------------------------------------------------

BOMB = "compressed stream inflates to over 64 MB (a compression bomb?); not read (raise RAG_PDF_MAX_STREAM_MB if the file is genuine)"
PASSWORD = (
    "password-protected PDF; save an unprotected copy (open it with its password and print or save it as a new "
    "PDF, or `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) and index that"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, make, skip_reason",
    [
        ("bomb", lambda: A.flate_bomb(1024), BOMB),  # bug 4: was indexed at 2.1 GB peak
        ("encrypted", A.encrypted_pdf, PASSWORD),  # was "unreadable PDF (PdfminerException)"
        (
            "pages",
            lambda: A.many_pages_pdf(3000),
            "PDF has 3000 pages, more than 2000; not read (raise RAG_PDF_MAX_PAGES to index it)",
        ),
        ("brokenxref", A.broken_xref_pdf, None),  # rebuilt by scanning: indexed
        ("ownerlocked", lambda: A.encrypted_pdf(""), None),  # an owner password only: anyone may read it
    ],
)
def test_a_hostile_pdf_is_skipped_in_one_line_and_the_rest_indexed(tmp_path, name, make, skip_reason):
    folder = A.good_folder(tmp_path / "papers")
    (folder / f"{name}.pdf").write_bytes(make())
    report, lines = index(tmp_path, str(folder), ceiling_s=120)
    skipped = [ln for ln in lines if ln.startswith("skipped")]
    if skip_reason:
        assert skipped == [f"skipped {folder / f'{name}.pdf'}: {skip_reason}"]
        assert report["documents"] == 2
    else:
        assert skipped == []
        assert report["documents"] == 3
    assert set(info_docs(tmp_path)) >= {"good.txt", "good.pdf"}


@pytest.mark.slow
def test_a_huge_textless_page_is_read_under_the_pixel_cap_and_said_so(tmp_path):
    # bug 5: a 200 x 200 in page took OCR past 4 GB (killed; 12.4 GB reported) rendering 30000 x 30000 pixels
    folder = A.good_folder(tmp_path / "papers")
    (folder / "poster.pdf").write_bytes(A.huge_scan_pdf("CABLE REPAIR SHIPS"))
    report, lines = index(tmp_path, str(folder), ceiling_s=240)
    assert report["documents"] == 3
    assert (
        "note: poster.pdf: page 1 is 200 x 200 in; OCR read it at 20 dpi to stay under 16 Mpx (RAG_OCR_MAX_PIXELS)"
        in lines
    )
    assert [ln for ln in lines if ln.startswith("skipped")] == []


def test_guards_count_every_stream_and_stop_at_the_caps():
    from rag.ingest.pdf_guard import PdfLimits, pdf_problem, raster_scale

    small = PdfLimits(max_pages=10, max_stream_mb=1, max_inflated_mb=2)
    spread = A._pdf(A.pages_pdf([b" " * 800_000] * 3, flate=True))  # 2.4 MB in all, none over 1 MB
    assert pdf_problem(spread, small) == (
        "its streams inflate to over 2 MB; not read (raise RAG_PDF_MAX_INFLATED_MB if the file is genuine)"
    )
    assert pdf_problem(spread, PdfLimits(max_stream_mb=1, max_inflated_mb=3)) is None
    one = A._pdf(A.pages_pdf([b" " * 1_100_000], flate=True))
    assert pdf_problem(one, small).startswith("compressed stream inflates to over 1 MB")
    assert pdf_problem(A.many_pages_pdf(11), small).startswith("PDF has 11 pages, more than 10")
    assert pdf_problem(A.text_pdf(["fine"])) is None
    assert pdf_problem(b"%PDF-1.4 garbage") is None  # the page reader reports broken files itself
    t0 = time.perf_counter()
    # 96 MB: past the 64 MB limit by half again (the slow tier indexes a 1 GB one); drawing it is most of the time
    assert pdf_problem(A.flate_bomb(96)).startswith("compressed stream inflates to over 64 MB")
    assert time.perf_counter() - t0 < 10  # inflated in chunks and counted, never kept
    assert raster_scale(612, 792, 150, 16_000_000) == pytest.approx(150 / 72)  # a letter page: untouched
    s = raster_scale(14400, 14400, 150, 16_000_000)
    assert (14400 * s) ** 2 <= 16_000_000 and (14400 * s) ** 2 > 15_900_000


# --- Zotero (bug 6, weak points) ------------------------------------------------------------------------


@pytest.mark.slow
def test_zotero_attachments_outside_the_data_directory_are_refused(tmp_path):
    root = tmp_path / "Zotero"
    A.hostile_zotero(root)
    report, lines = index(tmp_path, "--zotero", str(root), ceiling_s=120)
    real = root.resolve()
    tail = f"leads outside the Zotero data directory {real}; give its folder as a PATH to index a file kept elsewhere"
    assert sorted(ln for ln in lines if ln.startswith("skipped")) == [
        f"skipped zotero item ABSITEM1 (Escaping attachment 1): refused: attachment path /etc/passwd {tail}",
        "skipped zotero item DOTSITM1 (Escaping attachment 0): refused: attachment path "
        f"storage:../../../../../../../../etc/passwd {tail}",
        f"skipped zotero item LINKITM1 (A linked escape): refused: attachment path storage:notes.txt {tail}",
    ]
    assert report["documents"] == 1
    docs = info_docs(tmp_path)
    assert list(docs) == ["GOODATT1/good.txt"]
    assert not any("root:" in json.dumps(d) for d in docs.values())


@pytest.mark.slow
def test_zotero_items_only_in_the_write_ahead_log_are_read(tmp_path):
    title = A.wal_zotero(tmp_path / "Zotero")
    assert (tmp_path / "Zotero" / "zotero.sqlite-wal").stat().st_size > 0
    report, _ = index(tmp_path, "--zotero", str(tmp_path / "Zotero"), ceiling_s=120)
    assert report["documents"] == 2
    assert title in {d["title"] for d in info_docs(tmp_path).values()}


@pytest.mark.slow
def test_a_link_out_of_the_folder_is_refused_in_one_line(tmp_path):
    folder = A.good_folder(tmp_path / "papers")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "inside.txt").symlink_to(folder / "good.txt")  # a link within the folder is fine
    report, lines = index(tmp_path, str(folder), ceiling_s=120)
    assert [ln for ln in lines if ln.startswith("skipped")] == [
        f"skipped {folder / 'passwd.txt'}: refused: a link to /etc/passwd, outside the folder being indexed; "
        "give that path itself to index it"
    ]
    # the link within the folder is read, then recognised as the same text as its target (rag/ingest/dedupe.py)
    assert report["documents"] == 2
    assert [d["doc_id"] for d in report["duplicates"]] == ["inside.txt"]


# --- CSL-JSON (bug 7) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_malformed_csl_items_are_read_leniently_or_skipped_never_the_rest(tmp_path):
    folder = A.malformed_csl(tmp_path / "papers")
    # bug 7: `"issued": "2020"` aborted the whole index (error: unexpected AttributeError, exit 1); the five
    # files share one text, so they are kept as the duplicates they are (rag/ingest/dedupe.py) to read every record
    report, lines = index(tmp_path, str(folder), "--keep-duplicates", ceiling_s=120)
    assert [ln for ln in lines if ln.startswith(("skipped", "error"))] == []
    assert report["documents"] == 5
    docs = info_docs(tmp_path)
    years = {k: docs[f"{k}.txt"]["bib"].get("year") for k in ("good2019", "str2020", "parts2021", "odd", "worse")}
    assert years == {"good2019": "2019", "str2020": "2020", "parts2021": "2021", "odd": "2022", "worse": "2023"}
    assert docs["odd.txt"]["bib"]["title"] == "a list"


def test_csl_fields_of_every_shape(tmp_path):
    from rag.ingest.library import read_bib_file
    from rag.records import Person

    lib = read_bib_file(A.malformed_csl(tmp_path, junk=True) / "refs.json")
    by = {b.key: b for b, _ in lib.entries}
    assert sorted(by) == ["good2019", "odd", "parts2021", "str2020", "worse"]
    assert by["odd"].authors == (Person("Somebody"),)
    assert by["worse"].authors == (Person("x"), Person("plain")) and by["worse"].doi == ""
    assert [(s.path.rsplit("/", 1)[1], s.reason) for s in lib.skipped] == [
        ("refs.json item 6", "CSL-JSON item cannot be read (not an object); fix it")
    ]


# --- exports (bugs 8 and 9) -----------------------------------------------------------------------------


def _export(tmp_path: Path, fmt: str) -> str:
    from rag.refs.bibexport import export_refs

    out = tmp_path / f"refs.{fmt}"
    assert export_refs(A.hostile_answers(tmp_path / "answers.jsonl"), out) == 2
    return out.read_text("utf-8")


def test_ris_export_cannot_be_injected(tmp_path):
    import rispy

    from rag.lang.text import one_line

    text = _export(tmp_path, "ris")
    records = rispy.loads(text)
    assert len(records) == 2 and text.count("TY  - ") == 2 and text.count("ER  - ") == 2
    assert (
        records[0]["title"] == one_line(A.HOSTILE_TITLE) == ("Cables ER - TY - JOUR TI - Injected record withcontrols")
    )
    assert records[0]["authors"] == ["Smith ER -, John"] and records[0]["secondary_title"] == "J Net"
    assert records[1]["title"] == A.SPECIAL_TITLE and records[1]["authors"] == ["World Bank", "张伟"]
    assert all(ord(c) >= 32 for c in text.replace("\n", ""))


def test_bibtex_export_escapes_and_round_trips(tmp_path):
    import bibtexparser

    from rag.ingest.library import read_bib_file
    from rag.lang.text import one_line
    from rag.records import Person

    text = _export(tmp_path, "bib")
    parsed = bibtexparser.parse_string(text)
    assert parsed.failed_blocks == [] and [e.key for e in parsed.entries] == ["smither2019", "worldbank2020"]
    for e in parsed.entries:  # BibTeX counts every brace, escaped or not: each value must balance
        for f in e.fields:
            assert f.value.count("{") == f.value.count("}"), f.value
    assert parsed.entries[1]["title"] == (
        r"50\% of \textbraceleft{}cables\textbraceright{} \& \#1 in C\_2 \textbackslash{}ok\textbraceright{}"
        r"\textbraceleft{} 海底光缆"
    )
    assert parsed.entries[1]["author"] == "{World Bank} and 张伟"
    back = {b.key: b for b, _ in read_bib_file(tmp_path / "refs.bib").entries}
    assert back["smither2019"].title == one_line(A.HOSTILE_TITLE)
    assert back["worldbank2020"].title == A.SPECIAL_TITLE  # unbalanced braces and every special, exactly
    assert back["worldbank2020"].authors == (Person("World Bank"), Person("张伟"))
    assert back["worldbank2020"].publisher == "A & B {Press"


def test_balanced_specials_round_trip_through_bibtexparsers_own_latex_decoding(tmp_path):
    import bibtexparser
    from bibtexparser import middlewares as mw

    from rag.records import Bib, Person
    from rag.refs.bibexport import to_bibtex

    title = r"50% of {cables} & #1 in C_2, $5 \ path 海底光缆 {IPv6}"
    works = [("d.pdf", Bib(type="report", title=title, authors=(Person("World Bank"), Person("Müller", "Jörg"))))]
    parsed = bibtexparser.parse_string(to_bibtex(works), append_middleware=[mw.LatexDecodingMiddleware()])
    assert parsed.failed_blocks == []
    assert parsed.entries[0]["title"] == title
    names = bibtexparser.parse_string(
        to_bibtex(works), append_middleware=[mw.SeparateCoAuthors(), mw.SplitNameParts()]
    ).entries[0]["author"]
    assert [n.last for n in names] == [["{World Bank}"], ["Müller"]]  # the organisation is one last name


def test_csl_and_batch_outputs_hold_no_control_characters(tmp_path):
    from rag.records import Citation
    from rag.refs.render import md_citation, md_reference, reference_list
    from rag.review.batch.render import citations_cell

    items = json.loads(_export(tmp_path, "json"))
    assert items[0]["title"] == "Cables ER - TY - JOUR TI - Injected record withcontrols"
    assert items[0]["container-title"] == "J Net"
    rec = json.loads((tmp_path / "answers.jsonl").read_text("utf-8"))
    cell = citations_cell(rec)
    assert cell.count("\n") == 1 and "\r" not in cell and "\x1b" not in cell  # one line per citation
    cites = [Citation.from_dict(c) for c in rec["citations"]]
    refs = reference_list([cites])
    for line in [md_citation(c, 1) for c in cites] + [md_reference(r, ["Smith\nER  -"]) for r in refs]:
        assert "\n" not in line and "\r" not in line and all(ord(ch) >= 32 for ch in line), line
    assert refs[0].bib.title == "Cables ER - TY - JOUR TI - Injected record withcontrols"


# --- BibTeX import (weak points) ------------------------------------------------------------------------


def test_bibtex_names_specials_macros_and_broken_entries(tmp_path):
    from rag.ingest.library import read_bib_file
    from rag.records import Person

    (tmp_path / "lib.bib").write_text(
        "@string{ng = {Network Governance}}\n"
        "@comment{ignored @article{not, title={x}} }\n"
        "@article{wb, author = {{World Bank} and Ludwig van Beethoven and de la Fontaine, Jean and Smith, Jr, John},\n"
        '  title = "A {\\"u}ber \\& {T}itle -- with \\textbackslash{} and 50\\%", journal = "Journal of " # ng,\n'
        "  year = 2020, month = mar, url = {https://x.org/~a--b_c%20d}, doi = {10.1/a--b}}\n"
        "@article{broken, title = {never closed\n"
        "@book(paren, title = {Round {brackets}}, author = {张伟 and 李娜})\n",
        "utf-8",
    )
    lib = read_bib_file(tmp_path / "lib.bib")
    by = {b.key: b for b, _ in lib.entries}
    assert sorted(by) == ["paren", "wb"]
    wb = by["wb"]
    assert wb.authors == (
        Person("World Bank"),
        Person("van Beethoven", "Ludwig"),
        Person("de la Fontaine", "Jean"),
        Person("Smith", "John Jr"),
    )
    assert wb.title == "A über & Title – with \\ and 50%"
    assert (wb.journal, wb.year, wb.url, wb.doi) == (
        "Journal of Network Governance",
        "2020",
        "https://x.org/~a--b_c%20d",
        "10.1/a--b",
    )
    assert by["paren"].title == "Round brackets" and by["paren"].authors == (Person("张伟"), Person("李娜"))
    assert [(s.path.rsplit(" ", 1)[1], s.reason) for s in lib.skipped] == [
        ("6", "BibTeX entry cannot be parsed; fix it")
    ]


def test_a_large_bib_is_read_fast_with_progress(tmp_path):
    # a 50 MB .bib took 219 s (0.17 MB/s measured here on 10 MB) with bibtexparser; the reader's target is
    # >= 10 MB/s (15 MB/s of CPU time measured on 50 MB, eval/NOTES.md); CPU time, as the machine is shared
    from rag.ingest.library import read_bib_file

    n = A.big_bib(tmp_path / "big.bib", 5)
    size = (tmp_path / "big.bib").stat().st_size / 1e6
    ticks: list[tuple[str, int, int]] = []
    c0 = time.process_time()
    lib = read_bib_file(tmp_path / "big.bib", lambda *t: ticks.append(t))
    cpu = time.process_time() - c0
    assert len(lib.entries) == n and lib.skipped == []
    assert size / cpu >= 5, f"{size / cpu:.1f} MB/s"
    assert len(ticks) >= 4 and ticks[-1][1] == ticks[-1][2] and {t[0] for t in ticks} == {"reading big.bib"}
    assert [t[1] for t in ticks] == sorted(t[1] for t in ticks)
    first = lib.entries[0][0]
    assert first.title.endswith("in IPv6 Müller") and first.journal == "Journal of Network Governance"


@pytest.mark.slow
def test_a_large_bib_costs_bounded_memory(tmp_path):
    # bibtexparser held 661 MB for a 50 MB file (and 547 s under load); the reader 210 MB (eval/NOTES.md)
    n = A.big_bib(tmp_path / "big.bib", 20)
    code = "import sys; from rag.ingest.library import read_bib_file; lib = read_bib_file(sys.argv[1]); print(len(lib.entries))"
    rc, seconds, peak_mb, out, err = A.run_measured(
        [sys.executable, "-c", code, str(tmp_path / "big.bib")], tmp_path, _env(), 240, 2 * RSS_CEILING_MB
    )
    assert rc == 0, err
    assert out.split() == [str(n)]
    assert peak_mb <= 400, f"peak RSS {peak_mb:.0f} MB"
    assert seconds <= 120


@pytest.mark.slow
def test_a_page_rendered_smaller_is_told_on_every_reading():
    from rag.ingest.pages import read_pdf

    data = A.huge_scan_pdf("CABLE REPAIR SHIPS", points=2000)  # 27.8 in square: 17 Mpx at 150 dpi
    note = "page 1 is 28 x 28 in; OCR read it at 36 dpi to stay under 1 Mpx (RAG_OCR_MAX_PIXELS)"
    for _ in range(2):  # the second reading comes from the per-process cache
        notes: list[str] = []
        pages = read_pdf(data, None, 1_000_000, notes)
        assert notes == [note] and pages[0].lines == ("CABLE REPAIR SHIPS",)
