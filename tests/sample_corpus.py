"""The committed sample corpus in ``data/``: coherent EN/JA documents, pictures and audio.

Built by ``python -m tests.corpus data`` with the generators of ``tests.corpus``. Facts are
written inline as ``[[...]]``: the marker is removed from the file's text and the sentence goes
verbatim into ``data/FACTS.md`` with its place (page, slide, time span, sheet, section), for
writing retrieval evaluation questions.
"""

# ruff: noqa: E501  (prose)

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from tests.corpus import (
    Block,
    Cue,
    Exif,
    Slide,
    bar_chart_image,
    diagram_image,
    docx,
    eml,
    html,
    iter_blocks,
    markdown,
    mixed_pdf,
    photo,
    pptx,
    scanned_pdf,
    scene_image,
    screenshot_with_text,
    spoken_cues,
    text_pdf,
    timestamp,
    txt,
    vtt,
    xlsx,
)

_FACT = re.compile(r"\[\[(.+?)\]\]", re.S)


@dataclass
class _Facts:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (file, where, fact)

    def take(self, file: str, where: str, text: str) -> str:
        """Record the marked facts of ``text`` and return it without the markers."""
        for m in _FACT.finditer(text):
            self.rows.append((file, where, " ".join(m.group(1).split())))
        return _FACT.sub(lambda m: m.group(1), text)

    def add(self, file: str, where: str, fact: str) -> None:
        self.rows.append((file, where, fact))


def _take_blocks(facts: _Facts, file: str, blocks: Sequence[Block]) -> list[Block]:
    """Strip fact markers from blocks; a fact's place is the section (heading) it is under."""
    out: list[Block] = []
    section = "-"
    for kind, value in iter_blocks(blocks):
        if kind in ("h1", "h2", "h3"):
            section = f"section “{value}”"
        if kind == "table":
            rows = [[facts.take(file, section, str(v)) for v in row] for row in value]  # type: ignore[attr-defined]
            out.append(("table", rows))
        elif isinstance(value, str):
            out.append((kind, facts.take(file, section, value)))  # type: ignore[arg-type]
        else:
            out.append((kind, value))  # type: ignore[arg-type]
    return out


