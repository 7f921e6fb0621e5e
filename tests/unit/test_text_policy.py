"""The character policy (ledger.commands.text): by Unicode category, in one place."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.commands.text import DEFAULT_IGNORABLE, MAX_MARKS, BadCharacter, check_text

# What the probe of issue 17 slipped through, and the bidi controls refused before.
REFUSED = [
    "a\u061cb",  # Arabic letter mark (bidi)
    "soft\u00adhyphen",
    "tag\U000e0041",
    "x\u3164y",  # Hangul filler, a letter that renders as nothing
    "a\ufff9b\ufffbc",  # interlinear annotation
    "\ufe0fleading selector",
    "a\ufe0f\ufe0f",
    "x\U000e0100\U000e0100",
    "z" + "\u0301" * 150,
    "evil\u202egnp.exe",
    "zero\u200bwidth",
    "a\u200db",
    "private\ue000use",
    "unassigned\U000e01f0",
    "non\uffffcharacter",
    "line\u2028separator",
    "nul\x00",
    "esc\x1b[31m",
]
ALLOWED = [
    "Zoë Ångström",
    "Thanks ❤️ for the help",
    "👩\u200d💻 ships again",
    "👍🏽",
    "Tiếng Việt",
    "שָׁלוֹם",
    "क्षत्रिय",
    "葛\U000e0100城",
    "non\u00a0breaking",
    "z" + "\u0301" * MAX_MARKS,
]


@pytest.mark.parametrize("text", REFUSED, ids=lambda t: ascii(t)[:24])
def test_invisible_control_unassigned_and_stacked_characters_are_refused(text: str) -> None:
    with pytest.raises(BadCharacter):
        check_text(text, lines=True)


@pytest.mark.parametrize("text", ALLOWED, ids=lambda t: ascii(t)[:24])
def test_people_write_names_scripts_and_emoji_and_those_pass(text: str) -> None:
    check_text(text)


def test_tabs_and_newlines_only_where_a_text_has_lines() -> None:
    check_text("two\nlines\tand a tab", lines=True)
    with pytest.raises(BadCharacter):
        check_text("two\nlines")


REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}


def _ignorable(char: str) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in DEFAULT_IGNORABLE)


visible = st.characters(
    exclude_categories=("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Mn", "Mc", "Me")
).filter(lambda c: not _ignorable(c))


@given(st.text(visible, max_size=40))
def test_any_text_of_visible_characters_passes(text: str) -> None:
    check_text(text)


@given(
    st.text(visible, max_size=10),
    st.characters(categories=("Cc", "Cf", "Co", "Cn", "Zl", "Zp")).filter(
        lambda c: c not in "\u200d\t\n"
    ),
    st.text(visible, max_size=10),
)
def test_one_refused_character_anywhere_refuses_the_text(before: str, bad: str, after: str) -> None:
    assert unicodedata.category(bad) in REFUSED_CATEGORIES
    with pytest.raises(BadCharacter):
        check_text(before + bad + after, lines=True)


@given(st.integers(min_value=0, max_value=3 * MAX_MARKS))
def test_combining_marks_are_bounded_per_run(run: int) -> None:
    text = "e" + "\u0301" * run + " a" + "\u0300" * min(run, MAX_MARKS)
    if run > MAX_MARKS:
        with pytest.raises(BadCharacter):
            check_text(text)
    else:
        check_text(text)


@given(st.text(st.characters(max_codepoint=127), max_size=40), st.booleans())
def test_ascii_text_is_refused_exactly_for_its_control_characters(text: str, lines: bool) -> None:
    # The ASCII fast path must say what the per-character policy says: in ASCII only the
    # controls (Cc) are refused, tab and line feed allowed where a text has lines.
    allowed = "\t\n" if lines else ""
    refused = any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)
    if refused:
        with pytest.raises(BadCharacter):
            check_text(text, lines=lines)
    else:
        check_text(text, lines=lines)
