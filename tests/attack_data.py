"""Hostile inputs for the ingest attack tests and the before/after probe (bench/ingest_attack_probe.py):
PDFs written object by object (a FlateDecode bomb, a huge text-less page, a password-protected file, a
broken cross-reference table, thousands of pages), a Zotero data directory with attachment paths that
escape it and items only in the write-ahead log, CSL-JSON with malformed items, answer records whose
bibliographic fields hold control characters and BibTeX specials, and a large synthetic .bib."""

from __future__ import annotations

import json
import random
import shutil
import zlib
from pathlib import Path

from tests.library_data import Zotero

GOOD_TEXT = (
    "Submarine cables carry most intercontinental internet traffic. Repair ships are few, so a cut "
    "cable can stay broken for weeks while traffic is rerouted over the remaining systems."
)


def _pdf(objs: list[bytes], broken_xref: bool = False) -> bytes:
    """A PDF of the numbered objects (1 = catalog), with a cross-reference table (its offsets all wrong
    when ``broken_xref``)."""
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{(o * 7 + 13) if broken_xref else o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref + (999 if broken_xref else 0)}\n%%EOF\n".encode()
    return out


def _stream(data: bytes, extra: str = "") -> bytes:
    return f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream"


def _text_ops(lines: list[str]) -> bytes:
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
    return ("BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({ln}) '" for ln in esc) + " ET").encode()


def pages_pdf(contents: list[bytes], size: tuple[float, float] = (612, 792), flate: bool = False) -> list[bytes]:
    """The objects of a PDF with one page per content stream (Helvetica as /F1)."""
    n = len(contents)
    font = 3 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, c in enumerate(contents):
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]:g} {size[1]:g}] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objs.append(_stream(zlib.compress(c), " /Filter /FlateDecode") if flate else _stream(c))
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return objs


def text_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF whose text layer holds ``lines`` (ASCII)."""
    return _pdf(pages_pdf([_text_ops(lines)]))


def flate_bomb(inflated_mb: int) -> bytes:
    """A one-page PDF whose content stream (a line of text, then blanks) inflates to ``inflated_mb`` MB
    from about a thousandth of that: a compression bomb."""
    head = _text_ops(["A page that inflates without end."]) + b"\n"
    z = zlib.compressobj(9)
    parts = [z.compress(head)]
    block = b" " * (1 << 20)
    for _ in range(inflated_mb):
        parts.append(z.compress(block))
    parts.append(z.flush())
    packed = b"".join(parts)
    objs = pages_pdf([b""])
    objs[3] = _stream(packed, " /Filter /FlateDecode")
    return _pdf(objs)


def huge_page_pdf(points: float = 14400) -> bytes:
    """One text-less page ``points`` wide and high (14400 pt = 200 in, the largest PDF allows): OCR's
    rendering at 150 dpi would be 30000 x 30000 pixels."""
    return _pdf(pages_pdf([b"0 0 1 rg 10 10 100 100 re f"], size=(points, points)))


def huge_scan_pdf(words: str = "CABLE REPAIR SHIPS", points: float = 14400) -> bytes:
    """One huge page (``points`` square) without a text layer whose only content is a picture of ``words``
    in big letters, as a scanned poster: OCR must read it at a resolution that fits the pixel cap."""
    from PIL import Image, ImageDraw, ImageFont

    from tests.library_data import CJK_FONT

    font = ImageFont.truetype(CJK_FONT, 120)
    img = Image.new("L", (1400, 200), 255)
    ImageDraw.Draw(img).text((20, 30), words, fill=0, font=font)
    raw = zlib.compress(img.tobytes())
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {points:g} {points:g}] /Contents 4 0 R "
        "/Resources << /XObject << /Im1 5 0 R >> >> >>".encode(),
        _stream(f"q {points * 0.8:g} 0 0 {points * 0.8 / 7:g} {points * 0.1:g} {points * 0.5:g} cm /Im1 Do Q".encode()),
        _stream(
            raw,
            " /Type /XObject /Subtype /Image /Width 1400 /Height 200 /ColorSpace /DeviceGray "
            "/BitsPerComponent 8 /Filter /FlateDecode",
        ),
    ]
    return _pdf(objs)


def encrypted_pdf(password: str = "secret") -> bytes:
    """A text PDF that opens only with a user password (``password`` '': anyone may open it, only its owner
    password guards editing)."""
    import io

    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([GOOD_TEXT[:60]]))))
    w.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def broken_xref_pdf() -> bytes:
    """A text PDF whose cross-reference table points at wrong offsets (readers rebuild it by scanning)."""
    return _pdf(pages_pdf([_text_ops(["Broken xref tables are rebuilt by scanning the file."])]), broken_xref=True)


def many_pages_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` pages, each with one short line of text."""
    return _pdf(pages_pdf([_text_ops([f"Page {i} of a very long file."]) for i in range(1, pages + 1)], flate=True))


