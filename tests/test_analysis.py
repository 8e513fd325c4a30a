"""Text analysis: English and Japanese terms shared by BM25, highlighting and citations."""

from __future__ import annotations

from ingest.analysis import Analyzer, analyzer, split_sentences

tok = analyzer()


def test_english_folds_case_stems_and_drops_stop_words() -> None:
    assert tok("The Inspections were INSPECTED") == tok("inspection were inspect")
    assert "the" not in tok("The bridge and the river")
    assert tok("Running companies") == ["run", "compani"]


def test_english_normalises_width_accents_and_numbers() -> None:
    assert tok("ＡＢＣ　１２３") == ["abc", "123"]  # full-width letters, digits and space
    assert tok("Sen no Rikyū") == tok("sen no rikyu")
    assert tok("12,480 tickets") == tok("12480 ticket")
    assert "48.2" in tok("revenue of 48.2 million") and "8:15" in tok("leaves at 8:15")


def test_options_change_tokens_and_identity() -> None:
    plain = Analyzer(stem=False, stop_words=False)
    assert plain("The inspections") == ["the", "inspections"]
    assert plain.identity != tok.identity


def test_japanese_inflections_share_tokens() -> None:
    # 延期する / 延期されました / 延期しました: the content word survives, endings do not
    assert tok("延期する") == tok("延期されました") == tok("延期しました") == ["延期"]
    assert tok("行った") == tok("行きます") == tok("行かない")[:1]
    assert tok("応答しません") == tok("応答しない")[:1] == ["応答"]
    # particles and auxiliaries are dropped, nouns kept
    assert tok("検索機能のリリースを延期する") == ["検索", "機能", "リリース", "延期"]


def test_japanese_spelling_variants_and_half_width_kana() -> None:
    assert tok("ｻｰﾊﾞｰ") == tok("サーバー")  # half-width katakana after NFKC
    assert tok("附属") == tok("付属")  # Sudachi's normalized form


def test_mixed_japanese_and_english() -> None:
    assert tok("社外へのUSBメモリの持ち出し") == ["社外", "usb", "メモリ", "持ち出し"]
    assert tok("OCRの精度評価を行う")[:1] == ["ocr"]
    assert "inspect" in tok("Inspectionsの結果")  # English words in Japanese text are stemmed


def test_long_japanese_text_is_split_for_sudachi() -> None:
    text = "東福寺の紅葉は十一月中旬が見頃です。" * 2000  # ~36k characters, above one call's limit
    tokens = tok(text)
    assert tokens.count("東福寺") == 2000


def test_terms_keep_their_spans_in_the_original_text() -> None:
    text = "ＵＳＢメモリの持ち出しは禁止。The Inspections were delayed."
    found = {(t.term, text[t.start : t.end]) for t in tok.spans(text)}
    assert ("usb", "ＵＳＢ") in found and ("持ち出し", "持ち出し") in found
    assert ("inspect", "Inspections") in found and ("delay", "delayed") in found
    # what a query matches is what BM25 would match: other inflections, not other words
    spans = tok.match_spans(
        "The bridges were inspected; 延期しました。", "bridge inspection 延期する"
    )
    marked = [text for text in ("bridges", "inspected", "延期")]
    source = "The bridges were inspected; 延期しました。"
    assert [source[a:b] for a, b in spans] == marked


def test_question_framing_words_are_not_content() -> None:
    assert tok.content_terms("Please explain how to rotate logs") == set(tok("rotate logs"))


def test_sentences_keep_abbreviations_and_split_lines() -> None:
    assert split_sentences("Use a flag, e.g. --force. Then stop.") == [
        "Use a flag, e.g. --force.",
        "Then stop.",
    ]
    assert split_sentences("| a | b |\n| 1 | 2 |") == ["| a | b |", "| 1 | 2 |"]


def test_latin_words_in_japanese_text_are_the_english_terms() -> None:
    """Sudachi cuts "POP3" into "POP" "3": inside Japanese the word is read as in English."""
    an = analyzer()
    assert an.tokens("SMTP と POP3 をトンネルする")[:2] == an.tokens("SMTP and POP3")
    assert "ipv6" in an.tokens("IPv6アドレスを設定") and "raid5" in an.tokens("RAID5 を構成")
    text = "x86_64 版"
    assert [text[t.start : t.end] for t in an.spans(text)][:2] == ["x86", "64"]
