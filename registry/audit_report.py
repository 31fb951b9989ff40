"""The audit log as a PDF report for people: a cover page that says what was asked and where the
chain stood, then the entries, a table per page. (Auditors who must prove the entries use the
signed JSON Lines export; this report is for reading.)"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from registry.pdf import BOLD, FONT, register_fonts


def render_history(
    rows, *, query: dict, total: int, limit: int, exported_by: str, exported_at: str, head: tuple[int, str]
) -> bytes:
    """An audit report: a cover page (query, counts, chain position), then the entries in tables
    of a page each, so that a long report stays fast to build."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    register_fonts()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        invariant=1,
        title="Audit report · 감사 보고서",
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
    )
    h1 = ParagraphStyle("h1", fontName=BOLD, fontSize=16, leading=20)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=8.5)
    shown = min(total, limit)
    story = [
        Paragraph("Audit report · 감사 보고서", h1),
        Spacer(1, 6 * mm),
        # Text from the request or the log is escaped: ReportLab reads markup (an <img> would embed a server file).
        Paragraph(
            f"Query · 조건: {escape(', '.join(f'{k}={v}' for k, v in query.items())) or 'all entries · 전체'}", body
        ),
        Paragraph(
            f"Entries · 건수: {total}"
            + (
                f" (the first {shown} are listed; narrow the query or export CSV for the rest)" if total > limit else ""
            ),
            body,
        ),
        Paragraph(f"Chain position · 체인 위치: entry {head[0]}, hash {head[1]}", body),
        Paragraph(f"Exported by · 내보낸 사람: {escape(exported_by)}, {exported_at}", body),
        Paragraph(
            "Each entry's hash covers its content and its predecessor's hash; the verifiable JSON Lines "
            "export of the same query can be checked offline with `registry audit verify --file`.",
            body,
        ),
        PageBreak(),
    ]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 7),
            ("FONT", (0, 0), (-1, 0), BOLD, 7),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
        ]
    )
    header = ["#", "Time (UTC)", "Actor", "Action", "Object", "Change", "Hash"]
    chunk: list = []

    def flush():
        story.append(
            Table(
                [header] + chunk,
                colWidths=[14 * mm, 32 * mm, 36 * mm, 38 * mm, 26 * mm, 104 * mm, 22 * mm],
                repeatRows=1,
                style=style,
            )
        )
        story.append(PageBreak())
        chunk.clear()

    for row in rows:
        change = ", ".join(f"{k}: {v}" for k, v in (row["after"] or {}).items())[:400]
        chunk.append(
            [
                row["seq"],
                row["occurred_at"][:19].replace("T", " "),
                f"{row['actor_name']} ({row['actor_role']})",
                row["action"],
                f"{row['object_type']} {row['object_id'] or ''}",
                Paragraph(escape(change), cell),
                row["entry_hash"][:16],
            ]
        )
        if len(chunk) == 40:
            flush()
    if chunk:
        flush()
    doc.build(story)
    return out.getvalue()