def good_folder(folder: Path) -> Path:
    """A folder with one readable text file and one readable PDF (what must still be indexed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.txt").write_text(GOOD_TEXT + "\n", encoding="utf-8")
    (folder / "good.pdf").write_bytes(text_pdf(["Repair ships restore cut cables within weeks.", GOOD_TEXT[:70]]))
    return folder


def hostile_zotero(root: Path) -> dict[str, str]:
    """A Zotero data directory with one good item and items whose attachments escape the data directory
    (``storage:`` with ``..``, an absolute path, a symbolic link out of storage/); returns item key ->
    what its attachment path is."""
    z = Zotero(root)
    good = z.item("GOODITM1", "journalArticle", {"title": "Cable repair", "date": "2020"}, [("Smith", "John")])
    z.attach(good, "GOODATT1", "good.txt", (GOOD_TEXT + "\n").encode(), "text/plain")
    paths = {"DOTSITM1": "storage:../../../../../../../../etc/passwd", "ABSITEM1": "/etc/passwd"}
    for n, (key, path) in enumerate(paths.items()):
        iid = z.item(key, "journalArticle", {"title": f"Escaping attachment {n}"}, [("Evil", "Eve")])
        aid = z._item("attachment", key[:4] + "ATT1")
        (root / "storage" / (key[:4] + "ATT1")).mkdir()  # the folder exists, as Zotero makes one per attachment
        z.con.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) VALUES (?, ?, ?, ?, ?)",
            (aid, iid, 0 if path.startswith("storage:") else 2, "text/plain", path),
        )
    link = z.item("LINKITM1", "journalArticle", {"title": "A linked escape"}, [("Evil", "Eve")])
    target = z.attach(link, "LINKATT1", "notes.txt", b"x", "text/plain")
    target.unlink()
    target.symlink_to("/etc/passwd")
    paths["LINKITM1"] = "storage:notes.txt -> /etc/passwd"
    z.close()
    return paths


def wal_zotero(root: Path) -> str:
    """A Zotero data directory in WAL mode whose second item was written to zotero.sqlite-wal only (as
    while Zotero runs and has not checkpointed); returns that item's title."""
    live = root.parent / (root.name + "-live")
    z = Zotero(live)
    z.con.commit()  # the journal mode changes only outside a transaction
    assert z.con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    one = z.item("WALITEM1", "journalArticle", {"title": "Checkpointed item"}, [("Smith", "John")])
    z.attach(one, "WALATT01", "one.txt", (GOOD_TEXT + "\n").encode(), "text/plain")
    z.con.commit()
    z.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    z.con.execute("PRAGMA wal_autocheckpoint=0")
    two = z.item("WALITEM2", "journalArticle", {"title": "Item only in the WAL"}, [("Lee", "Kim")])
    z.attach(two, "WALATT02", "two.txt", b"Write-ahead logs hold the newest items until a checkpoint.\n", "text/plain")
    z.con.commit()
    # copy while the writer still holds the log (a closing connection would checkpoint it)
    shutil.copytree(live, root)
    z.con.close()
    shutil.rmtree(live)
    return "Item only in the WAL"


