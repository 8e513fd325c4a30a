"""File readers: each turns one file into a :class:`ingest.types.ParsedDocument`."""
