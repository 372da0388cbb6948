"""Real library files for tests: PDFs with Chinese text (reportlab, WenQuanYi Micro Hei), a Zotero data
directory with Zotero's own tables and columns (created with SQLite), and .bib / CSL-JSON files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# the tables rag reads, as Zotero's schema (chrome/content/zotero/xpcom/schema / userdata.sql) defines them
ZOTERO_SCHEMA = """
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE items (
    itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, orderIndex), UNIQUE (itemID, creatorID, creatorTypeID, orderIndex));
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT,
    charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT,
    lastProcessedModificationTime INT);
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    parentCollectionID INT DEFAULT NULL, clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
"""
ITEM_TYPES = {"attachment": 3, "book": 7, "journalArticle": 22, "note": 28}
FIELDS = {"title": 1, "date": 6, "url": 13, "volume": 19, "pages": 32, "publicationTitle": 38, "issue": 76, "DOI": 59}
CREATOR_TYPES = {"author": 8, "editor": 10}


def make_pdf(path: Path, lines: list[str], title: str = "", author: str = "") -> Path:
    """A real PDF (one page per 40 lines) of ``lines`` in a CJK font, with an information dictionary."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "WQY" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQY", CJK_FONT, subfontIndex=0))
    c = canvas.Canvas(str(path), pageCompression=1, invariant=1)
    if title:
        c.setTitle(title)
    if author:
        c.setAuthor(author)
    for start in range(0, max(len(lines), 1), 40):
        c.setFont("WQY", 11)
        y = 800
        for ln in lines[start : start + 40]:
            c.drawString(50, y, ln)
            y -= 18
        c.showPage()
    c.save()
    return path


def wrap(text: str, width: int = 38) -> list[str]:
    """Text as lines of at most ``width`` characters (paragraphs kept apart by an empty line)."""
    out = []
    for para in text.split("\n"):
        para = para.strip()
        if not para:
            out.append("")
        while para:
            out.append(para[:width])
            para = para[width:]
    return out


class Zotero:
    """Writes a Zotero data directory: zotero.sqlite with its schema, attachments under storage/KEY/."""

    def __init__(self, root: Path):
        self.root = root
        (root / "storage").mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(root / "zotero.sqlite")
        self.con.executescript(ZOTERO_SCHEMA)
        self.con.executemany(
            "INSERT INTO itemTypes (itemTypeID, typeName) VALUES (?, ?)", [(v, k) for k, v in ITEM_TYPES.items()]
        )
        self.con.executemany(
            "INSERT INTO fields (fieldID, fieldName) VALUES (?, ?)", [(v, k) for k, v in FIELDS.items()]
        )
        self.con.executemany(
            "INSERT INTO creatorTypes (creatorTypeID, creatorType) VALUES (?, ?)",
            [(v, k) for k, v in CREATOR_TYPES.items()],
        )
        self.next_id = 1

    def _item(self, type_name: str, key: str) -> int:
        iid = self.next_id
        self.next_id += 1
        self.con.execute(
            "INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, 1, ?)",
            (iid, ITEM_TYPES[type_name], key),
        )
        return iid

    def _value(self, value: str) -> int:
        row = self.con.execute("SELECT valueID FROM itemDataValues WHERE value = ?", (value,)).fetchone()
        if row:
            return row[0]
        return self.con.execute("INSERT INTO itemDataValues (value) VALUES (?)", (value,)).lastrowid

    def item(
        self, key: str, type_name: str, fields: dict[str, str], authors: list[tuple[str, str]] = (), collections=()
    ) -> int:
        """A regular item; ``authors`` as (last, first) pairs, first '' for a single-field name."""
        iid = self._item(type_name, key)
        for name, value in fields.items():
            self.con.execute("INSERT INTO itemData VALUES (?, ?, ?)", (iid, FIELDS[name], self._value(value)))
        for i, (last, first) in enumerate(authors):
            mode = 0 if first else 1
            row = self.con.execute(
                "SELECT creatorID FROM creators WHERE lastName = ? AND firstName = ? AND fieldMode = ?",
                (last, first, mode),
            ).fetchone()
            cid = (
                row[0]
                if row
                else self.con.execute(
                    "INSERT INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)", (first, last, mode)
                ).lastrowid
            )
            self.con.execute("INSERT INTO itemCreators VALUES (?, ?, ?, ?)", (iid, cid, CREATOR_TYPES["author"], i))
        for cid in collections:
            self.con.execute("INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)", (cid, iid))
        return iid

    def attach(self, parent: int | None, key: str, name: str, data: bytes, content_type: str) -> Path:
        """An imported file attachment (linkMode 0, path 'storage:NAME') of item ``parent``."""
        aid = self._item("attachment", key)
        self.con.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) VALUES (?, ?, 0, ?, ?)",
            (aid, parent, content_type, f"storage:{name}"),
        )
        folder = self.root / "storage" / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        return folder / name

    def collection(self, cid: int, name: str, key: str, parent: int | None = None) -> int:
        """A collection (``parent``: the collection it sits in)."""
        self.con.execute(
            "INSERT INTO collections (collectionID, collectionName, parentCollectionID, libraryID, key) VALUES (?, ?, ?, 1, ?)",
            (cid, name, parent, key),
        )
        return cid

    def delete(self, iid: int) -> None:
        """Move an item to the trash."""
        self.con.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (iid,))

    def close(self) -> None:
        """Commit and close the database."""
        self.con.commit()
        self.con.close()


FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


def fixture_text(name: str) -> str:
    """A fixture paper's text as UTF-8."""
    data = (FIXTURES / name).read_bytes()
    return data.decode("gbk") if name.startswith("gbk") else data.decode("utf-8")


def build_zotero(root: Path) -> dict:
    """The test library: three journal articles (two Chinese, one English) in two collections (one nested
    in another), a trashed item and an item without a file; returns what was put where."""
    z = Zotero(root)
    quantum = z.collection(1, "量子", "COLLQNT1")
    z.collection(3, "卫星", "COLLSAT1", parent=quantum)
    cables = z.collection(2, "Cables", "COLLCBL1")
    tx = z.item(
        "QKDITEM1",
        "journalArticle",
        {
            "title": "量子通信网络的标准化进程",
            "publicationTitle": "通信学报",
            "date": "2021-03-00 2021-03",
            "volume": "42",
            "issue": "3",
            "pages": "15-24",
            "DOI": "10.1234/tx.2021.03.002",
        },
        [("张伟", ""), ("李娜", ""), ("王强", ""), ("赵敏", "")],
        [3],
    )
    pdf_zh = make_pdf(root / "tmp-zh.pdf", wrap(fixture_text("gbk_paper.txt")))
    z.attach(tx, "QKDATT01", "标准化进程.pdf", pdf_zh.read_bytes(), "application/pdf")
    pdf_zh.unlink()
    cab = z.item(
        "CABITEM1",
        "journalArticle",
        {
            "title": "Submarine cables and internet resilience",
            "publicationTitle": "Journal of Network Governance",
            "date": "2019-06-15 2019-06-15",
            "volume": "7",
            "issue": "2",
            "pages": "101–120",
            "DOI": "10.5555/jng.2019.0007",
        },
        [("Smith", "John A."), ("Lee", "Kim")],
        [cables],
    )
    pdf_en = make_pdf(root / "tmp-en.pdf", wrap(fixture_text("en_notes.md"), 90))
    z.attach(cab, "CABATT01", "cables.pdf", pdf_en.read_bytes(), "application/pdf")
    pdf_en.unlink()
    dsr = z.item(
        "DSRITEM1",
        "journalArticle",
        {
            "title": "数字丝绸之路与东南亚数据治理合作",
            "publicationTitle": "国际观察",
            "date": "2020",
            "issue": "5",
            "pages": "33-47",
        },
        [("李", "明"), ("王", "芳")],
        [quantum],
    )
    z.attach(dsr, "DSRATT01", "dsr.txt", fixture_text("zh_paper.txt").encode("utf-8"), "text/plain")
    gone = z.item("GONEITM1", "journalArticle", {"title": "A trashed paper"}, [("Gone", "G.")], [cables])
    z.attach(gone, "GONEATT1", "gone.txt", b"Trashed papers are never indexed. " * 20, "text/plain")
    z.delete(gone)
    z.item("BOOKITM1", "book", {"title": "A book without a file", "date": "2001"}, [("Nofile", "N.")], [cables])
    z.close()
    return {"quantum": "QKDATT01/标准化进程.pdf", "cables": "CABATT01/cables.pdf", "silk": "DSRATT01/dsr.txt"}
