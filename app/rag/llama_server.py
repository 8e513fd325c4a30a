"""llama-cpp-python's OpenAI-compatible server, with the CPU guard of :mod:`app.rag.llamacpp`.

    python -m app.rag.llama_server --model MODEL.gguf [--port 8000] [any llama_cpp.server flag]

Same flags as ``python -m llama_cpp.server``; on CPUs with AMX it turns llama.cpp's extra
buffer types off first (``MMRAG_LLAMACPP_EXTRA_BUFFERS=auto|on|off``), which avoids the AMX
kernel crash. Point ``mmrag ask --llm openai:MODEL`` at it with ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import os
import runpy

from app.rag.llamacpp import extra_buffers, extra_buffers_enabled


def main() -> None:
    setting = os.environ.get("MMRAG_LLAMACPP_EXTRA_BUFFERS", "auto")
    with extra_buffers(extra_buffers_enabled(setting)):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
