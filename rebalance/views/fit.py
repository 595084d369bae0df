"""Tables that fit the terminal without cutting what matters.

Rich shrinks every column evenly when a table is too wide, so numbers lose digits
("…"), headers read "Befo…" and ids get cut. `fit_table` decides instead, column by
column, in this order until the table fits the width:

1. drop the *extra* columns (shown only when there is room), least valuable first;
   then cut the values of the *cut* columns (names) past their cut width with "…", so
   that one long name does not push a key column out;
2. take the optional columns, least valuable first: a text one first wraps down to its
   comfortable width (words wrap, nothing is lost), then it is dropped;
3. wrap the columns always shown down to their comfortable width, then their minimum;
4. narrower still: one wrapped line per row ("Zone 0001, Need 3, ...").

Numbers and keys (ids, run ids) are never cut or wrapped, and headers are never cut:
each column is at least as wide as its header.

Summary lines fit too: `Hanging` wraps a ``label: value`` line at words, its
continuation lines under the value.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Col", "Fitted", "Hanging", "fit_table"]


@dataclass(frozen=True)
class Col:
    """One column of a fitted table.

    ``kind``: ``key`` (an id: whole, on one line), ``num`` (right-aligned, whole) or
    ``text`` (wraps at words when space is short). ``drop``: 0 = always shown; higher
    is less valuable, so wrapped and dropped first. ``extra``: shown only when the
    whole table fits unwrapped.
    ``min_width`` / ``hard_min``: the comfortable and the smallest width of a text column.
    ``cut``: a text column whose values are cut with "…" on one line instead of wrapped
    (a name; the plan's files keep it whole), narrowed down to ``cut`` cells before any
    optional column is dropped (0: the column wraps).
    """

    header: str
    kind: Literal["key", "num", "text"] = "num"
    drop: int = 0
    extra: bool = False
    min_width: int = 12
    hard_min: int = 6
    style: str = ""
    cut: int = 0


@dataclass(frozen=True)
class Fitted:
    """A table fitted to whatever width it is printed at (a rich renderable)."""

    columns: Sequence[Col]
    rows: Sequence[Sequence[Any]]
    options: dict[str, Any]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield fit_table(self.columns, self.rows, options.max_width, **self.options)


@dataclass(frozen=True)
class Hanging:
    """A summary line that wraps at words to the width it is printed at, its
    continuation lines indented (a rich renderable)::

          demand: 12,000 rows (rates per restaurant and slot, in place of
                  expected_orders_per_hour where given)

    Continuation lines start under the value, after the line's first ``": "``; when
    there is no label, or it takes more than a third of the width, ``indent`` columns
    in from the line's own leading blanks. Words are never broken: an id or a path
    longer than the room left goes whole onto a line of its own (folded only when it is
    wider than the terminal, as the terminal itself would). Printed with ``soft_wrap``
    (a log, a pipe) the line is left whole, as it was.

    ``text``: plain text (not markup: a partner's "[bold]" is shown; its control
    characters are written out, `rebalance.escape.visible`), or a rich ``Text``.
    """

    text: Any
    indent: int = 2

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        from rebalance.escape import visible

        text = self.text.copy() if isinstance(self.text, Text) else Text(visible(self.text))
        if options.no_wrap:
            yield text
            return
        # measured as shown: a tab is 0 cells to `cell_len` and 8 columns to rich
        text.expand_tabs()
        width = max(options.max_width, 1)
        hang = _hang(text.plain, width, self.indent)
        for i, paragraph in enumerate(text.split("\n", allow_blank=True)):
            for j, (start, end) in enumerate(_lines(paragraph.plain, width, hang, i == 0)):
                line = paragraph[start:end]
                if i or j:
                    line = Text(" " * hang).append_text(line)
                line.overflow = "fold"
                yield line


def _hang(plain: str, width: int, indent: int) -> int:
    """Where `Hanging`'s continuation lines start: under the value of ``label: value``,
    else ``indent`` in; less where the longest word would not fit beside it whole. A
    word wider than the whole line folds wherever it starts: it moves no line."""
    from rich.cells import cell_len

    first = plain.split("\n", 1)[0]
    lead = len(first) - len(first.lstrip(" "))
    label = first.find(": ", lead)
    fitting = (cell_len(word) for word in plain.split())
    longest = max((n for n in fitting if n <= width), default=0)
    under = cell_len(first[: label + 2]) if label > lead else width
    for hang in (under, lead + indent):
        if hang <= width // 3 and hang + longest <= width:
            return hang
    return max(0, min(lead + indent, width - longest))


def _lines(plain: str, width: int, hang: int, first: bool) -> list[tuple[int, int]]:
    """(start, end) of each line of ``plain`` filled word by word: the first ``width``
    cells wide (its leading blanks kept) unless ``first`` is False, the others
    ``width - hang``."""
    import re

    from rich.cells import cell_len

    spans: list[tuple[int, int]] = []
    start, end = 0, 0
    room = width if first else width - hang
    for word in re.finditer(r"\S+", plain):
        if end > start and cell_len(plain[start : word.end()]) > room:
            spans.append((start, end))
            start, room = word.start(), width - hang
        if not spans and end == 0 and not first:
            start = word.start()
        end = word.end()
    if end > start or not spans:
        spans.append((start, end))
    return spans


def _cell_len(cell: Any) -> int:
    from rich.cells import cell_len
    from rich.text import Text

    if isinstance(cell, Text):
        return max((cell_len(line) for line in cell.plain.splitlines()), default=0)
    return max((cell_len(line) for line in str(cell).splitlines()), default=0)


def fit_table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    width: int,
    **table_options: Any,
) -> Any:
    """A rich Table of ``rows`` (strings or Text, one per column) fitted to ``width``."""
    natural = [
        max([_cell_len(c.header), *(_cell_len(row[i]) for row in rows)])
        for i, c in enumerate(columns)
    ]
    active = list(range(len(columns)))
    widths = dict(enumerate(natural))

    def floor(i: int, hard: bool, cut: bool = False) -> int:
        c = columns[i]
        if c.kind != "text":
            return natural[i]
        least = c.hard_min if hard else c.cut if cut else c.min_width
        return min(natural[i], max(_cell_len(c.header), least))

    def excess() -> int:
        return _measure(columns, active, {i: widths[i] for i in active}, table_options) - width

    def shrink(targets: list[int], hard: bool, cut: bool = False) -> bool:
        """Narrow these text columns (widest first) toward their floor; True once it fits."""
        over = excess()
        while over > 0:
            room = [i for i in targets if i in active and widths[i] > floor(i, hard, cut)]
            if not room:
                return False
            widest = max(room, key=lambda i: (widths[i] - floor(i, hard, cut), -i))
            widths[widest] -= 1
            over -= 1
        return True

    def done() -> Any:
        return _build(columns, rows, active, {i: widths[i] for i in active}, table_options)

    if excess() <= 0:
        return done()
    # 1. extras go first, least valuable first.
    for i in sorted((i for i in active if columns[i].extra), key=lambda i: (-columns[i].drop, -i)):
        active.remove(i)
        if excess() <= 0:
            return done()
    # 1b. names too long for the width are cut, before an optional column goes.
    cuts = [i for i in active if columns[i].cut]
    if cuts and shrink(cuts, hard=False, cut=True):
        return done()
    # 2. optional columns, least valuable first: a text one wraps first, then goes.
    for i in sorted((i for i in active if columns[i].drop), key=lambda i: (-columns[i].drop, -i)):
        if columns[i].kind == "text" and shrink([i], hard=False):
            return done()
        active.remove(i)
        widths[i] = natural[i]
        if excess() <= 0:
            return done()
    # 3. the columns always shown wrap: comfortably, then as far as they can.
    text = [i for i in active if columns[i].kind == "text"]
    if shrink(text, hard=False) or shrink(text, hard=True):
        return done()
    return _stacked(columns, rows, width, table_options.get("caption"))


def _stacked(
    columns: Sequence[Col], rows: Sequence[Sequence[Any]], width: int, caption: Any = None
) -> Any:
    """Too narrow for any table: one wrapped line per row, "Header value" pairs; then
    the table's caption (a "+N more" notice), which would otherwise be lost."""
    from rich.console import Group
    from rich.text import Text

    lines = []
    for row in rows:
        line = Text(overflow="fold")
        first = True
        for c, cell in zip(columns, row, strict=True):
            value = cell if isinstance(cell, Text) else Text(str(cell))
            if not value.plain:
                continue
            if not first:
                line.append(", ")
            if first:
                line.append_text(value)
                line.stylize("bold")
            else:
                line.append(f"{c.header} ", style="dim")
                line.append_text(value)
            first = False
        lines.append(line)
    if caption:
        lines.append(caption if isinstance(caption, Text) else Text(str(caption), style="dim"))
    return Group(*lines)


def _build(
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    active: list[int],
    widths: dict[int, int],
    options: dict[str, Any],
) -> Any:
    from rich.table import Table

    table = Table(**options)
    for i in active:
        c = columns[i]
        table.add_column(
            c.header,
            justify="right" if c.kind == "num" else "left",
            no_wrap=c.kind != "text" or bool(c.cut),
            overflow="ellipsis" if c.cut else "fold",
            width=widths[i],
            style=c.style or None,
        )
    for row in rows:
        # Plain strings become Text: a partner's "[bold]" in a name is shown, not obeyed.
        table.add_row(
            *(_cut(_text(row[i]), widths[i]) if columns[i].cut else _text(row[i]) for i in active)
        )
    return table


def _text(cell: Any) -> Any:
    from rich.text import Text

    return Text(cell) if isinstance(cell, str) else cell


def _cut(cell: Any, width: int) -> Any:
    """A cut column's cell cut to ``width`` cells with "…" here, between whole characters
    (`rebalance.escape.whole_end`): rich's own cut can end inside a flag, leaving half
    of it, or after an emoji joiner."""
    from rich.cells import cell_len
    from rich.text import Text

    from rebalance.escape import whole_end

    if not isinstance(cell, Text) or "\n" in cell.plain or cell_len(cell.plain) <= width:
        return cell
    # the longest start that fits width - 1 cells beside the "…", measured whole as rich
    # measures it (an emoji with its variation selector is 2 cells, its parts 1 and 0)
    plain, lo, hi = cell.plain, 0, len(cell.plain)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cell_len(plain[:mid]) <= width - 1:
            lo = mid
        else:
            hi = mid - 1
    out = cell[: whole_end(plain, lo)]
    out.rstrip()
    out.append("…")
    return out


def _measure(
    columns: Sequence[Col], active: list[int], widths: dict[int, int], options: dict[str, Any]
) -> int:
    """The width the table takes with these column widths (padding and edges included)."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = _build(columns, [], active, widths, options)
    console = Console(width=10_000, color_system=None, file=io.StringIO())
    return Measurement.get(console, console.options, probe).maximum
