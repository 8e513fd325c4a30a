"""File readers: each turns one file into a :class:`ingest.types.ParsedDocument`."""

# The version of the reading of each file type (others: 1). Raise a type's number whenever its
# reader's items change (new sections, text cleaned differently): the next ingest reads the
# files of that type again, though unchanged on disk, and replaces their items.
READER_VERSIONS: dict[str, int] = {
    "html": 2,  # API definitions as sections, navigation and "[source]" links left out
}


def reader_version(file_type: str) -> int:
    """The current version of the reader for ``file_type``."""
    return READER_VERSIONS.get(file_type, 1)