ANNUAL_REPORT_PAGES = (
    """# Letter from the Chief Executive

2025 was the year Kestrel Analytics grew up. [[In fiscal year 2025, Kestrel Analytics reported total revenue of 48.2 million euros, up 17 percent from 2024.]] Growth came from all three regions and from the launch of our streaming product.

[[Chief executive Margit Olsen has led the company since its founding in 2014.]] [[In March 2025 the company moved its headquarters from Utrecht to Rotterdam.]]

I want to thank our customers for their trust and our employees for a remarkable year.""",
    """# Operations and People

[[The number of employees grew from 312 to 365 during 2025.]] Most new hires joined the engineering and customer success teams.

[[In September 2025 Kestrel opened its first Asian office in Osaka, Japan.]] The Osaka team supports customers in Japan and South Korea in their own languages.

[[Customer retention reached 94 percent, the highest in the company's history.]] [[Average time to resolve a support ticket fell from 19 hours to 11 hours.]]""",
    """# Products

[[The Lantern streaming platform processed 2.7 billion events per day at its peak in November 2025.]] Lantern was released to all customers in April after a six-month beta.

[[The chart below shows quarterly revenue: 10.1, 11.4, 12.6 and 14.1 million euros for Q1 to Q4.]]

[image]

[[The older Harrier batch product will be retired on 30 June 2026.]]""",
    """# Financial Summary

Revenue by region for fiscal year 2025 (million euros):

[table]

[[Operating margin improved to 12.4 percent from 9.8 percent a year earlier.]] [[Research and development spending was 9.6 million euros, or 20 percent of revenue.]]""",
    """# Sustainability and Outlook

[[Since June 2025 all Kestrel data centres run on 100 percent renewable electricity.]] [[Carbon emissions per customer fell by 22 percent compared with 2024.]]

[[For 2026 the board expects revenue between 55 and 58 million euros.]] [[The board proposes a dividend of 0.35 euros per share, to be paid on 15 May 2026.]]""",
)
ANNUAL_REPORT_TABLE = (
    ("Region", "Revenue", "Growth"),
    ("Europe", "21.5", "12%"),
    ("North America", "15.9", "19%"),
    ("Asia-Pacific", "10.8", "28%"),
    ("Total", "48.2", "17%"),
)
BRIDGE_PAGES = (
    """# Millbrook Footbridge Inspection Report

[[The inspection of the Millbrook footbridge was carried out on 21 August 2025 by Whitfield Engineering.]] [[The bridge is a 38-metre steel truss span built in 1974.]]

The inspection covered the deck, the handrails, the bearings and all lower chord connections.""",
    """# Findings and Recommendations

[[Corrosion was found on 6 of the 24 lower chord connections.]] The handrails and bearings are in good condition.

[[Until repairs are complete, the load limit is reduced to 3 tonnes.]] [[Repairs are estimated to cost 86,000 pounds.]]""",
    """# APPENDIX A - SIGNED FIELD SHEET

[[Inspector: James Whitfield]]

[[Weather: overcast, 17 degrees Celsius]]

[[Next inspection due: August 2027]]

Signed on site by the inspector.""",
)
SCAN_NOTICE_JA = """# 防災訓練のお知らせ

総務部より

[[2025年11月14日（金）午後2時から防災訓練を実施します。]]

[[集合場所は本社ビル3階の大会議室です。]]

[[避難には東側の階段を使用してください。]]

[[当日はヘルメットと社員証を持参してください。]]

[[問い合わせ先は総務部の佐藤（内線1234）です。]]"""
FAISS_NOTES: tuple[Block, ...] = (
    ("h1", "FAISS notes"),
    "Working notes on choosing a FAISS index for the document search service.",
    ("h2", "Exact search"),
    "[[IndexFlatIP computes exact inner products, so with normalised vectors it returns exact cosine neighbours.]] It needs no training and is the baseline for measuring recall.",
    ("h2", "IVF"),
    "[[For one million vectors we use nlist = 4096 inverted lists.]] [[With nprobe = 16 the IVF index reached a recall@10 of 0.95 against the flat index.]]",
    ("bullet", "Train the coarse quantizer on at least 30 times nlist vectors."),
    ("bullet", "[[Raising nprobe from 16 to 64 doubled query latency to 2.4 ms.]]"),
    ("bullet", "Keep the trained index on disk and add vectors incrementally."),
    ("h2", "Memory"),
    (
        "table",
        (
            ("Index", "Bytes per vector", "Recall@10"),
            ("Flat (384-d float32)", "1536", "1.00"),
            ("IVF4096,PQ48", "48", "[[0.87]]"),
            ("HNSW32", "[[about 1800]]", "0.98"),
        ),
    ),
    "[[Product quantisation with 48 sub-quantizers stores each vector in 48 bytes.]] [[HNSW with M = 32 and efSearch = 128 was the fastest index with recall above 0.97.]]",
    ("h2", "Example"),
    (
        "code",
        'index = faiss.index_factory(384, "IVF4096,PQ48", faiss.METRIC_INNER_PRODUCT)\nindex.train(sample)\nindex.add(vectors)',
    ),
)
MEETING_JA: tuple[Block, ...] = (
    ("h1", "開発定例 会議メモ"),
    "[[日時：2025年10月6日（月）10時〜11時、場所：第2会議室。]]",
    "[[出席者：田中、鈴木、高橋、渡辺。]]",
    ("h2", "決定事項"),
    ("number", "[[検索機能のリリースを11月20日に延期する。]]"),
    ("number", "[[クラウド費用の上限を月額45万円とする。]]"),
    ("number", "日本語の全文検索は形態素解析を使う。"),
    ("h2", "宿題"),
    ("bullet", "[[鈴木さんがOCRの精度評価を10月17日までに行う。]]"),
    ("bullet", "[[高橋さんが音声の文字起こし速度を測定する。]]"),
    ("h2", "次回"),
    "[[次回の定例は10月20日（月）10時から。]]",
)
TEA_CEREMONY: tuple[Block, ...] = (
    "The Japanese tea ceremony, called chanoyu or sadō, is a choreographed way of preparing and serving powdered green tea.",
    ("h1", "History"),
    "[[Sen no Rikyū (1522–1591) refined the wabi-cha style, which values simplicity and rustic beauty.]] Tea had arrived from China centuries earlier with Buddhist monks.",
    ("h1", "Utensils"),
    ("bullet", "[[The tea is whisked with a bamboo whisk called a chasen.]]"),
    ("bullet", "The chashaku is a thin bamboo scoop used to measure the matcha."),
    ("bullet", "The chawan, the tea bowl, is often chosen to suit the season."),
    ("h1", "The gathering"),
    "[[A full formal gathering, a chaji, can last up to four hours and includes a light meal called kaiseki.]] [[Guests enter the tea room through a small door, the nijiriguchi, which is only about 66 centimetres high.]]",
    "[[Thick tea, koicha, is shared from one bowl, while thin tea, usucha, is served in a separate bowl for each guest.]]",
)
KYOTO_JA: tuple[Block, ...] = (
    "京都の秋の名所と、見頃の時期をまとめました。",
    ("h1", "東福寺"),
    "[[東福寺の通天橋から見る紅葉は、11月中旬から12月上旬が見頃です。]]",
    ("h1", "嵐山"),
    "[[嵐山へは京都駅からJR嵯峨野線で約15分です。]] 渡月橋の周辺は週末に大変混雑します。",
    ("h1", "永観堂"),
    "[[永観堂では11月上旬から12月上旬まで夜間の特別拝観があります。]]",
    (
        "table",
        (
            ("名所", "見頃", "拝観料"),
            ("東福寺", "11月中旬〜12月上旬", "[[1000円]]"),
            ("永観堂", "11月中旬〜下旬", "1000円"),
        ),
    ),
)
PROJECT_PLAN: tuple[Block, ...] = (
    ("h1", "Summary"),
    "[[Project Heron moves the document archive from the on-premise file servers to the new search platform.]] [[The total budget for Project Heron is 240,000 euros.]]",
    ("h1", "Architecture"),
    "The new platform has three stages, shown below: ingestion, indexing and search.",
    ("image", None),  # the diagram, filled in by build_sample
    ("h1", "Milestones"),
    (
        "table",
        (
            ("Milestone", "Due", "Owner"),
            ("[[Data audit]]", "[[15 January 2026]]", "[[Priya Nair]]"),
            ("Pilot migration", "2 March 2026", "Tom Becker"),
            ("Cut-over", "18 May 2026", "Priya Nair"),
        ),
    ),
    ("h2", "Pilot"),
    "[[The pilot runs with the Finance team, about 40 users, for six weeks.]]",
    ("h1", "Risks"),
    (
        "bullet",
        "[[Scanned contracts from before 2010 may need OCR, which adds about three weeks.]]",
    ),
    ("bullet", "Some shared folders have unclear owners."),
    ("bullet", "Staff may keep using the old file servers out of habit."),
    ("h1", "Next steps"),
    ("number", "Confirm the list of folders in scope."),
    ("number", "Book training sessions for the pilot users."),
    ("number", "[[Decommission the old file servers in June 2026.]]"),
)
TRAINING_JA = (
    Slide("新入社員研修：情報セキュリティ", subtitle="2025年4月 情報システム部"),
    Slide(
        "パスワードの基本",
        [
            "[[パスワードは12文字以上にしてください。]]",
            "同じパスワードを複数のサービスで使わないこと。",
            "[[パスワードは90日ごとに変更します。]]",
        ],
        image=None,
        notes="黄色い四角のアイコンを見せながら説明する。",
    ),
    Slide(
        "不審なメール",
        [
            "添付ファイルを安易に開かないこと。",
            "[[不審なメールは情報システム部（内線4410）に報告してください。]]",
        ],
    ),
    Slide(
        "持ち出し禁止",
        ["[[社外へのUSBメモリの持ち出しは禁止です。]]", "ノートPCは必ず暗号化すること。"],
    ),
)
SUPPORT_REVIEW = (
    Slide("Q3 Support Review", subtitle="Customer Support, October 2025"),
    Slide(
        "Volume and speed",
        [
            "[[The support team handled 12,480 tickets in the third quarter.]]",
            "[[Median first response time fell to 3.5 hours.]]",
            "Chat now accounts for a third of all contacts.",
        ],
        image=None,
        notes="Chart: tickets per month.",
    ),
    Slide(
        "Satisfaction",
        [
            "[[Customer satisfaction averaged 4.6 out of 5.]]",
            "[[The most common issue was password resets, 18 percent of tickets.]]",
        ],
    ),
    Slide(
        "Next quarter",
        [
            "[[A self-service password reset page launches on 1 December.]]",
            "Two new agents start in November.",
        ],
    ),
)
BUDGET_ROWS = (
    ("Category", "Q1", "Q2", "Q3", "Q4", "Total"),
    ("Cloud hosting", 42000, 44000, 46000, 48000, 180000),
    ("Salaries", 510000, 510000, 525000, 525000, 2070000),
    ("Travel", 12000, 18500, 9000, 15500, 55000),
    ("Training", 8000, 6000, 6000, 10000, 30000),
    ("Office rent", 36000, 36000, 36000, 36000, 144000),
)
BUDGET_NOTES = (
    ("Note", "Detail"),
    ("Currency", "All amounts are in euros."),
    ("Approval", "Budget approved by the board on 9 December 2025."),
    ("Travel", "Q2 travel includes the team offsite in March."),
)
OFFSITE_TEXT = """Hi all,

[[The team offsite takes place on Thursday 12 March 2026 at Lakeside Lodge.]]

[[The coach leaves from the main entrance at 8:15 and returns by 18:30.]] The agenda covers the 2026 roadmap in the morning and a workshop on customer interviews in the afternoon.

[[Please send dietary requirements to Tomás Ruiz by 27 February.]] [[The budget is 120 euros per person, including lunch and dinner.]]

See you there,
Ingrid
"""
SHIFTJIS_MEMO = """備品発注メモ

[[コピー用紙（A4）を20箱、トナーを3本発注しました。]]
[[発注先：㈱ミドリ文具]]
[[納品予定は12月3日（水）です。]]
①受け取りは1階の受付で行います。
②伝票は経理課へ回してください。
[[発注担当：経理課 山本（内線2231）]]
"""
WELCOME_CUES = (
    "[[Welcome to Introduction to Marine Biology, course number 101.]]",
    "[[My name is Doctor Helen Park, and I will be your lecturer this semester.]]",
    "[[Lectures are on Tuesdays and Thursdays at 10 in the morning, in room 214 of the Harbour Building.]]",
    "[[The final exam counts for 40 percent of your grade.]]",
    "[[Our field trip to the tide pools at Half Moon Bay is on the 18th of October.]]",
)
# espeak-ng reads "214" in a way Whisper hears as "240"; digit by digit it comes back as "214"
SPOKEN_AS = {"room 214": "room 2 1 4"}
STANDUP_CUES = (
    ("Lena", "[[Good morning, this is the Tuesday standup for the search team.]]"),
    (
        "Kenji",
        "[[Yesterday I finished the PDF table extraction and merged it into the main branch.]]",
    ),
    (
        "Maria",
        "[[Today I am profiling the index build, which takes 11 minutes on the full corpus.]]",
    ),
    ("Omar", "[[My blocker is the expired staging certificate; I will renew it before noon.]]"),
    ("Lena", "[[The next demo for the product team is on Friday at 3 in the afternoon.]]"),
)
PHOTOS = (  # file, shape, colour, background, position, count, exif, description
    (
        "red_circle.jpg",
        "circle",
        "red",
        "blue",
        "centre",
        1,
        Exif(dt.datetime(2024, 5, 3, 10, 15), "Canon", "Canon EOS R6", (35.6586, 139.7454), 45.0),
        "a red circle in the centre on a blue background",
    ),
    (
        "yellow_star.png",
        "star",
        "yellow",
        "purple",
        "centre",
        1,
        Exif(dt.datetime(2024, 8, 17, 19, 42), "FUJIFILM", "X-T30"),
        "a yellow star on a purple background",
    ),
    (
        "green_triangle.webp",
        "triangle",
        "green",
        "white",
        "left",
        1,
        Exif(dt.datetime(2025, 1, 12, 8, 5), "Apple", "iPhone 13"),
        "a green triangle on the left on a white background",
    ),
    (
        "two_blue_squares.jpg",
        "square",
        "blue",
        "yellow",
        "centre",
        2,
        Exif(dt.datetime(2025, 3, 29, 14, 30), "SONY", "ILCE-7M3"),
        "two blue squares on a yellow background",
    ),
    (
        "orange_hexagon.jpg",
        "hexagon",
        "orange",
        "black",
        "right",
        1,
        Exif(dt.datetime(2025, 6, 2, 17, 55), "NIKON CORPORATION", "NIKON Z 5"),
        "an orange hexagon on the right on a black background",
    ),
)
SCREENSHOT_EN = (
    "Disk quota exceeded",
    'Unable to save "thesis_final.docx" to /home/hkimura.',
    "You have used 50 GB of your 50 GB quota.",
    "Error code: EDQUOT (122)",
)
SCREENSHOT_JA = (
    "ネットワークドライブに接続できません",
    "ドライブ Z: のサーバーが応答しません。",
    "管理者に連絡してください。",
    "エラーコード: 0x80070035",
)


