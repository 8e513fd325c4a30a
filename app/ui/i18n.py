"""Every string the UI shows, in English and Japanese. ``t(key, **values)`` looks one up.

Keys are grouped by page; a missing Japanese text falls back to English, a missing key is an
error (tests check that both languages have every key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

LANGUAGES = {"en": "English", "ja": "日本語"}
DEFAULT = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    # -- app shell ----------------------------------------------------------------------
    "app.title": {"en": "mmrag", "ja": "mmrag"},
    "app.tagline": {
        "en": "Search and ask your own files: documents, images and audio.",
        "ja": "自分のファイル（文書・画像・音声）を検索し、質問できます。",
    },
    "app.language": {"en": "Language / 言語", "ja": "Language / 言語"},
    "app.store": {"en": "Store: `{path}`", "ja": "ストア: `{path}`"},
    "app.warming": {"en": "Loading models…", "ja": "モデルを読み込み中…"},
    "app.empty_store": {
        "en": "The store is empty. Add files on the **Library** page.",
        "ja": "ストアは空です。**ライブラリ**ページでファイルを追加してください。",
    },
    "app.ingesting": {
        "en": "Ingesting: {done}/{total} files",
        "ja": "取り込み中: {done}/{total} ファイル",
    },
    "nav.search": {"en": "Search", "ja": "検索"},
    "nav.images": {"en": "Images", "ja": "画像"},
    "nav.chat": {"en": "Chat", "ja": "チャット"},
    "nav.library": {"en": "Library", "ja": "ライブラリ"},
    "nav.map": {"en": "Map", "ja": "マップ"},
    "nav.settings": {"en": "Settings", "ja": "設定"},
    # -- common -------------------------------------------------------------------------
    "common.open": {"en": "Open", "ja": "開く"},
    "common.download": {"en": "Download", "ja": "ダウンロード"},
    "common.score": {"en": "score {score:.3f}", "ja": "スコア {score:.3f}"},
    "common.similarity": {"en": "similarity {score:.2f}", "ja": "類似度 {score:.2f}"},
    "common.low_relevance": {"en": "low relevance", "ja": "関連性低"},
    "common.page": {"en": "p. {page}", "ja": "{page} ページ"},
    "common.pages": {"en": "pp. {page}–{end}", "ja": "{page}–{end} ページ"},
    "common.section": {"en": "Section", "ja": "セクション"},
    "common.no_results": {
        "en": "No results. Try other words, fewer filters or another mode.",
        "ja": "結果がありません。別の言葉を試すか、フィルタを減らしてください。",
    },
    "common.error": {"en": "Something went wrong: {error}", "ja": "エラーが発生しました: {error}"},
    "common.forbidden": {
        "en": "This file cannot be shown (it is not part of the store).",
        "ja": "このファイルは表示できません（ストアに含まれていません）。",
    },
    "common.missing": {
        "en": "The original file is no longer on disk.",
        "ja": "元のファイルはディスク上にありません。",
    },
    "common.rejected": {
        "en": "Upload refused: {reason}",
        "ja": "アップロードを拒否しました: {reason}",
    },
    "common.elapsed": {"en": "{n} results in {ms:.0f} ms", "ja": "{n} 件（{ms:.0f} ms）"},
    "common.kind.text": {"en": "Text", "ja": "テキスト"},
    "common.kind.image": {"en": "Image", "ja": "画像"},
    "common.kind.audio": {"en": "Audio", "ja": "音声"},
    "common.play_from": {"en": "Plays from {at}", "ja": "{at} から再生"},
    "common.upload": {"en": "Upload", "ja": "アップロード"},
    "common.choose": {"en": "Choose an option", "ja": "選択してください"},
    "common.choose_many": {"en": "Choose options", "ja": "選択してください（複数可）"},
    "app.skip": {"en": "Skip to main content", "ja": "本文へ移動"},
    "common.date.year": {"en": "yyyy", "ja": "年"},
    "common.date.month": {"en": "mm", "ja": "月"},
    "common.date.day": {"en": "dd", "ja": "日"},
    "common.upload_limits": {
        "en": "Up to {mb} MB · {types}",
        "ja": "{mb} MB まで・{types}",
    },
    "lang.en": {"en": "English", "ja": "英語"},
    "lang.ja": {"en": "Japanese", "ja": "日本語"},
    "lang.zh": {"en": "Chinese", "ja": "中国語"},
    "lang.ko": {"en": "Korean", "ja": "韓国語"},
    "llm.extractive": {
        "en": "Extractive (quotes your files, no model)",
        "ja": "抽出型（ファイルから引用・モデルなし）",
    },
    # -- notes the search engine adds to its results (SearchInfo.notes) --------------------
    "note.no_dense": {
        "en": "{lang} queries are matched by keywords and image similarity only: the text "
        "model does not read {lang}.",
        "ja": "{lang}の検索語は、キーワードと画像の類似度だけで照合しました（テキストモデルは"
        "{lang}に対応していません）。",
    },
    "note.weak_dense": {
        "en": "The text model is not made for {lang} queries: meaning-based matches may be off.",
        "ja": "テキストモデルは{lang}の検索語向けではありません。"
        "意味による一致は不正確な場合があります。",
    },
    "note.image_rerank": {
        "en": "Image queries are not reranked (the reranker reads text).",
        "ja": "画像による検索は再ランクしません（再ランクはテキストを読むため）。",
    },
    "note.no_reranker": {
        "en": "The reranker {model} is unavailable: results are not reranked.",
        "ja": "再ランクモデル {model} を利用できないため、再ランクしていません。",
    },
    "note.no_bm25": {
        "en": "Keyword search is unavailable: {why}",
        "ja": "キーワード検索を利用できません: {why}",
    },
    # -- item dialog --------------------------------------------------------------------
    "item.title": {"en": "Item details", "ja": "項目の詳細"},
    "item.path": {"en": "File", "ja": "ファイル"},
    "item.context": {"en": "In context", "ja": "前後の文脈"},
    "item.page_view": {"en": "Page {page} of the original", "ja": "原本の {page} ページ"},
    "item.ocr": {"en": "Text in the image (OCR)", "ja": "画像内のテキスト（OCR）"},
    "item.no_ocr": {"en": "No text found in this image.", "ja": "画像内にテキストはありません。"},
    "item.exif": {"en": "Photo details (EXIF)", "ja": "写真の情報（EXIF）"},
    "item.camera": {"en": "Camera", "ja": "カメラ"},
    "item.taken": {"en": "Taken", "ja": "撮影日時"},
    "item.gps": {"en": "Location", "ja": "位置"},
    "item.size": {"en": "Size", "ja": "サイズ"},
    "item.transcript": {"en": "Transcript", "ja": "書き起こし"},
    "item.exif.LensModel": {"en": "Lens", "ja": "レンズ"},
    "item.exif.ExposureTime": {"en": "Exposure", "ja": "露出時間"},
    "item.exif.FNumber": {"en": "Aperture", "ja": "絞り値"},
    "item.exif.ISOSpeedRatings": {"en": "ISO speed", "ja": "ISO 感度"},
    "item.exif.FocalLength": {"en": "Focal length", "ja": "焦点距離"},
    "item.exif.Software": {"en": "Software", "ja": "ソフトウェア"},
    "item.gone": {
        "en": "This item is no longer in the store.",
        "ja": "この項目はストアにありません。",
    },
    # -- search -------------------------------------------------------------------------
    "search.title": {"en": "Search", "ja": "検索"},
    "search.query": {"en": "Search your files", "ja": "ファイルを検索"},
    "search.placeholder": {
        "en": "e.g. quarterly revenue, a red circle, disk quota exceeded…",
        "ja": "例: 四半期の売上、赤い円、防災訓練…",
    },
    "search.image": {"en": "…or search with an image", "ja": "…または画像で検索"},
    "search.image_help": {
        "en": "Finds similar images (and text that describes them).",
        "ja": "似た画像（とそれを説明するテキスト）を探します。",
    },
    "search.by_image": {"en": "Searching by this image", "ja": "この画像で検索中"},
    "search.mode": {"en": "Mode", "ja": "方式"},
    "search.mode.hybrid": {"en": "Hybrid", "ja": "ハイブリッド"},
    "search.mode.dense": {"en": "Meaning", "ja": "意味"},
    "search.mode.bm25": {"en": "Keywords", "ja": "キーワード"},
    "search.mode_help": {
        "en": "Keywords: exact words (BM25). Meaning: semantic vectors. Hybrid: both fused.",
        "ja": "キーワード: 語の一致（BM25）。意味: ベクトル検索。ハイブリッド: 両方を統合。",
    },
    "search.rerank": {"en": "Rerank", "ja": "再ランク"},
    "search.rerank_help": {
        "en": "Re-score the best candidates with a cross-encoder (slower, often better).",
        "ja": "上位候補をクロスエンコーダで採点し直します（遅いが高精度）。",
    },
    "search.rerank_unavailable": {
        "en": "Reranking is not available in this version of the search engine.",
        "ja": "この検索エンジンでは再ランクを利用できません。",
    },
    "search.searching": {"en": "Searching…", "ja": "検索中…"},
    "search.reranked": {"en": "reranked by {model}", "ja": "{model} で再ランク"},
    "search.also_in": {"en": "also in: {names}", "ja": "同じ内容: {names}"},
    "search.k": {"en": "Results", "ja": "件数"},
    "search.filters": {"en": "Filters", "ja": "フィルタ"},
    "search.f.modality": {"en": "Kind", "ja": "種類"},
    "search.f.types": {"en": "File types", "ja": "ファイル形式"},
    "search.f.folder": {"en": "Folder", "ja": "フォルダ"},
    "search.f.any_folder": {"en": "All folders", "ja": "すべてのフォルダ"},
    "search.f.dates": {
        "en": "Date (photo taken, else file date)",
        "ja": "日付（撮影日、なければ更新日）",
    },
    "search.f.active": {"en": "{n} filter(s) active", "ja": "{n} 個のフィルタを適用中"},
    "search.images": {"en": "Images", "ja": "画像"},
    "search.passages": {"en": "Passages and recordings", "ja": "文章と録音"},
    "search.nothing": {
        "en": "Nothing in your files matches “{query}”.",
        "ja": "「{query}」に一致するものはファイル内にありません。",
    },
    "search.this_image": {"en": "this image", "ja": "この画像"},
    "search.closest": {
        "en": "Closest items, none of them a match ({n})",
        "ja": "近い項目（いずれも一致ではありません・{n} 件）",
    },
    "search.weaker": {"en": "Weaker matches ({n})", "ja": "関連性の低い結果（{n} 件）"},
    "search.hint": {
        "en": "Type a question or some words, or drop an image, to search every file at once.",
        "ja": "質問や言葉を入力するか、画像をドロップすると、すべてのファイルを検索します。",
    },
    # -- images -------------------------------------------------------------------------
    "images.title": {"en": "Images", "ja": "画像"},
    "images.query": {"en": "Describe the picture", "ja": "画像の説明"},
    "images.placeholder": {
        "en": "e.g. a red circle, two blue squares, an error dialog…",
        "ja": "例: 赤い円、青い四角が二つ、エラー画面…",
    },
    "images.upload": {"en": "…or find images like this one", "ja": "…またはこの画像に似たもの"},
    "images.basis": {"en": "Match by", "ja": "一致の基準"},
    "images.basis.look": {"en": "Looks", "ja": "見た目"},
    "images.basis.all": {"en": "Looks and text in images", "ja": "見た目と画像内の文字"},
    "images.basis_help": {
        "en": "Looks: what the picture shows (CLIP). With text: also words read in images (OCR).",
        "ja": "見た目: 画像の内容（CLIP）。文字も: 画像から読み取った文字（OCR）も使います。",
    },
    "images.count": {"en": "Images shown", "ja": "表示数"},
    "images.none": {"en": "No images match.", "ja": "一致する画像はありません。"},
    "images.nothing": {
        "en": "No picture looks like “{query}”.",
        "ja": "「{query}」のような画像はありません。",
    },
    "images.hint": {
        "en": "Describe what you are looking for, or upload a picture to find similar ones.",
        "ja": "探している画像を説明するか、画像をアップロードして似たものを探します。",
    },
    # -- chat ---------------------------------------------------------------------------
    "chat.title": {"en": "Chat", "ja": "チャット"},
    "chat.input": {"en": "Ask about your files…", "ja": "ファイルについて質問…"},
    "chat.llm": {"en": "Answer with", "ja": "回答モデル"},
    "chat.llm_help": {
        "en": "Extractive quotes your files without a language model; others need a backend.",
        "ja": "抽出型は言語モデルを使わずにファイルから引用します。"
        "それ以外はバックエンドが必要です。",
    },
    "chat.k": {"en": "Sources per question", "ja": "質問ごとの参照数"},
    "chat.new": {"en": "New conversation", "ja": "新しい会話"},
    "chat.not_found": {
        "en": "Not found in your files. Nothing in the store answers this question.",
        "ja": "ファイル内に見つかりません。ストアにこの質問の答えはありません。",
    },
    "chat.grounded": {"en": "Grounded in your files", "ja": "ファイルに基づく回答"},
    "chat.ungrounded": {
        "en": "Answered, but its citations are weakly supported: check the sources.",
        "ja": "回答しましたが、引用の裏付けが弱いです。出典を確認してください。",
    },
    "chat.sources": {"en": "Sources", "ja": "出典"},
    "chat.cited": {"en": "Cited", "ja": "引用"},
    "chat.support": {"en": "Support", "ja": "裏付け"},
    "chat.open_citation": {"en": "Open a citation", "ja": "引用を開く"},
    "chat.citation": {"en": "Citation [{n}]", "ja": "引用 [{n}]"},
    "chat.cited_sentences": {"en": "Cited for", "ja": "引用された文"},
    "chat.retrieved": {"en": "Also retrieved", "ja": "その他の検索結果"},
    "chat.invalid": {
        "en": "The model cited sources that do not exist: {ns}",
        "ja": "存在しない出典が引用されました: {ns}",
    },
    "chat.unavailable": {
        "en": "Question answering is not available in this installation.",
        "ja": "この環境では質問応答を利用できません。",
    },
    "chat.thinking": {"en": "Searching your files…", "ja": "ファイルを検索中…"},
    "chat.found": {
        "en": "{n} sources found in {seconds:.1f} s",
        "ja": "{n} 件の出典が見つかりました（{seconds:.1f} 秒）",
    },
    "chat.searched_for": {"en": "searched for: {query}", "ja": "検索語: {query}"},
    "chat.writing": {"en": "Writing the answer…", "ja": "回答を作成中…"},
    "chat.precision": {"en": "citation precision {p:.0%}", "ja": "引用精度 {p:.0%}"},
    "chat.empty": {
        "en": "Ask a question: answers quote your files and cite them as [1], [2]…",
        "ja": "質問してください。回答はファイルを引用し [1]、[2]… と出典を示します。",
    },
    # -- library ------------------------------------------------------------------------
    "library.title": {"en": "Library", "ja": "ライブラリ"},
    "library.tab.add": {"en": "Add files", "ja": "ファイルを追加"},
    "library.tab.docs": {"en": "Documents", "ja": "文書"},
    "library.tab.errors": {"en": "Problems", "ja": "問題"},
    "library.tab.store": {"en": "Store", "ja": "ストア"},
    "library.upload": {"en": "Upload files to ingest", "ja": "取り込むファイルをアップロード"},
    "library.upload_limits": {
        "en": "Up to {mb:.0f} MB per file · {n} file types",
        "ja": "1 ファイル {mb:.0f} MB まで・{n} 種類の形式",
    },
    "library.upload_help": {
        "en": "Up to {mb:.0f} MB each; documents, images, audio and subtitles.",
        "ja": "1 ファイル {mb:.0f} MB まで。文書・画像・音声・字幕。",
    },
    "library.ingest_uploads": {"en": "Ingest uploaded files", "ja": "アップロードを取り込む"},
    "library.folder": {
        "en": "…or a folder on this computer",
        "ja": "…またはこのコンピュータのフォルダ",
    },
    "library.folder_placeholder": {"en": "/path/to/folder", "ja": "/path/to/folder"},
    "library.ingest_folder": {"en": "Ingest folder", "ja": "フォルダを取り込む"},
    "library.folder_disabled": {
        "en": "Folder ingestion is off on a public address (start with --allow-folders).",
        "ja": "公開アドレスではフォルダの取り込みは無効です（--allow-folders で有効化）。",
    },
    "library.no_folder": {"en": "Not a folder: {path}", "ja": "フォルダではありません: {path}"},
    "library.busy": {
        "en": "An ingestion is already running; wait for it to finish.",
        "ja": "取り込みを実行中です。終了までお待ちください。",
    },
    "library.started": {"en": "Ingestion started.", "ja": "取り込みを開始しました。"},
    "library.progress": {"en": "Ingestion progress", "ja": "取り込みの進行状況"},
    "library.status.queued": {"en": "Waiting…", "ja": "待機中…"},
    "library.status.counting": {"en": "Finding files…", "ja": "ファイルを探索中…"},
    "library.status.reading": {"en": "Reading files…", "ja": "ファイルを読み込み中…"},
    "library.stage.reading": {
        "en": "Reading {n}/{total}: {name}",
        "ja": "読み込み中 {n}/{total}: {name}",
    },
    "library.stage.ocr": {
        "en": "Reading the text in the image (OCR) {n}/{total}: {name}",
        "ja": "画像内の文字を認識中（OCR）{n}/{total}: {name}",
    },
    "library.stage.transcribing": {
        "en": "Transcribing {n}/{total}: {name}",
        "ja": "書き起こし中 {n}/{total}: {name}",
    },
    "library.status.indexing": {
        "en": "Embedding and indexing: {done}/{todo} items",
        "ja": "埋め込みと索引作成中: {done}/{todo} 項目",
    },
    "library.status.done": {
        "en": "Done: {done} file(s) in {seconds:.0f} s",
        "ja": "完了: {done} ファイル（{seconds:.0f} 秒）",
    },
    "library.status.cancelled": {
        "en": "Stopped after {done} file(s)",
        "ja": "{done} ファイルで停止",
    },
    "library.status.failed": {"en": "Failed: {error}", "ja": "失敗: {error}"},
    "library.cancel": {"en": "Stop", "ja": "停止"},
    "library.files": {"en": "Files of this run", "ja": "今回のファイル"},
    "library.tally": {"en": "{status}: {n}", "ja": "{status}: {n}"},
    "library.result.ingested": {"en": "ingested", "ja": "取り込み済み"},
    "library.result.updated": {"en": "updated", "ja": "更新"},
    "library.result.unchanged": {"en": "unchanged", "ja": "変更なし"},
    "library.result.moved": {"en": "moved", "ja": "移動"},
    "library.result.skipped": {"en": "skipped", "ja": "スキップ"},
    "library.result.failed": {"en": "failed", "ja": "失敗"},
    "library.result.removed": {"en": "removed", "ja": "削除"},
    "library.col.file": {"en": "File", "ja": "ファイル"},
    "library.col.status": {"en": "Status", "ja": "状態"},
    "library.col.items": {"en": "Items", "ja": "項目"},
    "library.col.images": {"en": "Images", "ja": "画像"},
    "library.col.reason": {"en": "Reason", "ja": "理由"},
    "library.col.seconds": {"en": "Seconds", "ja": "秒"},
    "library.col.id": {"en": "ID", "ja": "ID"},
    "library.col.name": {"en": "Name", "ja": "名前"},
    "library.col.title": {"en": "Title", "ja": "タイトル"},
    "library.col.type": {"en": "Type", "ja": "形式"},
    "library.col.size": {"en": "KB", "ja": "KB"},
    "library.col.date": {"en": "Date", "ja": "日付"},
    "library.col.path": {"en": "Path", "ja": "パス"},
    "library.col.when": {"en": "When", "ja": "日時"},
    "library.docs_help": {
        "en": "Select a row to delete that document from the store.",
        "ja": "行を選択すると、その文書をストアから削除できます。",
    },
    "library.delete": {"en": "Delete “{name}” from the store", "ja": "「{name}」をストアから削除"},
    "library.delete_note": {
        "en": "The file on disk stays (uploaded copies are removed); ingesting its folder again "
        "brings it back.",
        "ja": "ディスク上のファイルは残ります（アップロードしたコピーは削除）。"
        "フォルダを再度取り込むと戻ります。",
    },
    "library.deleted": {"en": "Deleted “{name}”.", "ja": "「{name}」を削除しました。"},
    "library.no_errors": {"en": "No problems recorded.", "ja": "問題は記録されていません。"},
    "library.documents": {"en": "Documents", "ja": "文書"},
    "library.files_count": {"en": "Files", "ja": "ファイル"},
    "library.failed": {"en": "Failed", "ja": "失敗"},
    "library.indexes": {"en": "Indexes", "ja": "索引"},
    "library.models": {"en": "Models in use", "ja": "使用中のモデル"},
    "library.model.text": {"en": "Text embeddings", "ja": "テキスト埋め込み"},
    "library.model.clip": {"en": "Image–text (CLIP)", "ja": "画像–テキスト（CLIP）"},
    "library.model.whisper": {"en": "Speech to text", "ja": "音声認識"},
    "library.model.llm": {"en": "Answers (LLM)", "ja": "回答（LLM）"},
    "library.model.reranker": {"en": "Reranker", "ja": "再ランク"},
    "library.disk": {"en": "Store on disk: {mb} MB", "ja": "ディスク上のストア: {mb} MB"},
    "library.vectors": {
        "en": "{n} vectors, {mb} MB ({model})",
        "ja": "{n} ベクトル、{mb} MB（{model}）",
    },
    # -- map ----------------------------------------------------------------------------
    "map.title": {"en": "Map", "ja": "マップ"},
    "map.caption": {
        "en": "Every item of the store placed by meaning: near points are similar. "
        "Click a point to open it.",
        "ja": "ストアの項目を意味で配置した地図です。近い点は似ています。"
        "点をクリックすると開きます。",
    },
    "map.space": {"en": "Embedding space", "ja": "埋め込み空間"},
    "map.space.clip": {"en": "Shared image–text", "ja": "画像–テキスト共通"},
    "map.space.text": {"en": "Text passages", "ja": "テキスト"},
    "map.method": {"en": "Projection", "ja": "射影"},
    "map.color": {"en": "Colour by", "ja": "色分け"},
    "map.color.modality": {"en": "Kind", "ja": "種類"},
    "map.color.folder": {"en": "Folder", "ja": "フォルダ"},
    "map.color.file_type": {"en": "File type", "ja": "ファイル形式"},
    "map.empty": {"en": "Nothing to map yet.", "ja": "まだ表示する項目がありません。"},
    "map.explained": {
        "en": "{n} items; the two axes keep {p:.0%} of the variance.",
        "ja": "{n} 項目。2 軸で分散の {p:.0%} を保持。",
    },
    "map.items": {"en": "{n} items.", "ja": "{n} 項目。"},
    "map.selected": {"en": "Selected", "ja": "選択中"},
    "map.computing": {"en": "Laying out the items…", "ja": "項目を配置中…"},
    "map.pending": {
        "en": "{method} is being computed; showing PCA meanwhile.",
        "ja": "{method} を計算中です。それまで PCA で表示します。",
    },
    # -- settings -----------------------------------------------------------------------
    "settings.title": {"en": "Settings", "ja": "設定"},
    "settings.caption": {
        "en": "Apply changes this session only; Save as defaults also starts every new session "
        "on this store with them. The store's configuration files are not changed.",
        "ja": "「適用」は現在のセッションのみに反映されます。「既定として保存」すると、このストアの"
        "新しいセッションもこの設定で始まります。ストアの設定ファイルは変わりません。",
    },
    "settings.retrieval": {"en": "Retrieval", "ja": "検索"},
    "settings.mode": {"en": "Default mode", "ja": "既定の方式"},
    "settings.k": {"en": "Results per search (k)", "ja": "検索結果数（k）"},
    "settings.fusion": {"en": "Fusion", "ja": "統合方式"},
    "settings.fusion.auto": {
        "en": "Automatic (calibrated if fitted, else RRF)",
        "ja": "自動（調整済みなら確率、なければ RRF）",
    },
    "settings.fusion.calibrated": {
        "en": "Calibrated probabilities",
        "ja": "調整済みの確率で統合",
    },
    "settings.fusion.rrf": {
        "en": "Reciprocal rank fusion (RRF)",
        "ja": "順位の逆数で統合（RRF）",
    },
    "settings.fusion.weighted": {"en": "Weighted sum of scores", "ja": "スコアの重み付き和"},
    "settings.weights": {"en": "Retriever weights", "ja": "検索器の重み"},
    "settings.w.bm25": {"en": "Keywords (BM25)", "ja": "キーワード（BM25）"},
    "settings.w.text": {"en": "Text meaning", "ja": "テキストの意味"},
    "settings.w.clip": {"en": "Image–text (CLIP)", "ja": "画像–テキスト（CLIP）"},
    "settings.w.text_xl": {
        "en": "Text meaning, other languages",
        "ja": "テキストの意味（他言語）",
    },
    "settings.w.bm25_xl": {
        "en": "Keywords, translated to the other language",
        "ja": "キーワード（他言語に翻訳）",
    },
    "settings.rrf_k": {"en": "RRF constant", "ja": "RRF 定数"},
    "settings.candidates": {"en": "Candidates per retriever", "ja": "検索器ごとの候補数"},
    "settings.rerank": {"en": "Rerank by default", "ja": "既定で再ランク"},
    "settings.llm": {"en": "Answering", "ja": "回答"},
    "settings.llm_choice": {"en": "LLM backend", "ja": "LLM バックエンド"},
    "settings.llm_custom": {
        "en": "…or BACKEND:MODEL (e.g. `ollama:llama3.2`)",
        "ja": "…または BACKEND:MODEL（例: `ollama:llama3.2`）",
    },
    "settings.models": {"en": "Models", "ja": "モデル"},
    "settings.models_note": {
        "en": "The indexes were built with these models; change them with `mmrag reindex`.",
        "ja": "索引はこれらのモデルで作成されています。変更は `mmrag reindex` で行います。",
    },
    "settings.apply": {"en": "Apply", "ja": "適用"},
    "settings.save": {"en": "Save as defaults", "ja": "既定として保存"},
    "settings.saved": {
        "en": "Applied, and saved as the defaults of new sessions.",
        "ja": "適用し、新しいセッションの既定として保存しました。",
    },
    "settings.save_failed": {
        "en": "Applied to this session, but could not be saved: {error}",
        "ja": "このセッションには適用しましたが、保存できませんでした: {error}",
    },
    "settings.has_saved": {
        "en": "New sessions start from the defaults saved here.",
        "ja": "新しいセッションはここで保存した既定で始まります。",
    },
    "settings.reset": {"en": "Reset to the store's settings", "ja": "ストアの設定に戻す"},
    "settings.applied": {"en": "Applied to this session.", "ja": "このセッションに適用しました。"},
    "settings.invalid": {"en": "Invalid setting: {error}", "ja": "無効な設定: {error}"},
}


def lang() -> str:
    value = st.session_state.get("lang", DEFAULT)
    return value if value in LANGUAGES else DEFAULT


def t(key: str, **values: Any) -> str:
    """The text for ``key`` in the session's language, formatted with ``values``."""
    return translate(lang(), key, **values)


def translate(language: str, key: str, **values: Any) -> str:
    entry = CATALOGUE[key]
    text = entry.get(language) or entry[DEFAULT]
    return text.format(**values) if values else text


def labeller(prefix: str) -> Callable[[Any], str]:
    """A widget's ``format_func``: option ``v`` reads as ``t(prefix + v)``, in the language of
    the session that drew the widget (Streamlit may call it later from another thread)."""
    language = lang()
    return lambda value: translate(language, f"{prefix}{value}")


def language_name(code: str) -> str:
    """A language code ("ja") as the name of the language in the session's language."""
    key = f"lang.{code.lower()}"
    return t(key) if key in CATALOGUE else code


def llm_labeller() -> Callable[[str], str]:
    """``format_func`` for answer backends: the built-in one described, others as named."""
    language = lang()
    return lambda name: translate(language, "llm.extractive") if name == "extractive" else name
