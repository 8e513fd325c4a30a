"""The Streamlit web UI (``mmrag ui``): Search, Images, Chat, Library, Map and Settings pages.

``main.py`` is the entry script; ``views/`` holds one script per page; the other modules are
small helpers (shared resources, strings, components, file safety, background ingestion).
"""

from pathlib import Path

MAIN = Path(__file__).parent / "main.py"
