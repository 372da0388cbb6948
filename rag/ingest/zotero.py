"""A Zotero data directory, read offline: a read-only copy of ``zotero.sqlite`` (Zotero locks its database
while it runs; Zotero need not run at all) and the attachments under ``storage/KEY/``. Tables read, as
Zotero's schema defines them: items/itemTypes, itemData/itemDataValues/fields,
itemCreators/creators/creatorTypes, itemAttachments, collections/collectionItems, deletedItems."""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from pathlib import Path

from rag.errors import InvalidInputError
from rag.ingest.loading import SUPPORTED, Skipped, inside
from rag.ingest.metadata import clean_doi
from rag.records import Bib, Person

ZOTERO_TYPES = {
    "journalArticle": "article-journal",
    "magazineArticle": "article-magazine",
    "newspaperArticle": "article-newspaper",
    "book": "book",
    "bookSection": "chapter",
    "conferencePaper": "paper-conference",
    "thesis": "thesis",
    "report": "report",
    "webpage": "webpage",
    "preprint": "article",
}
_CONTAINER = ("publicationTitle", "bookTitle", "proceedingsTitle", "websiteTitle", "blogTitle", "forumTitle")
_PUBLISHER = ("publisher", "university", "institution", "repository")
_READABLE_TYPES = {"application/pdf": 0, "text/plain": 1, "text/markdown": 1, "text/x-markdown": 1}


Item = tuple[Path, str, Bib]  # (attachment file, document id, the item's record)


def read_items(data_dir: str | Path, collection: str | None = None) -> tuple[list[Item], list[Skipped]]:
    """Every item with a readable attachment (PDF first, then .txt/.md) and its metadata and collections,
    and the items without one (as skipped); items in the trash are left out; ``collection`` (a name, its
    subcollections included) narrows it. Reads a copy of zotero.sqlite, read-only."""
    root = Path(data_dir).expanduser()
    db = root / "zotero.sqlite"
    if not db.is_file():
        raise InvalidInputError(
            f"no zotero.sqlite in {root}; give Zotero's data directory (Zotero: Settings > Advanced > Files and "
            "Folders > Data Directory Location)"
        )
    with tempfile.TemporaryDirectory(prefix="rag-zotero-") as tmp:
        copy = Path(tmp) / "zotero.sqlite"
        shutil.copyfile(db, copy)  # Zotero locks its database while it runs; a copy is always readable
        wal = root / "zotero.sqlite-wal"
        if wal.is_file():
            # items Zotero wrote since its last checkpoint live only in the write-ahead log; the copy reads
            # them through its own copy of the log (the -shm index is rebuilt from it, not copied: a live
            # one may not match the log copied a moment later)
            shutil.copyfile(wal, Path(tmp) / "zotero.sqlite-wal")
        # opened writable (the copy is private): a read-only connection cannot replay a log without its -shm
        con = sqlite3.connect(copy)
        try:
            return _read(con, root.resolve(), collection)
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(
                f"{db} is not a Zotero database this rag can read ({exc}); give Zotero's data directory"
            ) from None
        finally:
            con.close()


