"""Figure text of real PDF pages (eval/real_pdfs): a flow chart's boxes read as the figure's passage, out of the
prose of the column they stand in; plots and sub-figure captions in small type handled as the module says."""

from __future__ import annotations

from helpers import real_pdf_page

from rag.ingest.pdf import Segment, read_pdf
from rag.ingest.pdf.figures import find_figures


def test_a_flow_chart_leaves_the_paragraph_it_stood_in():
    """CUP psychogeriatrics, page 4: a flow chart over both columns; its last boxes stand at the top of the
    right column, whose paragraph began in the left one."""
    (page,) = read_pdf(real_pdf_page("en_cup_psychogeriatrics.pdf", 4))
    (figure,) = page.tables
    assert figure.label == "Figure 1"
    assert figure.caption == "Figure 1. Flow chart detailing the derivation of the study sample."
    boxes = [r[0] for r in figure.rows]
    assert len(boxes) == 9
    assert boxes[0] == "Test wave 1 1988−1990 Sample 1 (S1) Baseline assessment n = 600"
    assert boxes[-3:] == [
        "Final sample n = 2,462",
        "Participants who remained dementia free n = 2,039",
        "Participants who developed dementia n = 423",
    ]
    body = "\n".join(page.lines)
    assert "n = 423" not in body and "Flow chart" not in body
    # the page's stored lines hold each box whole, so a quote from one box is marked on that box alone
    held = [s for s in page.table_rows if s.text == "Participants who developed dementia n = 423"]
    assert [(round(s.x0), round(s.top), round(s.x1), round(s.bottom)) for s in held] == [(300, 354, 385, 388)]
    assert "(attack, cardiopathy, cardiovascular), stroke, high\nblood pressure, or diabetes" in body


def test_plots_and_small_prose_over_a_caption():
    """IEEE stereo, page 4: two plots' tick labels become their figures' rows; the table note in small type
    above Figure 4 ends the figure (a line of small prose is not a label) and stays in the body."""
    (page,) = read_pdf(real_pdf_page("en_ieee_stereo.pdf", 4))
    assert [t.label for t in page.tables if t.label.startswith("Figure")] == ["Figure 3", "Figure 4"]
    fig4 = next(t for t in page.tables if t.label == "Figure 4")
    assert fig4.rows[0] == ("1 0.8 0.6 0.4 0.2 0",)
    assert "respectively" not in " ".join(r[0] for r in fig4.rows)
    # a sub-figure caption in small type right over the caption: no figure (ACL 2022, page 1)
    (first,) = read_pdf(real_pdf_page("en_acl2022_tableformer.pdf", 1))
    assert not [t for t in first.tables if t.label.startswith("Figure")]


def test_labels_in_body_type_or_too_few_stay_in_the_body():
    """A caption over lines of body type, or with fewer than three small lines over it, takes nothing."""
    line = "a line of prose in the body of the page"
    body = [Segment(line, 50, 300, 100 + 12 * i, 109 + 12 * i, 9.0) for i in range(6)]
    cap = Segment("Figure 2. A caption.", 50, 300, 210, 218, 8.0)
    assert find_figures([*body, cap], 1) == ([], set(), [])
    big = [Segment("box", 60, 90, 180 + 8 * i, 186 + 8 * i, 9.0) for i in range(3)]
    assert find_figures([*body, *big, cap], 1) == ([], set(), [])
    two = [Segment("box a", 60, 90, 180, 186, 6.0), Segment("box b", 60, 90, 190, 196, 6.0)]
    assert find_figures([*body, *two, cap], 1) == ([], set(), [])
    three = [*two, Segment("box c", 120, 150, 190, 196, 6.0)]
    figs, taken, lines = find_figures([*body, *three, cap], 1)
    assert [(f.label, f.rows) for f in figs] == [("Figure 2", (("box a box b",), ("box c",)))]
    assert taken == {6, 7, 8, 9}
    # each box one line, around its lines, then the caption: the figure passage's lines in its order
    assert [(x.text, x.x0, x.x1, x.top, x.bottom) for x in lines] == [
        ("box a box b", 60, 90, 180, 196),
        ("box c", 120, 150, 190, 196),
        ("Figure 2. A caption.", 50, 300, 210, 218),
    ]
