"""Horizontal bar charts as inline SVG, drawn on the server: no script, no network, readable printed."""

from __future__ import annotations

from markupsafe import Markup, escape


def bars(items: list[tuple[str, int]], title: str, width: int = 520) -> Markup:
    """A chart with one bar per (label, value) and the value written beside each bar."""
    row, label_w, value_w = 22, 190, 50
    top = max((v for _, v in items), default=0) or 1
    height = row * max(len(items), 1) + 8
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = int((width - label_w - value_w) * value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1)}" height="{row - 8}" fill="#0b5394"/>'
            f'<text x="{label_w + w + 6}" y="{y + 14}" font-size="12">{value}</text>'
        )
    if not items:
        parts.append('<text x="8" y="18" font-size="12">-</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
