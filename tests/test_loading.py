"""Loading: encodings detected, broken files skipped and reported, the rest read."""

from __future__ import annotations

import pytest
from helpers import make_pdf

from rag.errors import NoDocumentsError
from rag.ingest.loading import load_sources

ZH = "网络主权是国际法的重要原则。"


def _write(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    "name,data,encoding",
    [
        ("utf8.txt", ZH.encode("utf-8"), "utf-8"),
        ("bom.txt", b"\xef\xbb\xbf" + ZH.encode("utf-8"), "utf-8-sig"),
        ("gbk.txt", ZH.encode("gbk"), "gb18030"),
        ("gb18030.txt", (ZH + "𠀀").encode("gb18030"), "gb18030"),
        ("utf16.txt", ZH.encode("utf-16"), "utf-16"),
        ("notes.md", ("# 标题\n" + ZH).encode("utf-8"), "utf-8"),
    ],
)
def test_encodings_are_detected(tmp_path, name, data, encoding):
    _write(tmp_path, name, data)
    sources, skipped = load_sources([tmp_path])
    assert skipped == []
    assert len(sources) == 1
    assert sources[0].encoding == encoding
    assert ZH in sources[0].text
    assert "\ufeff" not in sources[0].text


def test_broken_files_are_skipped_and_reported_the_rest_indexed(tmp_path):
    _write(tmp_path, "good.txt", ZH.encode("utf-8"))
    _write(tmp_path, "empty.txt", b"")
    _write(tmp_path, "blank.md", b"  \n\n ")
    _write(tmp_path, "binary.txt", bytes(range(256)) * 4)
    _write(tmp_path, "image.png", b"\x89PNG\r\n\x1a\n")
    _write(tmp_path, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.txt").write_text("not walked into", encoding="utf-8")
    sources, skipped = load_sources([tmp_path, tmp_path / "missing.txt"])
    assert [s.doc_id for s in sources] == ["good.txt"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert reasons == {
        "empty.txt": "empty file",
        "blank.md": "empty file",
        "binary.txt": "binary file (contains NUL bytes)",
        "image.png": "unsupported type '.png' (use .txt, .md or .pdf)",
        "broken.pdf": "unreadable PDF: the file is damaged or incomplete; download or export it again",
        "missing.txt": "no such file or directory",
        ".hidden.txt": "hidden file (its name starts with '.'); rename it to index it",
        ".git": "hidden folder (its name starts with '.'); rename it to index it",
    }


def test_a_damaged_pdf_is_one_skip_line_and_nothing_else_on_stderr(tmp_path, capfd):
    """pypdf's own warnings ("EOF marker not found") stay off the user's terminal; the reason says what to do."""
    _write(tmp_path, "cut.pdf", b"%PDF-1.4\n1 0 obj garbage\n" + b"\x00" * 100)
    _write(tmp_path, "note.txt", "Cable repair ships restored capacity.".encode())
    sources, skipped = load_sources([tmp_path])
    assert [s.doc_id for s in sources] == ["note.txt"]
    assert [(s.path.rsplit("/", 1)[-1], s.reason) for s in skipped] == [
        ("cut.pdf", "unreadable PDF: the file is damaged or incomplete; download or export it again")
    ]
    assert capfd.readouterr() == ("", "")


def test_pdf_text_layer_is_read(tmp_path):
    _write(tmp_path, "paper.pdf", make_pdf(["Cable repair ships restored capacity.", "Second line here."]))
    sources, skipped = load_sources([tmp_path])
    assert skipped == []
    assert sources[0].encoding == "pdf"
    assert "Cable repair ships restored capacity." in sources[0].text


def test_nothing_readable_is_one_clear_error(tmp_path):
    _write(tmp_path, "empty.txt", b"")
    with pytest.raises(NoDocumentsError) as err:
        load_sources([tmp_path])
    assert "empty.txt: empty file" in str(err.value)
    assert "\n" not in str(err.value)


def test_doc_ids_are_relative_paths_and_unique(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "sub" / "x.txt").write_text(ZH, encoding="utf-8")
    (tmp_path / "b" / "x.txt").write_text(ZH, encoding="utf-8")
    sources, _ = load_sources([tmp_path / "a", tmp_path / "b" / "x.txt"])
    assert [s.doc_id for s in sources] == ["sub/x.txt", "x.txt"]
    sources, _ = load_sources([tmp_path / "b", tmp_path / "b"])
    assert [s.doc_id for s in sources] == ["x.txt", "x.txt~2"]
