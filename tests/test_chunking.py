from ingest.analysis import detect_language, sentence_spans, split_sentences
from ingest.chunking import chunk_elements
from ingest.text import decode_text
from ingest.tokens import counter_for
from ingest.types import Element

COUNTER = counter_for("builtin:all-MiniLM-L6-v2")


def _chunks(elements, size=64, overlap=16):
    return chunk_elements(elements, COUNTER, size, overlap)


def test_chunks_are_exact_slices_with_pages_and_sections() -> None:
    body = " ".join(f"Revenue in region {i} grew by {i} percent." for i in range(30))
    els = [
        Element("Annual report", "Title", 1, 0),
        Element("Results", "Title", 1, 1),
        Element(body, "NarrativeText", 1),
        Element(body, "NarrativeText", 2),
        Element("Outlook", "Title", 3, 1),
        Element("We expect growth.", "NarrativeText", 3),
    ]
    text, items = _chunks(els)
    assert len(items) > 3
    for item in items:
        assert text[item.char_start : item.char_end] == item.text
        assert item.token_count is not None and item.token_count <= 64
    assert items[0].section == "Annual report > Results"
    assert items[0].text.startswith("Annual report")
    assert items[-1].section == "Annual report > Outlook"
    assert items[-1].page == 3 and items[-1].text.startswith("Outlook")
    assert any(i.page == 1 and i.page_end == 2 for i in items) or {i.page for i in items} >= {1, 2}


def test_sentences_are_not_cut_and_overlap_repeats_a_sentence() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(40)]
    _, items = _chunks([Element(" ".join(sentences), "NarrativeText", 1)], size=48, overlap=16)
    for item in items:
        assert item.text.endswith(".")
        assert item.text.startswith("Sentence number")
    first_last = items[0].text.split(". ")[-1]
    assert first_last.rstrip(".") in items[1].text  # the overlap carries the last sentence


def test_japanese_sentence_ends_are_respected() -> None:
    text = "".join(f"これは{i}番目の文です。" for i in range(60)) + "最後の文！"
    _, items = _chunks([Element(text, "NarrativeText", 1)], size=64, overlap=0)
    assert len(items) > 1
    for item in items[:-1]:
        assert item.text.endswith("。"), item.text[-10:]
    assert items[-1].text.endswith("最後の文！")
    assert all(i.language == "ja" for i in items)


def test_tables_and_lists_stay_whole_when_they_fit() -> None:
    table = "| item | cost |\n|---|---|\n" + "\n".join(f"| row {i} | {i} |" for i in range(5))
    els = [
        Element("Filler sentence here. " * 20, "NarrativeText", 1),
        Element(table, "Table", 1),
        Element("first", "ListItem", 1),
        Element("second", "ListItem", 1),
    ]
    _, items = _chunks(els, size=80, overlap=0)
    holders = [i for i in items if "| row 0 |" in i.text]
    assert len(holders) == 1 and "| row 4 |" in holders[0].text
    assert any("first\nsecond" in i.text for i in items)


def test_oversized_sentence_is_split_by_tokens() -> None:
    _, items = _chunks([Element("word " * 500, "NarrativeText", 1)], size=64, overlap=0)
    assert len(items) >= 7
    assert all(i.token_count <= 70 for i in items)


def test_decode_shift_jis_and_language() -> None:
    raw = "日本語のメモです。予算は三百万円です。".encode("cp932")
    assert decode_text(raw) == "日本語のメモです。予算は三百万円です。"
    assert detect_language("日本語のメモです。") == "ja"
    assert detect_language("This is the English text of a report.") == "en"
    assert split_sentences("A b. C d! 日本。終わり") == ["A b.", "C d!", "日本。", "終わり"]
    text = "One. Two!\n- three\n\n四。五"
    spans = sentence_spans(text)  # the chunker packs these: they cover the text exactly
    assert "".join(text[a:b] for a, b in spans) == text and len(spans) == 5


def test_a_chunk_is_cited_by_the_section_most_of_it_is_in() -> None:
    body = " ".join(f"Sends a request with option {i} set." for i in range(8))
    els = [
        Element("Developer Interface", "Title", 1, 0),
        Element("Main Interface", "Title", 1, 1),
        Element("All of its functions return a Response.", "NarrativeText", 1),  # too short
        Element("requests.request", "Title", 1, 2),
        Element(body, "NarrativeText", 1),
    ]
    _, items = _chunks(els, size=128, overlap=0)
    assert len(items) == 1 and items[0].text.startswith("Developer Interface")
    assert items[0].section == "Developer Interface > Main Interface > requests.request"
