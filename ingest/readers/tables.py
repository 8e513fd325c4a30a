"""Tables to Markdown pipe tables: from HTML (as unstructured returns them) or from cell rows."""

from __future__ import annotations

from lxml import html


def html_table_to_markdown(table_html: str) -> str:
    root = html.fromstring(table_html)
    return rows_to_markdown(
        [[cell.text_content() for cell in tr.xpath("./th|./td")] for tr in root.iter("tr")]
    )


def rows_to_markdown(cells: list[list[str | None]]) -> str:
    """Rows of cell texts (first row: header) as a Markdown table; '' when there are none."""
    rows = [[" ".join((c or "").split()).replace("|", "\\|") for c in row] for row in cells]
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
