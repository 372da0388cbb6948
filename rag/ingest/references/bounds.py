"""Where a reference list ends: the lines after a list heading are its entries only until a line that
cannot belong to an entry. A back-matter heading (appendix, acknowledgements, abstract, author notes),
a received/funding note of the page's foot, a line opening with a footnote mark after a finished entry,
or a line after a vertical gap that does not open the next entry ends the list; a numbered list picks
up again when its next number follows soon after (a page's foot notes read between two of its entries).

General typographic and wording cues only: nothing here names a document's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.references.detect import entry_label
from rag.lang.normalize import MARK_OPEN, MARK_RE

RESUME_LINES = 12  # a numbered list picks up again if its next entry comes within this many lines

# a heading of the back matter on a line of its own, with an appendix's label and title ("Appendix A: Proofs")
_BACK_HEADING = re.compile(
    r"^#*\s*(?:附\s*录|appendix|appendices|致\s*谢|acknowledge?ments?|摘\s*要|abstract"
    r"|作者简介|about the authors?|supplementary (?:material|information)|author contributions?)"
    r"(?:\s*[A-Z0-9IVX一二三四五六七八九十]{1,3})?(?:\s*[.:：]\s*(?:\S.{0,60})?)?$",
    re.I,
)
# the foot notes of a first page: when the paper was received or revised, who funded it
_FOOT_NOTE = re.compile(
    r"(?:19|20)\d\d\s*年[^。]{0,16}收到|收到修改稿|收稿日期|修回日期|基金(?:项目|资助)?[^。]{0,80}资助"
    r"|^\W{0,3}(?:received|revised|accepted)\s*(?:[:：]|\d|on\s+\d|in\s+(?:revised\s+)?form)"
    r"|^\W{0,3}(?:this|the)\s+(?:work|research|study|project|paper)\b.{0,40}\b(?:supported|funded)\s+by\b",
    re.I,
)
_NOTE_MARK = re.compile(r"^[*∗†‡§¶]+\s*[^\s*∗]")  # "* Supported by ...", "† Corresponding ..."
_FINISHED = re.compile(r"[.。)）\]】\d]$")


def _label(line: str) -> str | None:
    """The number a line opens an entry with: "[12]", "12.", or a foot note's circled mark "⑫"."""
    t = line.strip()
    m = MARK_RE.match(t)
    return m.group(1) if m else entry_label(t)


def back_heading(line: str) -> bool:
    """Whether a line is a back-matter heading standing alone ("Appendix A", "附录 X.", "Acknowledgements")."""
    return bool(_BACK_HEADING.match(line.strip()))


def ends_list(line: str, previous: str, after_gap: bool, expected: str | None) -> bool:
    """Whether a line below a reference list's entries cannot continue the list: a back-matter heading, a
    received/funding foot note, a footnote mark after a finished line (``previous``), or, after a vertical gap
    (``after_gap``), a line that does not open an entry (in a numbered list, the ``expected`` next number)."""
    t = line.strip()
    if t.startswith(MARK_OPEN) or (_label(t) is not None and (expected is None or _label(t) == expected)):
        return False  # the next entry, or a note the page's foot marks by number
    if back_heading(t) or _FOOT_NOTE.search(t):
        return True
    if _NOTE_MARK.match(t) and bool(_FINISHED.search(previous.strip())):
        return True
    return after_gap and expected is not None


@dataclass
class ListBounds:
    """The state of a reference list while its lines are read: the last entry number, the line before,
    whether a vertical gap came since, and (after the list ended) how long it may still pick up again."""

    label: str | None = None  # the number of the last numbered entry (None: not a numbered list)
    previous: str = ""
    gap: bool = False
    paused: int = 0  # lines left during which the next numbered entry opens the list again
    gaps: bool = True  # a vertical gap is a blank line (PDF pages; a text file's blank lines are not gaps)

    def start(self) -> None:
        """A list heading was read: a new list begins."""
        self.label, self.previous, self.gap, self.paused = None, "", False, 0

    def expected(self) -> str | None:
        """The number the next entry of a numbered list carries, or None."""
        return str(int(self.label) + 1) if self.label and self.label.isdigit() else None

    def read(self, line: str) -> bool:
        """Take a non-blank line of the list; False when it ends the list (then ``resumes`` may reopen it)."""
        if ends_list(line, self.previous, self.gap, self.expected()):
            self.paused = RESUME_LINES if self.expected() else 0
            return False
        label = entry_label(line.strip())  # a note's circled mark does not make a numbered list
        if label is not None and (self.label is None or label == self.expected()):
            self.label = label
        self.previous, self.gap = line, False
        return True

    def blank(self) -> None:
        """A blank line (a vertical gap) was read inside the list."""
        if self.previous and self.gaps:
            self.gap = True

    def resumes(self, line: str) -> bool:
        """Whether a line read after the list ended opens its next numbered entry (the list goes on)."""
        if self.paused <= 0:
            return False
        self.paused -= 1
        if _label(line) == self.expected():
            self.label, self.previous, self.gap, self.paused = _label(line), line, False, 0
            return True
        return False
