"""Escaping rules for text from partners and spreadsheets: one home for all of them.

Names, ids and city names are hostile input. Wherever they are shown they go through
one of these functions, chosen by where the text lands:

=====================  =====================================================  ==================
where                  what is neutralised                                    function
=====================  =====================================================  ==================
terminal (rich)        markup (``[bold]``, ``[/]``, ``[link=...]``) printed   `terminal`
                       as text; control characters (ESC sequences, CR,
                       BEL...) and bidi overrides shown as ``\\x1b``, ``\\u202e``
terminal, plain text   control characters and bidi overrides only (for rich   `visible`
                       ``Text`` objects and stderr messages)
Slack mrkdwn           ``&``, ``<``, ``>`` (so no ``<!channel>``, ``<@U1>``,   `mrkdwn`
                       ``<https://x|label>``), control and bidi characters,
                       and line breaks in names set inside a line
Slack plain text       control and bidi characters; ``<`` ``>`` turned into   `plain`
(headers, file         ``‹`` ``›`` so no Slack link syntax can form
titles, table cells)
JSON we print          DEL, C1 controls, bidi and zero-width characters as     `json_text`,
                       ``\\uXXXX`` escapes (the same data once parsed)        `json_dumps`
CSV cells we write     a text cell starting with ``=``, ``+``, ``-``, ``@``,  `csv_cell`,
                       tab or CR gets a leading ``'`` (OWASP), reversibly:    `csv_frame`;
                       `csv_uncell` gives the raw value back                  `csv_uncell`
plan files' CSV        also control and bidi characters as ``\\x1b``,         `csv_controls`,
cells (and Slack's)    reversibly (a backslash the reader would take for an   `csv_uncontrols`
                       escape is doubled): ``cat zones.csv`` cannot recolour
                       a terminal, and `read_plan` gives the raw value back
=====================  =====================================================  ==================

Numbers are data, not formulas: `csv_frame` only touches text columns, so
``-1.5`` in a numeric column is written as ``-1.5``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas only for the frame helpers: the terminal rules stay light
    import pandas as pd

__all__ = [
    "csv_cell",
    "csv_controls",
    "csv_frame",
    "csv_uncell",
    "csv_uncontrols",
    "csv_unframe",
    "json_dumps",
    "json_text",
    "mrkdwn",
    "plain",
    "terminal",
    "visible",
    "visible_frame",
    "whole_end",
]

# C0 controls except tab and newline, DEL and C1 controls, the bidi embeddings,
# overrides and isolates, the directional marks, and the line/paragraph separators;
# and the characters that show as nothing, with which "75114\u200b" passed for zone
# 75114: U+FEFF always; the zero-width space, joiner, non-joiner and word joiner next
# to ASCII or at an end (between two other characters they break Thai or Khmer words
# and build emoji 👨‍👩‍👧 and Persian or Indic words); a soft hyphen not between letters.
_INVISIBLE = "\ufeff"
_JOINER_ALONE = (
    "(?<![^\x00-\x7f])[\u200b-\u200d\u2060]|[\u200b-\u200d\u2060](?![^\x00-\x7f])"
    # a soft hyphen between two letters is a German word's hyphenation point
    "|(?<![^\\W\\d_])\u00ad|\u00ad(?![^\\W\\d_])"
)
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    f"{_INVISIBLE}]|{_JOINER_ALONE}"
)
# In one-line places (a table cell, a title) newlines and tabs are unsafe too.
_UNSAFE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    f"{_INVISIBLE}]|{_JOINER_ALONE}"
)
#: Beyond C0 controls, every character either pattern may rewrite: DEL and C1
#: controls, the soft hyphen, bidi marks, zero-width characters, the line and paragraph
#: separators, embeddings, overrides and isolates, U+FEFF.
_HIDDEN = "\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff"
# As one class: the look-arounds above made every call ~15x slower, so text holding
# none of these is returned after this scan alone.
_MAYBE = re.compile(f"[\x00-\x1f{_HIDDEN}]")


def _show(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, one_line: bool = False) -> str:
    """``text`` with control characters and bidi overrides written out (``\\x1b``).

    Nothing left can move the cursor, recolour the terminal, ring the bell, open a
    hyperlink or reverse the reading order. Newlines and tabs are kept unless
    ``one_line``.
    """
    text = str(text)
    if not _MAYBE.search(text):
        return text
    return _shown(_UNSAFE_LINE if one_line else _UNSAFE, text)


def _shown(pattern: re.Pattern[str], text: str) -> str:
    """``text`` with what ``pattern`` matches written out, until nothing is left: a
    zero-width space kept between two C1 controls ("\\x80\\u200b\\x80") stood next to
    ASCII once they were written out, and showed as nothing beside them."""
    shown = pattern.sub(_show, text)
    while shown != text:
        text, shown = shown, pattern.sub(_show, shown)
    return shown


#: What json leaves raw (it escapes only C0 controls) and a terminal would act on or
#: hide (`_HIDDEN`).
_JSON_UNSAFE = re.compile(f"[{_HIDDEN}]")


def json_text(text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with the
    characters of `_JSON_UNSAFE` as ``\\uXXXX`` escapes: safe to print in a terminal,
    and the same data once parsed (they can only stand inside strings). Text that is
    ASCII without DEL is returned as it is, after two C scans."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` through `json_text`."""
    import json

    return json_text(json.dumps(value, ensure_ascii=False, **options))


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it on screen: a combining mark, a
    joiner, a variation selector, an emoji skin tone or tag."""
    import unicodedata

    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
    )


def whole_end(text: str, end: int) -> int:
    """``end`` moved back, if need be, to where a cut of ``text`` leaves whole what a
    reader sees as one character: not before a combining accent or a skin tone of the
    character it ends on, nor after a joiner (an emoji family cut to "👨\u200d…"), nor
    between the two letters of a flag (🇫🇷 is two regional indicators)."""
    end = max(0, min(end, len(text)))
    while 0 < end < len(text) and (
        _extends(text[end]) or text[end - 1] == "\u200d" or _splits_flag(text, end)
    ):
        end -= 1
    return end


def _regional(ch: str) -> bool:
    """A regional indicator letter: two of them make a flag."""
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _splits_flag(text: str, end: int) -> bool:
    """Whether a cut at ``end`` falls between the two letters of a flag: the regional
    indicators ending before it are an odd number, and the pair of the last is next."""
    if not (_regional(text[end - 1]) and _regional(text[end])):
        return False
    start = end
    while start > 0 and _regional(text[start - 1]):
        start -= 1
    return (end - start) % 2 == 1


def terminal(text: object, *, one_line: bool = False) -> str:
    """``text`` safe inside rich markup: tags print as text, controls are written out."""
    from rich.markup import escape

    safe = visible(text, one_line=one_line)
    if safe.endswith("\\"):
        # A trailing backslash would escape the tag that follows in the caller's markup
        # (rich's own escape doubles it, which then shows twice); a zero-width space
        # keeps it apart and prints as nothing.
        safe += "\u200b"
    # rich reads any backslash before "[" as escaping it, tag or not, and its escape
    # leaves "\[" alone when no tag follows: "\[x" printed as "[x". A zero-width
    # space between them keeps the backslash (hypothesis found "\[").
    return escape(safe.replace("\\[", "\\\u200b["))


def mrkdwn(text: object, *, one_line: bool = False) -> str:
    """``text`` safe inside Slack mrkdwn (also the ``text`` fallback of a message).

    ``&``, ``<`` and ``>`` become entities, so no mention (``<!channel>``, ``<@U123>``,
    ``<!subteam^S1>``), link (``<https://x|label>``) or date token can be formed. A
    name or id set inside a line goes ``one_line``: a line break in it (``\\x0a``
    then) would let it start a line of its own in the message, a fake bullet or
    instruction under the official ones.
    """
    text = visible(text, one_line=one_line)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: object) -> str:
    """``text`` safe where Slack shows plain text (headers, file titles, table cells)."""
    return visible(text, one_line=True).replace("<", "‹").replace(">", "›")


def visible_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are `visible` on one line (numbers untouched):
    for views that show them as rich ``Text``, where markup is not parsed.

    Only the cells that may hold such a character are rewritten, found from the bytes of
    each Arrow-backed text column at once (`_suspect_rows`); a column without any is
    kept as it is. A plan of 1M couriers (247,000 moves) took 1.3 s here, a Python call
    per cell, before its terminal view showed 20 routes."""
    out = frame.copy(deep=False)
    for column in _text_columns(frame, None):
        values = frame[column]
        rows = _suspect_rows(values)
        if rows is None:  # not Arrow text: every cell
            out[column] = [
                v if not isinstance(v, str) else visible(v, one_line=True) for v in values
            ]
        else:
            out[column] = _rewritten(values, rows, lambda v: visible(v, one_line=True))
    return out


def _rewritten(values: pd.Series, rows: Any, rule: Callable[[str], str]) -> pd.Series:
    """A text column with ``rule`` applied to the cells at positions ``rows`` (text,
    never missing) and every other cell as it is, in the same dtype; the column itself
    when ``rows`` is empty (no copy)."""
    import pandas as pd

    if not len(rows):
        return values
    out = values.copy()
    changed = [rule(v) for v in values.iloc[rows]]
    out.iloc[rows] = pd.Series(changed, index=values.index[rows], dtype=values.dtype)
    return out


def _byte_table() -> Any:
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[:0x20] = table[0x7F] = True  # C0 controls (tab and newline too), DEL
    # the lead bytes of the UTF-8 of every other character `_UNSAFE_LINE` matches: C1
    # controls and the soft hyphen (U+0080-U+00AD: C2), U+061C (D8), the zero-width
    # characters, marks, separators, embeddings, overrides and isolates (U+200B-U+2069:
    # E2), U+FEFF (EF)
    table[[0xC2, 0xD8, 0xE2, 0xEF]] = True
    return table


#: Which bytes of UTF-8 text may belong to a character `visible` rewrites on one line.
_SUSPECT_BYTES = _byte_table()


def _suspect_rows(values: pd.Series) -> Any:
    """Positions of the values of a pandas Arrow text column holding a byte of
    `_SUSPECT_BYTES` (every value `visible` changes, and a few it keeps: accents such as
    "«" or "’"), or None for a column of another kind."""
    import numpy as np
    import pandas as pd

    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    from .csvfile import arrow_text
    from .texthash import value_bytes

    data, offsets = value_bytes(arrow_text(values.array))
    hit = np.flatnonzero(_SUSPECT_BYTES[data])
    return np.unique(np.searchsorted(offsets, hit, side="right") - 1)


# ------------------------------------------------------------------------- CSV

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(value: str) -> bool:
    # A value that already starts with ' followed by what we would escape gets one
    # more ', so that `csv_uncell` can tell our ' from the partner's.
    while value.startswith("'"):
        value = value[1:]
    return value.startswith(FORMULA_STARTS)


#: Where a spreadsheet may start a new cell inside ours: a list separator. Excel in
#: French, German and other locales splits a ".csv" it opens on ``;`` (so "A;=B" is two
#: cells there, the second a formula), and pause lists are ``;``-joined.
CELL_BREAK = ";"


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet will not run: ``'`` before a formula start (OWASP), at
    the cell's start and after each `CELL_BREAK`."""
    if CELL_BREAK not in value:
        return "'" + value if _needs_quote(value) else value
    return CELL_BREAK.join("'" + s if _needs_quote(s) else s for s in value.split(CELL_BREAK))


def csv_uncell(value: str) -> str:
    """The raw value of a cell written by `csv_cell` (the inverse, for our reader)."""
    if CELL_BREAK in value:
        return CELL_BREAK.join(_uncell(s) for s in value.split(CELL_BREAK))
    return _uncell(value)


def _uncell(value: str) -> str:
    if value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value


#: A backslash the reader would take for the start of an escape: doubled when written.
_BACKSLASH_AHEAD = re.compile(r"\\(?=[\\xu])")
#: What `csv_controls` writes and `csv_uncontrols` reads back.
_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def csv_controls(value: str) -> str:
    """``value`` with the characters `visible` writes out (control and bidi characters,
    lone zero-width ones; tab and newline kept) as ``\\x1b`` or ``\\u202e``, so that
    ``cat`` or ``less`` of the file shows them and does not act on them; reversibly:
    `csv_uncontrols` gives ``value`` back.

    For that, a backslash the reader would take for an escape is doubled: every one in a
    value that holds such a character, else only one before ``\\``, ``x`` or ``u``
    (``C:\\dir`` stays as it is; the text ``\\x41`` is written ``\\\\x41``)."""
    if _MAYBE.search(value) and _UNSAFE.search(value):
        return _shown(_UNSAFE, value.replace("\\", "\\\\"))
    return _BACKSLASH_AHEAD.sub(r"\\\\", value) if "\\" in value else value


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return "\\" if code == "\\" else chr(int(code[1:], 16))


def csv_uncontrols(value: str) -> str:
    """The raw value of a cell written by `csv_controls` (the inverse, for our reader)."""
    return _ESCAPED.sub(_unescape, value) if "\\" in value else value


def _text_columns(frame: pd.DataFrame, columns: Iterable[str] | None) -> list[str]:
    import pandas as pd

    if columns is not None:
        return [c for c in columns if c in frame.columns]
    return [
        c
        for c in frame.columns
        if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])
    ]


