"""The drawing pieces of a CITES form: boxes that wrap their text inside their edges, the customs
endorsement grid, and the annex that continues whatever does not fit on the first page.

Nothing is ever cut: a box whose text does not fit shows what fits, ends with a note naming the
annex page where its text goes on, and the rest is printed there. Layout is decided before
anything is drawn (the note needs the annex page, which depends on everything that overflows),
so a page is a list of items placed in millimetres and drawn at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

FONT, BOLD = "NanumGothic", "NanumGothicBold"
#: The two label lines of a box (English, Korean) and the first line of its text, in mm from its top.
LABEL_EN, LABEL_KO, FIRST_LINE = 2.8, 5.4, 9.2
LABEL_SIZE = 6.5
#: Padding: left of the text, and under the last line.
PAD, BOTTOM_PAD = 1.5, 1.0
#: Rows of the endorsement grid (mm), and its column headings with their share of the width.
GRID_HEAD, GRID_ROW = 9.6, 4.4
GRID_COLUMNS = (
    ("Block", 0.10),
    ("Quantity exported/imported", 0.25),
    ("Port", 0.22),
    ("Date", 0.16),
    ("Signature, stamp, title", 0.27),
)
#: The annex's writing area (mm from the bottom of the page), and the space between its items.
ANNEX_TOP, ANNEX_BOTTOM, GAP = 262.0, 14.0, 2.0
ANNEX_X, ANNEX_W = 10.0, 190.0


def leading(size: float) -> float:
    """Line spacing in mm for a font *size* in points."""
    return size * 0.45


def capacity(height: float, size: float) -> int:
    """How many lines of text a box *height* mm tall holds under its labels."""
    room = height - FIRST_LINE - BOTTOM_PAD
    return int(room // leading(size)) + 1 if room >= 0 else 0


def height_for(lines: int, size: float) -> float:
    """The height of a box holding *lines* lines (at least one)."""
    return FIRST_LINE + BOTTOM_PAD + (max(lines, 1) - 1) * leading(size) + 0.5


def wrap(text: str, width_mm: float, size: float, font: str = FONT) -> list[str]:
    """*text* in lines no wider than *width_mm*: at spaces, and inside a word wider than the line
    (a long number or address must not run past the box)."""
    limit = width_mm * mm

    def fits(s: str) -> bool:
        return pdfmetrics.stringWidth(s, font, size) <= limit

    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            trial = f"{current} {word}" if current else word
            if fits(trial):
                current = trial
                continue
            if current:
                lines.append(current)
            current = ""
            while not fits(word):  # a word wider than the line: as many characters as fit
                cut = 1
                while cut < len(word) and fits(word[: cut + 1]):
                    cut += 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


@dataclass(eq=False)
class Box:
    """One numbered box of the form, its labels in English and Korean, and its text."""

    x: float
    y: float
    w: float
    h: float
    number: str
    label_en: str
    label_ko: str
    text: Sequence[str] = ()
    size: float = 9
    #: Wrapped lines it shows, and those that go on in the annex (set by ``fit``).
    shown: list[str] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)
    #: The annex page (1-based) where the rest is printed.
    continued_on: int | None = None
    #: The box's name on its continuation, when the number alone is not enough (a block's box 9).
    ref: str = ""

    def fit(self) -> Box:
        lines = [chunk for paragraph in self.text for chunk in wrap(str(paragraph), self.w - 2 * PAD, self.size)]
        room = capacity(self.h, self.size)
        if len(lines) <= room:
            self.shown, self.rest = lines, []
        else:
            # The last lines that fit say where the text goes on (99: room for a two-digit page).
            keep = max(room - len(self.note_lines(99)), 0)
            self.shown, self.rest = lines[:keep], lines[keep:]
        return self

    def note_lines(self, page: int) -> list[str]:
        return wrap(f"continued: annex page {page} · 부속서 {page}쪽", self.w - 2 * PAD, LABEL_SIZE, BOLD)


@dataclass(eq=False)
class Grid:
    """Box 14: a row per block for customs to fill in (quantity, port, date, signature), empty at issue."""

    x: float
    y: float
    w: float
    h: float
    letters: list[str]
    number: str = "14"
    label_en: str = "Export endorsement (to be completed by customs)"
    label_ko: str = "수출 확인 (세관 기재)"

    @staticmethod
    def height(rows: int) -> float:
        return GRID_HEAD + rows * GRID_ROW + 0.6


@dataclass(eq=False)
class Block:
    """A specimen line as the form's block: boxes 7/8, 9, 10, 11 over 12, 12a, 12b."""

    boxes: list[Box]


def _labels(c: Canvas, x: float, top: float, w: float, english: str, korean: str) -> None:
    """A box's two label lines, made smaller where a narrow box would have them run past its edge."""
    for text, font, down in ((english, BOLD, LABEL_EN), (korean, FONT, LABEL_KO)):
        width = pdfmetrics.stringWidth(text, font, LABEL_SIZE)
        room = (w - 2.2) * mm
        c.setFont(font, LABEL_SIZE * min(1.0, room / width) if width else LABEL_SIZE)
        c.drawString((x + 1.2) * mm, (top - down) * mm, text)


