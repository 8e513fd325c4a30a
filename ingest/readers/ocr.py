"""OCR with tesseract (through unstructured's pytesseract fork), keeping confident words only."""

from __future__ import annotations

import re

from PIL import Image

from ingest.types import IngestError

MIN_CONFIDENCE = 60
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def ocr_image(image: Image.Image, languages: str = "eng+jpn", timeout: float = 120) -> str:
    """Text found in an image, line by line; "" when it holds no confident text."""
    import unstructured_pytesseract as tesseract

    img = image.convert("L")
    if max(img.size) < 1000:  # tesseract reads small text badly: upscale screenshots
        scale = 1000 / max(img.size)
        img = img.resize(
            (int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS
        )
    try:
        data = tesseract.image_to_data(
            img, lang=languages, timeout=timeout, output_type=tesseract.Output.DICT
        )
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        raise IngestError(f"OCR timed out after {timeout:.0f}s") from exc
    except tesseract.TesseractNotFoundError as exc:
        raise IngestError(
            "OCR needs tesseract (apt install tesseract-ocr tesseract-ocr-jpn)"
        ) from exc
    lines: dict[tuple[int, int, int], list[str]] = {}
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if word and float(data["conf"][i]) >= MIN_CONFIDENCE:
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(word)
    out = []
    for words in lines.values():
        # tesseract splits Japanese into single characters separated by spaces: rejoin them
        line = " ".join(words)
        line = re.sub(
            r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", line
        )
        out.append(line)
    text = "\n".join(out).strip()
    meaningful = len(re.findall(r"[A-Za-z0-9]", text)) + 2 * len(_CJK.findall(text))
    return text if meaningful >= 4 else ""
