"""HTML tables (as unstructured returns them) to Markdown pipe tables."""

from __future__ import annotations

from lxml import html


def html_table_to_markdown(table_html: str) -> str:
    root = html.fromstring(table_html)
    rows = [
        [
            " ".join(cell.text_content().split()).replace("|", "\\|")
            for cell in tr.xpath("./th|./td")
        ]
        for tr in root.iter("tr")
    ]
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
