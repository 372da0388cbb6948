"""Turn a PLOS JATS XML article into the plain text committed under papers_en/ (title, authors, year,
abstract, body with section headings; references, figures' files and tables' XML left out).

    python eval/review/jats2txt.py ARTICLE.xml > papers_en/NAME.txt
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET


def _text(el: ET.Element) -> str:
    """An element's text with inline markup removed and whitespace collapsed."""
    return " ".join("".join(el.itertext()).split())


def convert(xml: str) -> str:
    """The article as text: front matter lines, then one paragraph per line under its headings."""
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", xml)
    root = ET.fromstring(xml)
    meta = root.find("front/article-meta")
    assert meta is not None
    title = _text(meta.find("title-group/article-title"))  # type: ignore[arg-type]
    names = []
    for c in meta.iterfind("contrib-group/contrib[@contrib-type='author']"):
        n = c.find("name")
        if n is not None:
            names.append(
                f"{_text(n.find('given-names')) if n.find('given-names') is not None else ''} {_text(n.find('surname'))}".strip()
            )
        elif c.find("collab") is not None:
            names.append(_text(c.find("collab")))  # type: ignore[arg-type]
    year = meta.find("pub-date/year")
    out = [title, ", ".join(names), _text(year) if year is not None else "", ""]
    for ab in meta.iterfind("abstract"):
        if ab.get("abstract-type"):  # editors' summaries and the like
            continue
        out.append("Abstract")
        out += [_text(p) for p in ab.iter("p")]
        out.append("")
    body = root.find("body")

    def walk(sec: ET.Element, depth: int) -> None:
        for child in sec:
            if child.tag == "title" and _text(child):
                out.extend(["", "#" * depth + " " + _text(child)])
            elif child.tag == "p":
                for sub in child.findall(".//table-wrap") + child.findall(".//fig"):
                    sub.clear()
                out.append(_text(child))
            elif child.tag == "sec":
                walk(child, depth + 1)
            elif child.tag == "list":
                out.extend("- " + _text(li) for li in child.iter("list-item"))

    if body is not None:
        walk(body, 1)
    return "\n".join(line for line in out if line is not None).strip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(convert(open(sys.argv[1], encoding="utf-8").read()))