def _read(con: sqlite3.Connection, root: Path, collection: str | None) -> tuple[list[Item], list[Skipped]]:
    q = con.execute
    tables = {r[0] for r in q("SELECT name FROM sqlite_master WHERE type='table'")}
    deleted = {r[0] for r in q("SELECT itemID FROM deletedItems")} if "deletedItems" in tables else set()
    colls = {
        cid: (name, parent)
        for cid, name, parent in q("SELECT collectionID, collectionName, parentCollectionID FROM collections")
    }
    if "deletedCollections" in tables:
        for (cid,) in q("SELECT collectionID FROM deletedCollections"):
            colls.pop(cid, None)
    in_coll: dict[int, list[str]] = {}
    for cid, item in q("SELECT collectionID, itemID FROM collectionItems"):
        if cid in colls:
            in_coll.setdefault(item, []).append(colls[cid][0])
    wanted: set[int] | None = None
    if collection is not None:
        picked = {cid for cid, (name, _) in colls.items() if name == collection}
        if not picked:
            names = ", ".join(sorted({n for n, _ in colls.values()})[:5]) or "none"
            raise InvalidInputError(f"no Zotero collection named '{collection}' (collections: {names})")
        grew = True
        while grew:  # subcollections too
            more = {cid for cid, (_, parent) in colls.items() if parent in picked} - picked
            picked |= more
            grew = bool(more)
        wanted = {item for cid, item in q("SELECT collectionID, itemID FROM collectionItems") if cid in picked}
    items = {
        iid: (key, tname)
        for iid, key, tname in q(
            "SELECT items.itemID, items.key, itemTypes.typeName FROM items JOIN itemTypes USING (itemTypeID)"
        )
        if iid not in deleted
    }
    values: dict[int, dict[str, str]] = {}
    for iid, fname, value in q(
        "SELECT itemData.itemID, fields.fieldName, itemDataValues.value FROM itemData "
        "JOIN fields USING (fieldID) JOIN itemDataValues USING (valueID)"
    ):
        values.setdefault(iid, {})[fname] = str(value)
    creators: dict[int, list[tuple[str, Person]]] = {}
    for iid, first, last, mode, ctype in q(
        "SELECT itemCreators.itemID, creators.firstName, creators.lastName, creators.fieldMode, "
        "creatorTypes.creatorType FROM itemCreators JOIN creators USING (creatorID) "
        "JOIN creatorTypes USING (creatorTypeID) ORDER BY itemCreators.itemID, itemCreators.orderIndex"
    ):
        person = Person(last or "") if mode == 1 or not first else Person(last or "", first)
        creators.setdefault(iid, []).append((ctype, person))
    attachments: dict[int, list[tuple[int, int, str, str]]] = {}
    for aid, parent, mode, ctype, path in q(
        "SELECT itemID, parentItemID, linkMode, contentType, path FROM itemAttachments ORDER BY itemID"
    ):
        if aid in items and aid not in deleted:
            attachments.setdefault(parent if parent is not None else aid, []).append(
                (aid, mode, ctype or "", path or "")
            )
    files: list[Item] = []
    skipped: list[Skipped] = []
    for iid, (key, tname) in items.items():
        if tname in ("attachment", "note", "annotation") and iid not in attachments:
            continue
        if wanted is not None and iid not in wanted:
            continue
        vals = values.get(iid, {})
        bib = _zotero_bib(key, tname, vals, creators.get(iid, []), tuple(sorted(set(in_coll.get(iid, [])))))
        found = _pick_attachment(root.resolve(), items, attachments.get(iid, []))
        label = f"zotero item {key} ({bib.title or 'untitled'})"
        if isinstance(found, str):
            skipped.append(Skipped(label, found))
            continue
        storage = (root / "storage").resolve()
        rel = found.relative_to(storage).as_posix() if inside(found, storage) else found.name
        files.append((found, rel, bib))
    return files, skipped


def _pick_attachment(root: Path, items: dict, atts: list[tuple[int, int, str, str]]) -> Path | str:
    """The attachment file to index (PDF first, then plain text or Markdown, earliest added first), or
    the reason there is none. Every path is resolved (``..`` and links) and must stay inside the data
    directory ``root``: a path that leaves it is refused and named, never read."""
    reasons = []
    ranked = sorted(atts, key=lambda a: (_READABLE_TYPES.get(a[2], 2), a[0]))
    for aid, mode, ctype, path in ranked:
        if mode == 3 or not path:  # a link to a web page
            continue
        if path.startswith("storage:"):
            f = root / "storage" / items[aid][0] / path[len("storage:") :]
        elif path.startswith("attachments:"):
            reasons.append(f"linked file {path} is relative to Zotero's base directory; give that folder as a PATH too")
            continue
        else:
            f = Path(path)
        if f.suffix.lower() not in SUPPORTED and ctype not in _READABLE_TYPES:
            continue
        if not (inside(f, root) or inside(f, root / "storage")):  # storage/ may be a link to another disk
            reasons.insert(
                0,
                f"refused: attachment path {path} leads outside the Zotero data directory {root}; "
                "give its folder as a PATH to index a file kept elsewhere",
            )
            continue
        if not f.is_file():
            reasons.append(f"attachment {f} is missing (not synced or moved)")
            continue
        return f.resolve()
    return reasons[0] if reasons else "no readable attachment (PDF, .txt or .md)"


def year_of(text: str) -> str:
    """The first plausible year (1500-2099) in a date text, or ''."""
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", text)
    return m.group(1) if m else ""


def _zotero_bib(key: str, tname: str, vals: dict, creators: list, collections: tuple[str, ...]) -> Bib:
    authors = tuple(p for t, p in creators if t == "author") or tuple(p for _, p in creators[:1])
    return Bib(
        type=ZOTERO_TYPES.get(tname, "document"),
        title=vals.get("title", ""),
        authors=authors,
        year=year_of(vals.get("date", "")),
        journal=next((vals[f] for f in _CONTAINER if vals.get(f)), ""),
        volume=vals.get("volume", ""),
        issue=vals.get("issue", ""),
        pages=vals.get("pages", "").replace("–", "-").replace("--", "-"),
        doi=clean_doi(vals.get("DOI", "")),
        url=vals.get("url", ""),
        publisher=next((vals[f] for f in _PUBLISHER if vals.get(f)), ""),
        place=vals.get("place", ""),
        key=vals.get("citationKey") or key,  # Zotero 7's citation key field, else the item key
        collections=collections,
        source="zotero",
    )