def draw_box(c: Canvas, box: Box) -> None:
    c.setLineWidth(0.6)
    c.rect(box.x * mm, box.y * mm, box.w * mm, box.h * mm)
    top = box.y + box.h
    _labels(c, box.x, top, box.w, f"{box.number}. {box.label_en}" if box.number else box.label_en, box.label_ko)
    step = leading(box.size)
    baseline = top - FIRST_LINE
    c.setFont(FONT, box.size)
    for chunk in box.shown:
        c.drawString((box.x + PAD) * mm, baseline * mm, chunk)
        baseline -= step
    if box.rest and box.continued_on:
        c.setFont(BOLD, LABEL_SIZE)
        for chunk in box.note_lines(box.continued_on):
            c.drawString((box.x + PAD) * mm, baseline * mm, chunk)
            baseline -= step


def draw_grid(c: Canvas, grid: Grid) -> None:
    c.setLineWidth(0.6)
    c.rect(grid.x * mm, grid.y * mm, grid.w * mm, grid.h * mm)
    top = grid.y + grid.h
    _labels(c, grid.x, top, grid.w, f"{grid.number}. {grid.label_en}", grid.label_ko)
    c.setLineWidth(0.3)
    head = top - GRID_HEAD
    x = grid.x
    c.setFont(FONT, 5.5)
    for title, share in GRID_COLUMNS:
        c.drawString((x + 1) * mm, (head + 1.1) * mm, title)
        if x > grid.x:
            c.line(x * mm, grid.y * mm, x * mm, (head + 3.4) * mm)
        x += grid.w * share
    c.line(grid.x * mm, head * mm, (grid.x + grid.w) * mm, head * mm)
    c.setFont(BOLD, 8)
    rows = int((grid.h - GRID_HEAD) // GRID_ROW)
    for i in range(rows):
        row = head - (i + 1) * GRID_ROW
        # A row without a block is struck through: nothing can be endorsed on it.
        letter = grid.letters[i] if i < len(grid.letters) else "-"
        c.drawString((grid.x + 1.5) * mm, (row + 1.2) * mm, letter)
        if letter == "-":
            c.line(
                (grid.x + grid.w * GRID_COLUMNS[0][1]) * mm, (row + 2.2) * mm, (grid.x + grid.w) * mm, (row + 2.2) * mm
            )
        if i < rows - 1:
            c.line(grid.x * mm, row * mm, (grid.x + grid.w) * mm, row * mm)


def draw_unused(c: Canvas, x: float, y: float, w: float, h: float) -> None:
    """A block the permit does not use, crossed out so that no specimen can be added to it."""
    c.setLineWidth(0.6)
    c.rect(x * mm, y * mm, w * mm, h * mm)
    c.setLineWidth(0.3)
    c.line(x * mm, y * mm, (x + w) * mm, (y + h) * mm)
    c.setFont(FONT, 7)
    c.drawCentredString((x + w / 2) * mm, (y + h / 2 + 3) * mm, "Not used · 사용하지 않음")


def draw(c: Canvas, item: Box | Grid | Block) -> None:
    if isinstance(item, Grid):
        draw_grid(c, item)
    elif isinstance(item, Block):
        for box in item.boxes:
            draw_box(c, box)
    else:
        draw_box(c, item)


class Annex:
    """The annex pages, filled top to bottom: continued boxes, further blocks, further grid rows."""

    def __init__(self) -> None:
        self.pages: list[list[Box | Grid | Block]] = []
        self.y = ANNEX_BOTTOM

    def _room(self) -> float:
        return self.y - ANNEX_BOTTOM

    def _place(self, height: float) -> float:
        if not self.pages or height > self._room():
            self.pages.append([])
            self.y = ANNEX_TOP
        self.y -= height
        bottom = self.y
        self.y -= GAP
        return bottom

    def continue_box(self, source: Box) -> None:
        """The rest of *source*'s text, in as many full-width boxes as it takes."""
        remaining = source.rest
        while remaining:
            room = capacity(self._room(), source.size) if self.pages else 0
            if room < 1:
                self.pages.append([])
                self.y = ANNEX_TOP
                continue
            take = remaining[:room]
            y = self._place(height_for(len(take), source.size))
            if source.continued_on is None:
                source.continued_on = len(self.pages)
            number = source.ref or source.number
            box = Box(
                ANNEX_X,
                y,
                ANNEX_W,
                height_for(len(take), source.size),
                number,
                f"{source.label_en} (continued)",
                f"{source.label_ko} (계속)",
                size=source.size,
                shown=list(take),
            )
            self.pages[-1].append(box)
            remaining = remaining[room:]

    def block(self, height: float) -> float:
        """The lower edge (mm) of a block *height* mm tall, placed on this page or a new one."""
        return self._place(height)

    def add(self, item: Box | Grid | Block) -> None:
        self.pages[-1].append(item)

    def grid(self, letters: list[str]) -> None:
        """Box 14's rows for *letters*, continued over pages as needed."""
        while letters:
            rows = int((self._room() - GRID_HEAD - 0.6) // GRID_ROW) if self.pages else 0
            if rows < 1:
                self.pages.append([])
                self.y = ANNEX_TOP
                continue
            take = letters[:rows]
            y = self._place(Grid.height(len(take)))
            self.pages[-1].append(
                Grid(
                    ANNEX_X,
                    y,
                    ANNEX_W,
                    Grid.height(len(take)),
                    take,
                    label_en=f"{Grid.label_en} (continued)",
                    label_ko=f"{Grid.label_ko} (계속)",
                )
            )
            letters = letters[rows:]
