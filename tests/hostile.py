"""A hostile folder: everything an ingest meets on real disks and must survive in one run.

``build(base)`` writes ``base/hostile`` (the folder to ingest) and ``base/outside`` (what links
lead out to) and returns a :class:`Hostile` saying what each entry is: good files, each with a
made-up word only it contains (to search for), and bad entries, each with a fragment of the
reason the report must give.

Unreadable entries are ``chmod 000``: that stops every user but root. Run as root, a test
simulates them instead (``Hostile.unreadable_*``: patch ``open`` / ``os.scandir`` for those
paths), since root reads through any permission bits.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from tests import corpus

SHIFT_JIS_NAME = "会議メモ.md".encode("cp932")  # a name from an old Japanese Windows disk
SHIFT_JIS_FOLDER = "資料".encode("cp932")
LATIN1_NAME = "café.txt".encode("latin-1")  # not UTF-8 either


@dataclass(slots=True)
class Hostile:
    root: Path
    outside: Path
    good: dict[Path, str] = field(default_factory=dict)  # file -> a word only it contains
    also_good: dict[Path, str] = field(default_factory=dict)  # ingested, not its own document
    bad: dict[Path, str] = field(default_factory=dict)  # entry -> fragment of its reason
    warned: dict[Path, str] = field(default_factory=dict)  # good file -> fragment of a warning
    unreadable_files: list[Path] = field(default_factory=list)
    unreadable_folders: list[Path] = field(default_factory=list)
    outside_word: str = "exfiltratum"


def _bytes_path(folder: Path, name: bytes) -> Path:
    """A path whose last part is ``name``, bytes that need not be UTF-8."""
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))


def png_bomb(side: int) -> bytes:
    """A greyscale PNG of ``side`` x ``side`` zeros, compressed row by row (small on disk,
    ``side``² bytes once decoded; never held in memory here)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    z = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def image_bomb(path: Path, side: int, fmt: str) -> Path:
    """A TIFF (deflate) or JPEG of ``side``² black pixels: KB to MB on disk."""
    img = Image.new("L", (side, side))
    if fmt == "TIFF":
        img.save(path, "TIFF", compression="tiff_adobe_deflate")
    else:
        img.save(path, fmt, quality=10)
    return path


def docx_with_bomb(path: Path, side: int, text: str) -> Path:
    """A Word file with ``text`` and one picture whose bytes are a PNG bomb."""
    small = Image.new("RGB", (64, 64), "red")
    corpus.docx(path, [text, ("image", small)])
    bomb = png_bomb(side)
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            dst.writestr(info, bomb if info.filename.startswith("word/media/") else data)
    return path


def pdf_with_bomb(path: Path, side: int, text: str) -> Path:
    """A text PDF whose one picture is a ``side``² greyscale image (Flate, tiny on disk)."""
    import pikepdf

    corpus.text_pdf(path, [text], images={0: Image.new("RGB", (64, 64), "blue")})
    z = zlib.compressobj(9)
    row = bytes(side)
    data = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for image in pdf.pages[0].get_images().values():
            image.write(data, filter=pikepdf.Name.FlateDecode)
            image.Width, image.Height = side, side
            image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
            for key in ("/SMask", "/DecodeParms"):
                if key in image:
                    del image[key]
        pdf.save(path)
    return path


