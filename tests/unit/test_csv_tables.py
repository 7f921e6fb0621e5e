"""The CSV form of a read answer (ledger.web.tables): negotiation, flattening, and text a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.web.tables import to_csv, wants_csv


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        ("text/csv", True),
        ("text/csv, application/json;q=0.9", True),
        ("application/json, text/csv;q=0.5", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("text/csv;q=0", False),
        ("text/csv;q=nonsense", False),
    ],
)
def test_csv_is_answered_only_when_preferred(accept: str, csv_wanted: bool) -> None:
    assert wants_csv(accept) is csv_wanted


def test_nested_fields_become_dotted_columns_and_lists_are_joined() -> None:
    doc = {
        "entries": [
            {"member_id": "ana", "period": {"start": "2026-12-01"}, "values": ["a", "b"]},
            {"member_id": "bo", "extra": True},
        ],
        "as_of_position": 7,
    }
    rows = list(csv.reader(io.StringIO(to_csv("/v1/x", doc).decode())))
    assert rows == [
        ["member_id", "period.start", "values", "extra"],
        ["ana", "2026-12-01", "a|b", ""],
        ["bo", "", "", "true"],
    ]


def test_a_document_without_a_list_is_one_row() -> None:
    rows = list(
        csv.reader(io.StringIO(to_csv("/v1/awards/x", {"award_id": "a", "points": 5}).decode()))
    )
    assert rows == [["award_id", "points"], ["a", "5"]]


@given(st.text(min_size=1, max_size=30))
def test_no_text_cell_starts_like_a_formula(name: str) -> None:
    table = to_csv("/v1/members", {"items": [{"display_name": name, "points": -3}]}).decode()
    (row,) = list(csv.DictReader(io.StringIO(table)))
    assert not row["display_name"].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert row["display_name"].removeprefix("'") == name or row["display_name"] == name
    assert row["points"] == "-3"  # numbers are numbers, negative ones included
