"""Ruled tables in PDF text layers, found with pdfplumber and kept whole as Markdown.

unstructured's fast PDF strategy returns a table as loose cells (each a Title or Text); the
table detection of its hi_res strategy needs layout models that are not always available.
pdfplumber finds ruled tables from the page's lines, cheaply and without models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.readers.tables import rows_to_markdown

BBox = tuple[float, float, float, float]  # x0, top, x1, bottom in PDF points, top-left origin


@dataclass(frozen=True, slots=True)
class PdfTable:
    page: int  # 1-based
    bbox: BBox
    markdown: str


def ruled_pages(pdf: Any, min_paths: int = 4) -> list[int]:
    """Pages (1-based) with enough vector paths to hold a ruled table: a cheap pre-filter."""
    import pypdfium2.raw as pdfium_c

    pages = []
    for index in range(len(pdf)):
        paths = pdf[index].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2)
        if sum(1 for _ in zip(range(min_paths), paths, strict=False)) >= min_paths:
            pages.append(index + 1)
    return pages


def find_tables(path: Path, pages: list[int]) -> list[PdfTable]:
    """Tables with at least two rows and two columns on the given pages."""
    if not pages:
        return []
    import pdfplumber

    found: list[PdfTable] = []
    with pdfplumber.open(path, pages=pages) as pdf:
        for page in pdf.pages:
            for table in page.find_tables():
                rows = table.extract()
                if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
                    markdown = rows_to_markdown(rows)
                    if markdown:
                        found.append(PdfTable(page.page_number, table.bbox, markdown))
    return found


def inside(table: PdfTable, page: int | None, points: Any) -> bool:
    """Whether an element (page, coordinate points) lies in the table: its centre does."""
    if page != table.page or not points:
        return False
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    x0, top, x1, bottom = table.bbox
    return x0 <= cx <= x1 and top <= cy <= bottom