def build_sample(root: str | Path) -> list[tuple[Path, str]]:
    """Write the committed sample corpus under ``root``; return (path, description) pairs.

    Also writes ``README.md`` and ``FACTS.md`` (the distinctive facts, verbatim, with places).
    """
    root = Path(root)
    facts = _Facts()
    made: list[tuple[Path, str]] = []

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix()

    def done(p: Path, what: str) -> None:
        made.append((p, what))

    # reports
    path = root / "reports" / "annual_report_2025.pdf"
    pages = [facts.take(rel(path), f"page {i + 1}", t) for i, t in enumerate(ANNUAL_REPORT_PAGES)]
    chart = bar_chart_image(
        {"Q1": 10.1, "Q2": 11.4, "Q3": 12.6, "Q4": 14.1},
        title="Quarterly revenue 2025 (million EUR)",
    )
    text_pdf(
        path,
        pages,
        title="Kestrel Analytics Annual Report 2025",
        images={2: chart},
        tables={3: ANNUAL_REPORT_TABLE},
    )
    for row in ANNUAL_REPORT_TABLE[1:]:
        facts.add(rel(path), "page 4 (table)", " | ".join(row))
    facts.add(
        rel(path),
        "page 3 (embedded image)",
        "bar chart titled 'Quarterly revenue 2025 "
        "(million EUR)' with bars Q1 10.1, Q2 11.4, Q3 12.6, Q4 14.1",
    )
    done(
        path,
        "EN annual report of a fictional company: 5 text pages, a table on page 4, "
        "an embedded bar chart on page 3",
    )

    path = root / "reports" / "bridge_inspection_2025.pdf"
    pages = [
        facts.take(rel(path), f"page {i + 1}" + (" (scanned)" if i == 2 else ""), t)
        for i, t in enumerate(BRIDGE_PAGES)
    ]
    mixed_pdf(path, pages, scanned={2}, title=None)
    done(path, "EN inspection report: pages 1-2 have a text layer, page 3 is a scanned image")

    path = root / "reports" / "scan_notice_ja.pdf"
    scanned_pdf(path, [facts.take(rel(path), "page 1 (scanned)", SCAN_NOTICE_JA)], lang="jpn")
    done(path, "JA office notice (fire drill), one scanned page, no text layer: needs OCR")

    # notes
    path = root / "notes" / "faiss_notes.md"
    markdown(path, _take_blocks(facts, rel(path), FAISS_NOTES))
    done(path, "EN Markdown notes on FAISS indexes: headings, list, table, code block")
    path = root / "notes" / "会議メモ.md"
    markdown(path, _take_blocks(facts, rel(path), MEETING_JA))
    done(path, "JA meeting minutes (Markdown, Japanese file name)")

    # web
    path = root / "web" / "tea_ceremony.html"
    html(
        path,
        _take_blocks(facts, rel(path), TEA_CEREMONY),
        title="The Japanese Tea Ceremony",
        boilerplate=True,
    )
    done(path, "EN article with nav/footer/script boilerplate")
    path = root / "web" / "kyoto_autumn_ja.html"
    html(path, _take_blocks(facts, rel(path), KYOTO_JA), title="京都 紅葉の名所ガイド", lang="ja")
    done(path, "JA travel page with a table")

    # office
    path = root / "office" / "project_plan.docx"
    diagram = diagram_image(["Ingest", "Index", "Search"])
    blocks = [b if b != ("image", None) else ("image", diagram) for b in PROJECT_PLAN]
    docx(path, _take_blocks(facts, rel(path), blocks), title="Project Heron: Migration Plan")
    facts.add(
        rel(path),
        "section “Architecture” (picture)",
        "diagram with three boxes: Ingest -> Index -> Search",
    )
    done(path, "EN project plan: Heading 1/2, table, bullet and numbered lists, a picture")

    path = root / "office" / "研修資料.pptx"
    padlock = scene_image("square", "yellow", "grey", size=(480, 360))
    slides = [
        _take_slide(facts, rel(path), i, s, padlock if i == 1 else None)
        for i, s in enumerate(TRAINING_JA)
    ]
    pptx(path, slides, title="新入社員研修")
    done(path, "JA training deck (4 slides, picture on slide 2, speaker notes)")

    path = root / "office" / "support_review_q3.pptx"
    tickets = bar_chart_image({"Jul": 4310, "Aug": 3980, "Sep": 4190}, title="Tickets per month")
    slides = [
        _take_slide(facts, rel(path), i, s, tickets if i == 1 else None)
        for i, s in enumerate(SUPPORT_REVIEW)
    ]
    pptx(path, slides, title="Q3 Support Review")
    done(path, "EN slide deck (4 slides, chart picture on slide 2)")

    path = root / "office" / "budget.xlsx"
    xlsx(path, {"Budget 2026": BUDGET_ROWS, "Notes": BUDGET_NOTES})
    for row in BUDGET_ROWS[1:]:
        facts.add(
            rel(path),
            "sheet “Budget 2026”",
            " | ".join(f"{h} {v}" for h, v in zip(BUDGET_ROWS[0], row, strict=True)),
        )
    for row in BUDGET_NOTES[1:]:
        facts.add(rel(path), "sheet “Notes”", f"{row[0]}: {row[1]}")
    done(path, "EN budget workbook: two sheets, values only (no formulas)")

    # mail
    path = root / "mail" / "offsite.eml"
    text = facts.take(rel(path), "body", OFFSITE_TEXT)
    paras = "".join(
        f"<p>{html_lib.escape(p).replace(chr(10), '<br>')}</p>\n"
        for p in text.strip().split("\n\n")
    )
    subject = "Team offsite on 12 March at Lakeside Lodge"
    eml(
        path,
        subject=subject,
        sender="Ingrid Berg <ingrid.berg@kestrel.example>",
        to="search-team@kestrel.example",
        text=text,
        html_body=f"<html><body>\n{paras}</body></html>\n",
        date=dt.datetime(2026, 2, 10, 9, 30, tzinfo=dt.UTC),
    )
    facts.add(rel(path), "Subject header", subject)
    done(path, "EN e-mail, plain text + HTML alternative")

    # text
    path = root / "text" / "shiftjis_memo.txt"
    txt(path, facts.take(rel(path), "-", SHIFTJIS_MEMO), encoding="cp932", newline="\r\n")
    done(path, "JA memo in CP932 (Shift_JIS with NEC/IBM extensions: ㈱, ①), CRLF line ends")

    # images
    for name, shape, colour, background, position, count, exif, what in PHOTOS:
        path = photo(
            root / "images" / name,
            shape=shape,
            colour=colour,
            background=background,
            position=position,
            count=count,
            exif=exif,
        )
        facts.add(rel(path), "picture", what)
        meta = f"EXIF: taken {exif.date:%Y-%m-%d %H:%M} with {exif.make} {exif.model}"
        if exif.gps:
            meta += f", GPS {exif.gps[0]:.4f} N {exif.gps[1]:.4f} E (Tokyo Tower)"
        facts.add(rel(path), "EXIF", meta)
        done(path, f"synthetic photo: {what}; " + meta)
    path = screenshot_with_text(
        root / "images" / "screenshot_error.png", SCREENSHOT_EN, title="Files"
    )
    for line in SCREENSHOT_EN:
        facts.add(rel(path), "text in image (OCR)", line)
    done(path, "EN error-dialog screenshot (text only readable by OCR)")
    path = screenshot_with_text(
        root / "images" / "screenshot_error_ja.png", SCREENSHOT_JA, title="エクスプローラー"
    )
    for line in SCREENSHOT_JA:
        facts.add(rel(path), "text in image (OCR)", line)
    done(path, "JA error-dialog screenshot (text only readable by OCR)")

    # audio
    path = root / "audio" / "welcome.wav"
    texts = [_FACT.sub(r"\1", t) for t in WELCOME_CUES]
    spoken = [_spoken(t) for t in texts]
    cues = spoken_cues(path, spoken, "en-us", wpm=150)
    _timed_facts(facts, rel(path), [(a, b, t) for (a, b, _), t in zip(cues, texts, strict=True)])
    done(
        path,
        f"EN lecture welcome spoken by espeak-ng ({cues[-1][1]:.0f} s), no transcript: "
        "exercises Whisper",
    )
    path = root / "audio" / "standup.mp3"
    speakers = [s for s, _ in STANDUP_CUES]
    texts = [_FACT.sub(r"\1", t) for _, t in STANDUP_CUES]
    voices = {"Lena": "en+f3", "Kenji": "en+m3", "Maria": "en+f2", "Omar": "en+m1"}
    cues = spoken_cues(path, texts, [voices[s] for s in speakers], wpm=155)
    vtt(path.with_suffix(".vtt"), cues, speakers=speakers)
    _timed_facts(facts, rel(path), cues)
    done(path, f"EN team standup, four espeak-ng voices ({cues[-1][1]:.0f} s)")
    done(path.with_suffix(".vtt"), "WebVTT sidecar transcript of standup.mp3 (voice tags)")

    _write_readme(root, made)
    _write_facts(root, facts)
    return made


