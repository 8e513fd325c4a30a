"""Plain text laid out by indentation (a manual page as `man` prints it): real sections."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.context import ReadContext
from ingest.readers.dispatch import read_file
from ingest.readers.outline import outline

from .conftest import offline_settings

MAN_PAGE = """\
LS(1)                            User Commands                           LS(1)

NAME
       ls - list directory contents

SYNOPSIS
       ls [OPTION]... [FILE]...

DESCRIPTION
       List  information  about the FILEs (the current directory by default).
       Sort entries alpha-
       betically if none of -cftuvSUX nor --sort is specified.

       -a, --all
              do not ignore entries starting with .

       -c     with -lt: sort by, and show, ctime (time of last modification of
              file status information)

       --block-size=SIZE  with -l, scale sizes by SIZE when printing them;
              e.g., '--block-size=M'

   Sorting
       -S     sort by file size, largest first

AUTHOR
       Written by Richard M. Stallman and David MacKenzie.

GNU coreutils 9.1                September 2022                          LS(1)
"""


def test_a_manual_page_reads_as_its_sections() -> None:
    blocks = outline(MAN_PAGE)
    assert blocks is not None
    headings = [(b.text, b.depth) for b in blocks if b.depth is not None]
    # the one-line NAME section names the document; the others sit under it
    assert headings == [
        ("ls - list directory contents", 0),
        ("SYNOPSIS", 1),
        ("DESCRIPTION", 1),
        ("Sorting", 2),
        ("AUTHOR", 1),
    ]
    paragraphs = [b.text for b in blocks if b.depth is None]
    # wrapped lines are one sentence again, a hyphenated word whole
    assert (
        "List information about the FILEs (the current directory by default). Sort entries "
        "alphabetically if none of -cftuvSUX nor --sort is specified." in paragraphs
    )
    # an option alone on its line keeps its description on the next; an option with its
    # description beside it is one line of prose
    assert "-a, --all\ndo not ignore entries starting with ." in paragraphs
    assert (
        "-c with -lt: sort by, and show, ctime (time of last modification of file status "
        "information)" in paragraphs
    )
    # the running header and footer are page furniture
    assert not any("LS(1)" in p for p in paragraphs)
    assert paragraphs[-1] == "Written by Richard M. Stallman and David MacKenzie."


def test_text_not_laid_out_by_indentation_is_left_to_the_generic_reader() -> None:
    prose = (
        "Meeting notes\n\nWe agreed to move the launch to March.\n"
        "Budget\n\nThe budget stays at 40k.\n    (an indented aside)\n"
    )
    assert outline(prose) is None
    assert outline("") is None
    # one heading alone is not an outline
    assert outline("Notes\n    first point\n    second point\n") is None


def test_a_manual_page_file_is_chunked_under_its_sections(tmp_path: Path) -> None:
    page = tmp_path / "ls.txt"
    page.write_text(MAN_PAGE, encoding="utf-8")
    settings = offline_settings(tmp_path / "store").ingest
    small = settings.model_copy(update={"chunk_tokens": 48, "chunk_overlap": 8})
    ctx = ReadContext(small, tmp_path / "store")
    _, doc = read_file(page, ctx)
    assert doc.title == "ls - list directory contents"
    sorting = next(i for i in doc.items if "largest first" in i.text)
    assert sorting.section == "ls - list directory contents > DESCRIPTION > Sorting"
