"""Writing review answers: a paper's short reference ("Ioannidis (2005)", "朱杰进、何越（2025）"), a cell's
text (its points as verbatim quotes, each with its citation mark), and the pooled answer grouped per
paper, framed in the question's language with every quote kept as the paper wrote it."""

from __future__ import annotations

from collections.abc import Sequence

from rag.index.store.layout import DocInfo
from rag.records import Bib


def short_ref(info: DocInfo | None, lang: str, doc: str = "") -> str:
    """Author-year reference: "Smith (2019)", "Smith & Lee (2019)", "Smith et al. (2019)"; in Chinese
    "李明（2019）", "李明、王芳（2019）", "李明等（2019）"; the title when no author is known."""
    bib: Bib = info.bib if info is not None else Bib()
    names = [p.family or p.given for p in bib.authors] or list(info.authors if info else [])
    names = [n for n in names if n][:3] if names else []
    year = bib.year or ""
    if not names:
        label = (info.title if info and info.title else doc) or doc
        return f"{label}（{year}）" if lang == "zh" and year else (f"{label} ({year})" if year else label)
    if lang == "zh":
        who = names[0] if len(names) == 1 else ("、".join(names[:2]) if len(names) == 2 else names[0] + "等")
        return f"{who}（{year}）" if year else who
    who = names[0] if len(names) == 1 else (" & ".join(names[:2]) if len(names) == 2 else names[0] + " et al.")
    return f"{who} ({year})" if year else who


def quoted(text: str) -> str:
    """A verbatim quote in double quotation marks."""
    return f"“{text}”"


def cell_text(quotes: Sequence[str], marks: Sequence[int]) -> str:
    """A cell's answer: each point quoted, with its citation mark, in the paper's order."""
    return " ".join(f"{quoted(q)}[{m}]" for q, m in zip(quotes, marks))


def pooled_text(
    lang: str,
    groups: Sequence[tuple[str, Sequence[str], Sequence[int]]],
    absent: Sequence[str],
) -> str:
    """The pooled answer: per paper "Author (Year) argues: “…”[1]; “…”[2]." and a last sentence naming the
    papers that do not discuss the question (``groups``: (short reference, quotes, marks))."""
    parts = []
    for ref, quotes, marks in groups:
        body = ("；" if lang == "zh" else "; ").join(f"{quoted(q)}[{m}]" for q, m in zip(quotes, marks))
        if lang == "zh":
            parts.append(f"{ref}指出：{body}。")
        else:
            verb = "argue" if (" & " in ref or "et al." in ref) else "argues"
            parts.append(f"{ref} {verb}: {body}.")
    if absent:
        if lang == "zh":
            parts.append("未讨论该问题的文献：" + "；".join(absent) + "。")
        else:
            parts.append("Not discussed in: " + "; ".join(absent) + ".")
    if not groups:
        return parts[-1] if parts else ""
    return "\n".join(parts)


def relations_text(lang: str, pairs: Sequence[tuple[str, int, str, int, str]]) -> str:
    """Where papers meet, in the question's language: "Same point: A (2020)[1] and B (2019)[4]." and
    "Opposite stances: ..." (``pairs``: (reference a, mark a, reference b, mark b, relation))."""
    out = []
    for rel, en, zh in (("same", "Same point", "观点相近"), ("opposite", "Opposite stances", "立场相反")):
        got = [(ra, ma, rb, mb) for ra, ma, rb, mb, r in pairs if r == rel]
        if not got:
            continue
        if lang == "zh":
            out.append(zh + "：" + "；".join(f"{ra}[{ma}]与{rb}[{mb}]" for ra, ma, rb, mb in got) + "。")
        else:
            out.append(f"{en}: " + "; ".join(f"{ra} [{ma}] and {rb} [{mb}]" for ra, ma, rb, mb in got) + ".")
    return "\n".join(out)
