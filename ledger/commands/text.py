"""The one character policy for names, titles, labels, notes, messages and reasons.

Decided by what a character is (its Unicode category), not by a list of bad ones: a
text that reaches the store, a dashboard or a log must read like its bytes.

- Refused everywhere: control characters (Cc; in texts of several lines, tab and line
  feed are allowed), format characters (Cf: bidirectional controls and marks, soft
  hyphen, zero-width characters, tags, interlinear annotation), private use (Co),
  unassigned code points and noncharacters (Cn), surrogates (Cs), line and paragraph
  separators (Zl, Zp), and the other code points Unicode calls default-ignorable
  (invisible when rendered: the Hangul fillers, Mongolian selectors, ...).
- Two invisible characters are kept where Unicode gives them a visible job, so emoji
  read as people write them: a variation selector right after the character it
  selects (one, not a run), and a zero-width joiner between two emoji.
- Combining marks: at most MAX_MARKS in a row. Living scripts stack two to four
  (Vietnamese, Hebrew points, Devanagari signs); "Zalgo" text stacks hundreds.
"""

from __future__ import annotations

import unicodedata

MAX_MARKS = 6
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
MARKS = frozenset({"Mn", "Mc", "Me"})
# Unicode 15.1 DerivedCoreProperties.txt, Default_Ignorable_Code_Point (most are Cf/Cn).
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
ZWJ = "\u200d"
# Variation selectors (standardized and ideographic): valid right after what they select.
SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
# Emoji are symbols (So); skin-tone modifiers are Sk.
EMOJI_CATEGORIES = frozenset({"So", "Sk"})


class BadCharacter(ValueError):
    """The first character the policy refuses, named by its code point (never echoed)."""


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def _is_selector(char: str) -> bool:
    return _within(ord(char), SELECTORS)


def _emoji_side(char: str | None) -> bool:
    if char is None:
        return False
    return unicodedata.category(char) in EMOJI_CATEGORIES or _is_selector(char)


def _printable_lines(text: str) -> bool:
    return text.replace("\t", "").replace("\n", "").isprintable()


def check_text(text: str, lines: bool = False) -> None:
    """Raise BadCharacter for the first character the policy refuses in `text`."""
    if text.isascii() and (text.isprintable() or (lines and _printable_lines(text))):
        return  # the usual text: in ASCII only controls are refused, and none is here
    marks = 0
    previous: str | None = None
    for index, char in enumerate(text):
        code = ord(char)
        category = unicodedata.category(char)
        if _is_selector(char):  # themselves marks (Mn): judged by what they follow
            if (
                previous is None
                or _is_selector(previous)
                or unicodedata.category(previous) in (MARKS | REFUSED_CATEGORIES | {"Zs"})
            ):
                raise BadCharacter(f"a variation selector with nothing to select (U+{code:04X})")
            marks = 0
            previous = char
            continue
        if category in MARKS:
            marks += 1
            if marks > MAX_MARKS:
                raise BadCharacter(f"more than {MAX_MARKS} combining marks in a row")
            previous = char
            continue
        marks = 0
        if lines and char in "\t\n":
            previous = char
            continue
        if char == ZWJ:
            following = text[index + 1] if index + 1 < len(text) else None
            if not (_emoji_side(previous) and _emoji_side(following)):
                raise BadCharacter("a zero-width joiner outside an emoji sequence (U+200D)")
        elif category in REFUSED_CATEGORIES or _within(code, DEFAULT_IGNORABLE):
            raise BadCharacter(f"an invisible, control or unassigned character (U+{code:04X})")
        previous = char