def csv_frame(
    frame: pd.DataFrame, columns: Iterable[str] | None = None, *, controls: bool = False
) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are safe to open in a spreadsheet, and with
    ``controls`` also to print (`csv_controls`: the plan files).

    Only text columns (``columns``, or every object/string column) change: numbers
    such as ``-1.5`` stay numbers.
    """
    import numpy as np
    import pandas as pd

    rule = _guarded if controls else csv_cell
    out = frame.copy()
    for column in _text_columns(frame, columns):
        values = out[column]
        if isinstance(values.dtype, pd.StringDtype):
            # every cell is text or missing: only those starting with a formula character
            # or ' can change, found by the string kernel; the rest are kept as they are
            maybe = values.str.startswith((*FORMULA_STARTS, "'")) | values.str.contains(
                CELL_BREAK, regex=False
            )
            if controls:
                maybe |= values.str.contains(CONTROL_CLASS, regex=True)
            rows = np.flatnonzero(maybe.to_numpy(dtype=bool, na_value=False))
            out[column] = _rewritten(values, rows, rule)
        else:
            text = values.astype(object).where(values.notna(), None)
            out[column] = [v if v is None else rule(str(v)) for v in text]
    return out


def csv_unframe(
    frame: pd.DataFrame, columns: Iterable[str], *, controls: bool = False
) -> pd.DataFrame:
    """``frame`` read back from a `csv_frame` file, with the raw values of ``columns``
    (``controls``: written with them, as the plan files are since format 2).

    In a text (string dtype) column only a cell starting with ``'`` (or holding one
    after a `CELL_BREAK`), or with ``controls`` holding a backslash, can have been
    rewritten: those are found by the string kernel and only they are read back (a
    10,000-zone plan folder's 635,000 cells took 1.4 s one by one)."""
    import numpy as np
    import pandas as pd

    rule = _unguarded if controls else csv_uncell
    out = frame.copy(deep=False)
    for column in columns:
        if column not in out.columns:
            continue
        values = frame[column]
        if not isinstance(values.dtype, pd.StringDtype):
            out[column] = [v if not isinstance(v, str) else rule(v) for v in values]
            continue
        if len(values) <= _FEW_CELLS:
            rows = np.array(
                [i for i, v in enumerate(values.tolist()) if _maybe_framed(v, controls)],
                dtype=np.intp,
            )
        else:
            quoted = values.str.startswith("'") | values.str.contains(CELL_BREAK + "'", regex=False)
            if controls:
                quoted |= values.str.contains("\\", regex=False)
            rows = np.flatnonzero(quoted.to_numpy(dtype=bool, na_value=False))
        out[column] = _rewritten(values, rows, rule)
    return out


#: Cells up to which `csv_unframe` looks at each in Python: the string kernels cost
#: ~0.3 ms a call whatever the length, three or four a column, and a plan folder's
#: tables are read on every view and every answer of the Slack app.
_FEW_CELLS = 2000


def _maybe_framed(value: object, controls: bool) -> bool:
    """Whether `csv_unframe` may have to read ``value`` back: the cells its string
    kernels find (text starting with ``'``, or holding one after a `CELL_BREAK`, or
    with ``controls`` a backslash)."""
    if not isinstance(value, str):
        return False
    return value.startswith("'") or CELL_BREAK + "'" in value or (controls and "\\" in value)


def _guarded(value: str) -> str:
    return csv_cell(csv_controls(value))


def _unguarded(value: str) -> str:
    return csv_uncontrols(csv_uncell(value))


#: The characters that may make `csv_controls` rewrite a value, as one regular
#: expression class (RE2 reads it too): C0 controls but tab and newline, the hidden
#: characters, and the backslash.
CONTROL_CLASS = f"[\x00-\x08\x0b-\x1f{_HIDDEN}\\\\]"
