"""Grounded answers from your own files, with [n] citations a reader can check.

Python API (what the CLI and the UI use)::

    from app.api import MMRag

    rag = MMRag.open(".mmrag", config="configs/offline.toml")
    answer = rag.ask("What was the revenue in 2025?")            # -> Answer
    print(answer.text)                   # "... 48.2 million euros [1]."
    for c in answer.citations:           # the sources the answer cites, checked
        print(c.n, c.source.result.source, c.source.result.page, c.support, c.supported)
    answer.to_json()                     # the `mmrag ask --json` document

    # streaming: text pieces (str) as they are produced, then the final Answer
    for item in rag.ask_stream("And how many employees?", history=[answer]):
        if isinstance(item, str):
            print(item, end="", flush=True)
        else:
            final = item

- ``history``: earlier turns, as Answer objects, ``{"role", "content"}`` dicts or
  ``(role, text)`` pairs; a follow-up question is rewritten into a standalone query.
- ``llm``: a name from ``[rag.llms.NAME]`` in the config, or ``extractive`` (default, no model),
  ``openai:MODEL`` (``$OPENAI_BASE_URL`` / ``$OPENAI_API_KEY``), ``ollama:MODEL``,
  ``llamacpp:PATH.gguf`` or ``llamacpp:builtin:gemma3-270m``.
- The streamed pieces already have invalid citation markers removed; ``Answer.text`` is the
  authoritative final text (whitespace tidied). ``Answer.status`` is ``answered`` or
  ``not_found`` (then ``sources`` are the closest ones and ``grounded`` is false).
- ``Answer.grounded``: answered with at least one citation whose sentence its source supports.
  ``Answer.citation_precision``: supported (sentence, citation) pairs / all pairs.
  ``Answer.invalid_citations``: numbers the model cited that name no source (removed).
  ``Answer.unsupported_sentences``: claims without a citation or with weak support.
- Failures of a model call raise :class:`app.rag.errors.LLMError` subclasses (unreachable,
  timeout, bad key, model missing, context overflow) with messages free of secrets.
"""

from app.rag.config import LLMSettings, RagSettings
from app.rag.errors import LLMError
from app.rag.types import Answer, Citation, Source

__all__ = ["Answer", "Citation", "LLMError", "LLMSettings", "RagSettings", "Source"]
