"""Build the development-evaluation corpus from real documents nobody on the project wrote.

Sources (Debian packages; ``make dev-eval`` installs them and runs the whole evaluation):

* English reference HTML: the Node.js API docs (package ``nodejs``), the Valgrind manual
  (``valgrind``), chapters 1 and 3–6 of the Debian Reference (``debian-reference-en``) and
  pages of the Requests and Click documentation (``python-requests-doc``,
  ``python-click-doc``: Sphinx API references, built as the held-out Python docs are, which
  stay out of this set);
* PDFs printed by Chromium from other pages of the same manuals (as a user saves a page as
  PDF), two of them from pages that are also present as HTML;
* Japanese: chapters 7, 8, 10, 11 and 12 of the Debian Reference in Japanese
  (``debian-reference-ja``: different chapters from the English ones, so a cross-lingual
  question has one right file) and Japanese manual pages (``manpages-ja``) as text notes;
* notices: short passages of those documents rendered as photographed paper notices (skewed,
  blurred, unevenly lit JPEGs) for OCR;
* recordings: English paragraphs of the Debian Reference spoken by espeak-ng, with the exact
  time span of every paragraph in ``manifest.json``.

The text is real; only the photographs and voices are synthetic. Run::

    python -m benchmarks.dev_eval.build_corpus /tmp/dev-corpus
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

NODE = Path("/usr/share/doc/nodejs/api")
VALGRIND = Path("/usr/share/doc/valgrind/html")
DEBREF = Path("/usr/share/debian-reference")
MAN_JA = Path("/usr/share/man/ja")
REQUESTS = Path("/usr/share/doc/python-requests-doc/html")
CLICK = Path("/usr/share/doc/python-click-doc/html")
PACKAGES = (
    "nodejs",
    "valgrind",
    "debian-reference-en",
    "debian-reference-ja",
    "manpages-ja",
    "python-requests-doc",
    "python-click-doc",
)

HTML_PAGES = {
    NODE: "path os events timers readline url dns zlib worker_threads cluster child_process net "
    "util process buffer stream assert console".split(),
    VALGRIND: "manual-core mc-manual cg-manual hg-manual drd-manual ms-manual FAQ "
    "quick-start".split(),
    DEBREF: [f"ch0{n}.en" for n in (1, 3, 4, 5, 6)],
    # Sphinx API references (functions and classes in <dl>, as the held-out Python docs have)
    REQUESTS: ["api", "user/quickstart", "user/advanced"],
    CLICK: "api options arguments commands utils".split(),
}
PDF_PAGES = {
    NODE: "querystring string_decoder tty v8 perf_hooks module repl inspector https dgram "
    "path os".split(),  # path and os are also in the HTML set (a page saved twice)
    VALGRIND: "dh-manual manual-intro bbv-manual".split(),
    REQUESTS: ["user/authentication"],
    CLICK: "parameters exceptions testing".split(),
}
JA_CHAPTERS = [f"ch{n:02d}.ja" for n in (7, 8, 10, 11, 12)]
JA_MAN = (
    "ls cp mv rm chmod chown find grep tar gzip crontab date df du kill ln mkdir sort uniq wc "
    "head tail cut xargs diff"
).split()
FOLDERS = {
    NODE: "nodejs",
    VALGRIND: "valgrind",
    DEBREF: "debian-reference",
    REQUESTS: "requests",
    CLICK: "click",
}


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def check_packages() -> None:
    missing = [
        p
        for p in PACKAGES
        if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0
    ]
    if missing:
        sys.exit(f"install the source documents first: apt-get install {' '.join(missing)}")


def copy_html(out: Path, manifest: list[dict[str, object]]) -> None:
    for src_dir, names in HTML_PAGES.items():
        for name in names:
            src = src_dir / f"{name}.html"
            dst = out / "html" / FOLDERS[src_dir] / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            manifest.append({"file": str(dst.relative_to(out)), "kind": "html", "lang": "en"})
    for name in JA_CHAPTERS:
        dst = out / "ja" / "debian-reference" / f"{name}.html"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEBREF / f"{name}.html", dst)
        manifest.append({"file": str(dst.relative_to(out)), "kind": "html", "lang": "ja"})


def print_pdfs(out: Path, manifest: list[dict[str, object]]) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    for src_dir, names in PDF_PAGES.items():
        for name in names:
            dst = out / "pdf" / FOLDERS[src_dir] / f"{Path(name).name}.pdf"
            dst.parent.mkdir(parents=True, exist_ok=True)
            run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-pdf-header-footer",
                    f"--print-to-pdf={dst}",
                    (src_dir / f"{name}.html").as_uri(),
                ],
                timeout=180,
            )
            manifest.append({"file": str(dst.relative_to(out)), "kind": "pdf", "lang": "en"})


def man_text(page: str) -> str:
    src = MAN_JA / "man1" / f"{page}.1.gz"
    text = run(
        ["man", "-E", "UTF-8", "-l", str(src)], env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"}
    ).stdout
    return run(["col", "-bx"], input=text).stdout


def write_man_notes(out: Path, manifest: list[dict[str, object]]) -> None:
    for page in JA_MAN:
        dst = out / "ja" / "man" / f"{page}.txt"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(man_text(page), encoding="utf-8")
        manifest.append({"file": str(dst.relative_to(out)), "kind": "text", "lang": "ja"})


# -- photographed notices ---------------------------------------------------------------------
def _paragraphs(path: Path, lang: str) -> list[str]:
    """Plain-text paragraphs of an HTML page (tags dropped)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    body = re.sub(r"(?is)<(script|style|pre|table)\b.*?</\1>", " ", raw)
    paras = []
    for block in re.findall(r"(?is)<p\b[^>]*>(.*?)</p>", body):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", block)).split())
        long_enough = len(text) >= (60 if lang == "ja" else 140)
        if long_enough and len(text) <= (160 if lang == "ja" else 420):
            paras.append(text)
    return paras