def malformed_csl(folder: Path, junk: bool = False) -> Path:
    """A folder whose CSL-JSON (refs.json) holds a good item and items with malformed fields (``junk``: and
    an item that is not an object at all), with a text file each of them names."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [
        {
            "id": "good2019",
            "type": "article-journal",
            "title": "Cable repair at sea",
            "issued": {"date-parts": [[2019]]},
            "author": [{"family": "Smith", "given": "John"}],
        },
        {"id": "str2020", "type": "article-journal", "title": "Issued as a string", "issued": "2020"},
        {"id": "parts2021", "title": "Year as text", "issued": {"date-parts": [["2021", "3"]]}},
        {
            "id": "odd",
            "title": ["a", "list"],
            "author": "Somebody",
            "issued": {"date-parts": "2022"},
            "page": 12,
            "file": 5,
        },
        {"id": "worse", "author": [{"family": ["x"]}, "plain"], "issued": [2023], "DOI": {"x": 1}},
    ]
    (folder / "refs.json").write_text(json.dumps(items + (["not an item"] if junk else [])), encoding="utf-8")
    for it in items:
        (folder / f"{it['id']}.txt").write_text(f"{GOOD_TEXT} ({it['id']})\n", encoding="utf-8")
    return folder


HOSTILE_TITLE = "Cables\nER  - \nTY  - JOUR\nTI  - Injected record\r\x0bwith\x00controls"
SPECIAL_TITLE = r"50% of {cables} & #1 in C_2 \ok}{ 海底光缆"


def hostile_answers(path: Path) -> Path:
    """A `rag batch`-like .jsonl whose cited works carry control characters (a RIS record injection in a
    title) and BibTeX specials (unbalanced braces, % & # _ \\), a corporate author and Chinese text."""
    works = [
        {
            "type": "article-journal",
            "title": HOSTILE_TITLE,
            "authors": [["Smith\nER  -", "John"]],
            "year": "2019",
            "journal": "J\tNet\x1b[31m",
            "source": "zotero",
            "key": "ABCD1234",
        },
        {
            "type": "report",
            "title": SPECIAL_TITLE,
            "authors": [["World Bank", ""], ["张伟", ""]],
            "year": "2020",
            "publisher": "A & B {Press",
            "pages": "1-9",
            "source": "zotero",
            "key": "EFGH5678",
        },
    ]
    cites = [
        {
            "n": i,
            "doc": f"doc{i}.pdf",
            "title": w["title"],
            "section": "",
            "chunk_id": f"c{i}",
            "text": "t",
            "quote": "q",
            "score": 1.0,
            "bib": w,
        }
        for i, w in enumerate(works, start=1)
    ]
    path.write_text(
        json.dumps({"question": "q", "answer": "a", "abstained": False, "citations": cites}) + "\n", encoding="utf-8"
    )
    return path


def big_bib(path: Path, megabytes: float, seed: int = 7) -> int:
    """A synthetic BibTeX file of about ``megabytes`` MB (ASCII and Chinese titles, LaTeX accents, braced
    words, ``file`` fields, @string macros and comments); returns the number of entries."""
    rng = random.Random(seed)
    words = "cable network repair ocean data routing latency policy signal fiber".split()
    han = "海底光缆网络数据治理合作标准化进程量子通信"
    out = ["@string{jng = {Journal of Network Governance}}\n", "% a comment line\n"]
    size = sum(map(len, out))
    n = 0
    while size < megabytes * 1_000_000:
        n += 1
        if n % 3 == 0:
            title = "".join(rng.choice(han) for _ in range(14))
            author = "张伟 and 李娜"
        else:
            title = " ".join(rng.choice(words) for _ in range(8)).capitalize() + ' in {IPv6} M{\\"u}ller'
            author = 'Smith, John A. and M{\\"u}ller, J{\\"o}rg and {World Bank}'
        e = (
            f"@article{{key{n},\n  title = {{{title}}},\n  author = {{{author}}},\n  journal = jng,\n"
            f"  year = {{{2000 + n % 24}}},\n  volume = {{{n % 40}}},\n  number = {{{n % 12}}},\n"
            f"  pages = {{{n % 300}--{n % 300 + 12}}},\n  doi = {{10.1234/x.{n}}},\n"
            f"  file = {{Full Text:files/{n}/paper{n}.pdf:application/pdf}},\n"
            f"  abstract = {{{' '.join(rng.choice(words) for _ in range(60))}}}\n}}\n\n"
        )
        out.append(e)
        size += len(e.encode())
    path.write_text("".join(out), encoding="utf-8")
    return n


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo += [int(k) for k in kids]
    return out


def _kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(args: list[str], cwd: Path, env: dict, timeout: float, kill_mb: float = 4096):
    """Run a command, polling its process tree: returns (exit code or 'killed: ...', seconds, peak RSS in MB
    of its largest process (VmHWM), stdout, stderr). The tree is killed beyond ``timeout`` seconds or
    ``kill_mb`` MB of resident memory, so a runaway probe cannot take the machine down."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    # a wrapper process reports the exact peak of the command (RUSAGE_CHILDREN), polled peaks miss the last 50 ms
    fd, peak_file = tempfile.mkstemp(prefix="rag-peak-")
    os.close(fd)
    wrap = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[2:]).returncode; "
        "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(r)"
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", wrap, peak_file, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    peak, status = 0, None
    import threading

    outs: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda k=k, f=f: outs.__setitem__(k, f.read()), daemon=True)
        for k, f in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for r in readers:
        r.start()
    while proc.poll() is None:
        pids = _tree(proc.pid)
        peak = max([peak] + [_kb(p, "VmHWM") for p in pids])
        rss = sum(_kb(p, "VmRSS") for p in pids)
        elapsed = time.perf_counter() - t0
        if rss > kill_mb * 1024 or elapsed > timeout:
            status = f"killed: {rss / 1024:.0f} MB resident" if rss > kill_mb * 1024 else f"killed: {timeout:.0f} s"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    try:
        peak = max(peak, int(Path(peak_file).read_text() or 0))
    except (OSError, ValueError):
        pass
    Path(peak_file).unlink(missing_ok=True)
    for r in readers:
        r.join(5)
    return (status or proc.returncode), seconds, peak / 1024, outs.get("out", ""), outs.get("err", "")