def _spoken(text: str) -> str:
    for written, said in SPOKEN_AS.items():
        text = text.replace(written, said)
    return text


def _take_slide(
    facts: _Facts, file: str, index: int, slide: Slide, image: Image.Image | None
) -> Slide:
    where = f"slide {index + 1}"
    return Slide(
        facts.take(file, where, slide.title),
        [facts.take(file, where, b) for b in slide.bullets],
        image=image,
        notes=facts.take(file, where + " (notes)", slide.notes),
        subtitle=None if slide.subtitle is None else facts.take(file, where, slide.subtitle),
    )


def _timed_facts(facts: _Facts, file: str, cues: Sequence[Cue]) -> None:
    for start, end, text in cues:
        facts.add(file, f"{timestamp(start, '.')[3:-2]}–{timestamp(end, '.')[3:-2]}", text)


def _write_readme(root: Path, made: Sequence[tuple[Path, str]]) -> None:
    rows = "\n".join(
        f"| `{p.relative_to(root).as_posix()}` | {p.stat().st_size:,} | {what} |"
        for p, what in made
    )
    total = sum(p.stat().st_size for p, _ in made)
    text = f"""# Sample corpus

Small multimodal, bilingual (English / Japanese) sample files for the demo (`make demo`), the
tests and retrieval evaluation. **Every file here is generated** by

    python -m tests.corpus data

(see `tests/corpus.py`; deterministic — running it again rewrites the same content). Do not edit
the files by hand: change the generator and re-run it.

All content is fictional and was generated by the mmrag project; it is licensed like the project
(MIT). People, companies, numbers and events are invented (the tea ceremony and Kyoto pages mix
general knowledge with invented details). Speech is synthesised with espeak-ng; Japanese text in
images and scans is drawn with Noto Sans CJK (SIL Open Font License).

`FACTS.md` lists the distinctive facts each file contains, verbatim, with their place (page,
slide, section, time span), for writing evaluation questions.

| file | bytes | what |
| --- | ---: | --- |
{rows}

Total: {total:,} bytes.
"""
    (root / "README.md").write_text(text, encoding="utf-8")
    (root / ".mmragignore").write_text(
        "# Not part of the sample corpus: documentation of it and evaluation questions about it.\n"
        "README.md\nFACTS.md\neval/\n",
        encoding="utf-8",
    )


def _write_facts(root: Path, facts: _Facts) -> None:
    out = [
        "# Facts in the sample corpus",
        "",
        "Generated by `python -m tests.corpus data` from the same source text as the files.",
        "Each fact appears verbatim in its file (text layer, OCR-only image text, cell values,",
        "or spoken words / transcript), at the place given: page (1-based), slide, section,",
        "sheet, or time span `mm:ss.s–mm:ss.s` for audio.",
    ]
    current = ""
    for file, where, fact in facts.rows:
        if file != current:
            out += ["", f"## `{file}`", "", "| where | fact |", "| --- | --- |"]
            current = file
        out.append(f"| {where} | {fact.replace('|', '&#124;')} |")
    (root / "FACTS.md").write_text("\n".join(out) + "\n", encoding="utf-8")