def _photograph(text: str, title: str, rng: random.Random) -> Image.Image:
    """``text`` printed on a sheet and photographed: skew, perspective, blur, light, noise."""
    from tests.corpus import pil_font, wrap_text

    w, h = 1400, 1000
    sheet = Image.new("L", (w, h), 250)
    draw = ImageDraw.Draw(sheet)
    head, body = pil_font(58, bold=True), pil_font(40)
    y = 70.0
    for line in wrap_text(title, head, w - 160):
        draw.text((80, y), line, font=head, fill=15)
        y += 78
    y += 30
    for line in wrap_text(text, body, w - 160):
        if y > h - 80:
            break
        draw.text((80, y), line, font=body, fill=30)
        y += 58
    photo = Image.new("L", (w + 240, h + 200), rng.randint(90, 140))  # a wall behind the sheet
    photo.paste(sheet, (120, 100))
    photo = photo.rotate(rng.uniform(-4, 4), resample=Image.Resampling.BICUBIC, fillcolor=110)
    dx, dy = rng.uniform(-40, 40), rng.uniform(-30, 30)
    photo = photo.transform(
        photo.size,
        Image.Transform.QUAD,
        (
            dx,
            dy,
            -dx,
            photo.height + dy,
            photo.width + dx,
            photo.height - dy,
            photo.width - dx,
            -dy,
        ),
        resample=Image.Resampling.BICUBIC,
    )
    light = Image.linear_gradient("L").resize(photo.size).rotate(rng.uniform(0, 360))
    photo = Image.blend(photo, Image.eval(light, lambda v: 60 + v // 2), 0.18)
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.3)))
    noise = Image.effect_noise(photo.size, rng.uniform(8, 16))
    photo = Image.blend(photo, noise, 0.08)
    return photo.convert("RGB").resize((photo.width * 3 // 4, photo.height * 3 // 4))


def make_notices(out: Path, manifest: list[dict[str, object]], rng: random.Random) -> None:
    sources = [
        (VALGRIND / "manual-core.html", "en", "Valgrind"),
        (NODE / "cli.html", "en", "Node.js"),
        (DEBREF / "ch02.en.html", "en", "Debian"),
        (DEBREF / "ch09.ja.html", "ja", "Debian"),
        (DEBREF / "ch02.ja.html", "ja", "Debian"),
        (DEBREF / "ch01.ja.html", "ja", "Debian"),
    ]
    n = 0
    for src, lang, title in sources:
        paras = _paragraphs(src, lang)
        for text in rng.sample(paras, min(4, len(paras))):
            n += 1
            dst = out / "notices" / f"notice_{n:02d}_{lang}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            heading = f"{title} — お知らせ" if lang == "ja" else f"{title} — Notice"
            _photograph(text, heading, rng).save(dst, quality=82)
            manifest.append(
                {"file": str(dst.relative_to(out)), "kind": "image", "lang": lang, "text": text}
            )


# -- recordings -------------------------------------------------------------------------------
def make_recordings(out: Path, manifest: list[dict[str, object]], rng: random.Random) -> None:
    from tests.corpus import spoken_cues

    voices = ["en-us", "en+m3", "en-gb", "en+f2", "en-us+m5"]
    for n, chapter in enumerate(("ch02.en", "ch07.en", "ch08.en", "ch09.en", "ch10.en"), 1):
        paras = _paragraphs(DEBREF / f"{chapter}.html", "en")
        start = rng.randrange(0, max(1, len(paras) - 8))
        texts = paras[start : start + 8]
        dst = out / "recordings" / f"lecture_{n:02d}.mp3"
        dst.parent.mkdir(parents=True, exist_ok=True)
        cues = spoken_cues(dst, texts, voices[n % len(voices)], wpm=150, gap_s=1.0)
        manifest.append(
            {
                "file": str(dst.relative_to(out)),
                "kind": "audio",
                "lang": "en",
                "cues": [{"t_start": a, "t_end": b, "text": t} for a, b, t in cues],
            }
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", nargs="*", default=[], help="html pdf man notices recordings")
    args = ap.parse_args(argv)
    check_packages()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    manifest: list[dict[str, object]] = []
    steps = {
        "html": lambda: copy_html(out, manifest),
        "pdf": lambda: print_pdfs(out, manifest),
        "man": lambda: write_man_notes(out, manifest),
        "notices": lambda: make_notices(out, manifest, rng),
        "recordings": lambda: make_recordings(out, manifest, rng),
    }
    for name, step in steps.items():
        if name not in args.skip:
            print(f"building {name} ...", flush=True)
            step()
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    print(f"{len(manifest)} files in {out}")


if __name__ == "__main__":
    main()