def huge_page_pdf(path: Path, points: float = 14400) -> Path:
    """One blank page of ``points``² (200 inches a side at most): a 300 dpi render for OCR
    would be 60000² pixels."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(points, points))
    pdf.save(path)
    return path


def owner_locked_pdf(path: Path, text: str) -> Path:
    """A PDF anyone can open (empty user password) with an owner password and ``/P 0`` (no
    permissions): pdfminer fails on it, pypdfium2 reads it. A ruled table makes pdfplumber
    (pdfminer) look at it too."""
    from pypdf import PdfReader, PdfWriter

    plain = corpus.text_pdf(
        path.with_suffix(".plain.pdf"), [text], tables={0: [["year", "units"], ["2025", "12"]]}
    )
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(
        user_password="", owner_password="owner", permissions_flag=0, algorithm="RC4-128"
    )
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def deep_html(path: Path, text: str, depth: int = 100_000) -> Path:
    path.write_text(
        f"<html><body>{'<div>' * depth}<p>{text}</p>{'</div>' * depth}</body></html>",
        encoding="utf-8",
    )
    return path


def build(base: Path, *, bomb_side: int = 12_000, max_file_mb: float = 512) -> Hostile:
    """Write the hostile folder under ``base``; bombs are ``bomb_side``² pixels (keep them over
    ``ingest.max_image_pixels``); the sparse file is just over ``max_file_mb``."""
    root, outside = base / "hostile", base / "outside"
    root.mkdir(parents=True)
    outside.mkdir()
    h = Hostile(root, outside)
    secret = outside / "secret.txt"
    secret.write_text(f"The {h.outside_word} password list must never be ingested.\n")

    def good(path: Path, word: str) -> Path:
        h.good[path] = word
        return path

    # -- good files, one made-up word each
    corpus.markdown(
        good(root / "plain.md", "aardvarkite"), [("h1", "Plain"), "The aardvarkite ledger."]
    )
    _bytes_path(root, SHIFT_JIS_NAME).write_text(
        "# 会議\n\nThe quokkaberry committee meets on Friday.\n", encoding="utf-8"
    )
    good(_bytes_path(root, SHIFT_JIS_NAME), "quokkaberry")
    _bytes_path(root, LATIN1_NAME).write_text("The zephyrine espresso machine is broken.\n")
    good(_bytes_path(root, LATIN1_NAME), "zephyrine")
    folder = _bytes_path(root, SHIFT_JIS_FOLDER)
    folder.mkdir()
    (folder / "notes.txt").write_text("The marmosetine inventory is due next week.\n")
    good(folder / "notes.txt", "marmosetine")
    deep_html(good(root / "nested.html", "walrusine"), "A walrusine colony lives here.")
    owner_locked_pdf(
        good(root / "owner-locked.pdf", "pangolinite"), "The pangolinite report, owner locked."
    )
    docx_with_bomb(good(root / "bomb-inside.docx", "narwhalite"), bomb_side, "The narwhalite memo.")
    pdf_with_bomb(good(root / "bomb-inside.pdf", "ocelotine"), bomb_side, "The ocelotine brief.")
    h.warned[root / "bomb-inside.docx"] = "pixel budget"
    h.warned[root / "bomb-inside.pdf"] = "pixel budget"
    (root / "link-inside.md").symlink_to("plain.md")  # inside the root: followed
    h.also_good[root / "link-inside.md"] = "aardvarkite"

    # -- bad entries, each with (a fragment of) its reason
    (root / "bomb.png").write_bytes(png_bomb(bomb_side))
    h.bad[root / "bomb.png"] = "pixel budget"
    h.bad[image_bomb(root / "bomb.tif", bomb_side, "TIFF")] = "pixel budget"
    h.bad[image_bomb(root / "bomb.jpg", bomb_side, "JPEG")] = "pixel budget"
    h.bad[huge_page_pdf(root / "huge-page.pdf")] = "pixel budget"
    h.bad[corpus.encrypted_pdf(root / "encrypted.pdf")] = "password"
    h.bad[corpus.corrupt_pdf(root / "corrupt.pdf")] = "PDF"
    h.bad[corpus.empty_file(root / "empty.txt")] = "empty"
    huge = root / "huge-sparse.txt"
    with huge.open("wb") as f:
        f.truncate(int((max_file_mb + 1) * 2**20))  # sparse: no disk space used
    h.bad[huge] = "over the limit"
    links = {
        "link-out.txt": (secret, "outside the ingested folders"),
        "link-out-dir": (outside, "outside the ingested folders"),
        "dangling.md": (root / "no-such-file.md", "broken symbolic link"),
        "loop-a": (root / "loop-b", "link loop"),
        "loop-b": (root / "loop-a", "link loop"),
        "up": (root, "a folder read there"),
    }
    for name, (target, reason) in links.items():
        (root / name).symlink_to(target)
        h.bad[root / name] = reason
    os.mkfifo(root / "pipe.txt")
    h.bad[root / "pipe.txt"] = "named pipe"
    sock_path = root / "socket"
    if len(os.fsencode(sock_path)) < 100:  # AF_UNIX path length limit
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(sock_path))
        h.bad[sock_path] = "a socket"
    try:  # root in a container usually may; else there is no device file in the fixture
        os.mknod(root / "null-device", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        h.bad[root / "null-device"] = "character device"
    except (PermissionError, OSError):
        pass
    locked = root / "locked.md"
    locked.write_text("The lockedine file cannot be read.\n")
    locked.chmod(0)
    h.bad[locked] = "Permission denied"
    h.unreadable_files.append(locked)
    locked_dir = root / "locked-folder"
    locked_dir.mkdir()
    (locked_dir / "inside.md").write_text("The lockedfolderine note.\n")
    locked_dir.chmod(0)
    h.bad[locked_dir] = "cannot read folder"
    h.unreadable_folders.append(locked_dir)
    return h


def restore_permissions(h: Hostile) -> None:
    """Let the test's tmp_path clean-up delete the locked entries again."""
    for path in [*h.unreadable_files, *h.unreadable_folders]:
        path.chmod(0o700)
