"""Spaces the OCR recogniser drops between English words are put back from English word frequencies,
only where every piece is a common word; Chinese, names, known words and addresses stay as read."""

from __future__ import annotations

import pytest

from rag.ingest.ocr import restore_spaces


@pytest.mark.parametrize(
    ("read", "restored"),
    [
        ("Therepairofsubmarinecablesdependsona", "The repair of submarine cables depends on a"),
        ("smallfleetofspecialisedships.", "small fleet of specialised ships."),
        ("andGlobal InternetGovernance,International", "and Global Internet Governance,International"),
        ("Introduction to theIETF,", "Introduction to the IETF,"),
        ("海底光缆承载着数据流量", "海底光缆承载着数据流量"),  # Chinese untouched
        ("RFC6531文档的第一作者", "RFC6531文档的第一作者"),
        ("JulienNocetti", "Julien Nocetti"),  # a name cut at its capitals, not into fragments (no cet ti)
        ("McDonald iPhone JavaScript", "McDonald iPhone JavaScript"),  # known words and short prefixes kept
        ("<https://www.example.org/annualreport.pdf>", "<https://www.example.org/annualreport.pdf>"),
        ("", ""),
    ],
)
def test_restore_spaces(read, restored):
    assert restore_spaces(read) == restored
