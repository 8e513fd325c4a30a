"""Images: size, EXIF (date, camera, GPS), OCR text and a thumbnail."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ingest.analysis import detect_language
from ingest.readers.context import ReadContext, sha256_bytes, write_atomic
from ingest.readers.ocr import ocr_image
from ingest.types import ImageInfo, IngestError, Item, Modality, ParsedDocument

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".bmp"})
_EXIF_KEEP = (
    "Make",
    "Model",
    "LensModel",
    "DateTimeOriginal",
    "DateTime",
    "Orientation",
    "ExposureTime",
    "FNumber",
    "ISOSpeedRatings",
    "FocalLength",
    "Software",
)


def pixel_problem(width: int, height: int, max_pixels: int, what: str) -> str | None:
    """Why an image of this size is not decoded, or None (see ingest.max_image_pixels)."""
    if width * height <= max_pixels:
        return None
    return (
        f"{what} is {width}x{height} pixels ({width * height / 1e6:.0f} MP), over the pixel "
        f"budget of {max_pixels / 1e6:.0f} MP (ingest.max_image_pixels)"
    )


def open_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Decode the first frame, refusing more than ``max_pixels`` from the header alone (Pillow's
    own limit is raised for the whole process by unstructured's PDF module)."""
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
        problem = pixel_problem(img.width, img.height, max_pixels, name)
        if problem:
            raise IngestError(f"{problem}: not decoded")
        img.seek(0)  # GIF/TIFF: the first frame
        img.load()
    except Image.DecompressionBombError as exc:  # Pillow's check, which read_file sets too
        raise IngestError(
            f"{name}: over the pixel budget of {max_pixels / 1e6:.0f} MP "
            f"(ingest.max_image_pixels): not decoded ({exc})"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise IngestError(f"not a readable image: {name} ({exc})") from exc
    return img


def parse_image(path: Path, ctx: ReadContext) -> ParsedDocument:
    """A standalone image file: one IMAGE item pointing at the file itself."""
    data = path.read_bytes()
    item = describe_image(data, ctx, name=path.name, asset_path=path)
    return ParsedDocument(
        kind="image",
        items=[item],
        title=path.stem,
        language=item.language,
        metadata={"width": item.image.width, "height": item.image.height} if item.image else {},
    )


def describe_image(
    data: bytes,
    ctx: ReadContext,
    *,
    name: str,
    asset_path: Path | None = None,
    page: int | None = None,
    section: str | None = None,
) -> Item:
    """Build the IMAGE item for image bytes; extracted images are saved into the store."""
    img = open_image(data, name, ctx.settings.max_image_pixels)
    sha = sha256_bytes(data)
    fmt = (img.format or "PNG").upper()
    if asset_path is None:  # bytes extracted from a document: keep a content-addressed copy
        ext = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}.get(fmt)
        if ext is None:  # unusual formats (JPX, TIFF, CMYK...) are stored as PNG
            buf = io.BytesIO()
            img.convert("RGBA" if "A" in img.getbands() else "RGB").save(buf, "PNG")
            data, ext = buf.getvalue(), ".png"
        asset_path = write_atomic(ctx.assets_dir / f"{sha[:2]}/{sha}{ext}", data)
    exif = _exif(img)
    upright = ImageOps.exif_transpose(img)
    text = ""
    if ctx.settings.ocr:
        text = ocr_image(upright, ctx.settings.ocr_languages, ctx.settings.ocr_timeout_s)
    info = ImageInfo(
        asset_path=asset_path,
        width=img.width,
        height=img.height,
        format=fmt,
        sha256=sha,
        thumbnail_path=_thumbnail(upright, sha, ctx),
        taken_at=exif.pop("_taken_at", None),
        camera=exif.pop("_camera", None),
        gps=exif.pop("_gps", None),
        exif=exif,
    )
    return Item(
        modality=Modality.IMAGE,
        text=text,
        page=page,
        page_end=page,
        section=section,
        element_types=["Image"],
        language=detect_language(text) if text else None,
        image=info,
    )


def _thumbnail(img: Image.Image, sha: str, ctx: ReadContext) -> Path:
    path = ctx.thumbnails_dir / f"{sha[:2]}/{sha}.webp"
    if not path.exists():
        thumb = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        thumb.thumbnail((ctx.settings.thumbnail_px, ctx.settings.thumbnail_px))
        buf = io.BytesIO()
        thumb.save(buf, "WEBP", quality=80)
        write_atomic(path, buf.getvalue())
    return path


def _exif(img: Image.Image) -> dict[str, Any]:
    try:
        raw = img.getexif()
    except Exception:  # noqa: BLE001 - broken EXIF must not lose the image
        return {}
    tags: dict[str, Any] = {}
    merged = dict(raw.items())
    merged.update(raw.get_ifd(ExifTags.IFD.Exif).items())
    for key, value in merged.items():
        name = ExifTags.TAGS.get(key)
        if name in _EXIF_KEEP:
            tags[name] = _jsonable(value)
    out: dict[str, Any] = {"tags": tags} if tags else {}
    stamp = tags.get("DateTimeOriginal") or tags.get("DateTime")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            taken = datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
            out["_taken_at"] = taken.isoformat()
    camera = _camera(*(str(tags.get(k) or "").strip("\x00 ") for k in ("Make", "Model")))
    if camera:
        out["_camera"] = camera
    gps = _gps(raw.get_ifd(ExifTags.IFD.GPSInfo))
    if gps:
        out["_gps"] = gps
    return out


def _camera(make: str, model: str) -> str:
    """The camera's name with its maker once: "Canon EOS R6", "NIKON D750", "Apple iPhone 12"
    (many models repeat the make: "Canon" / "Canon EOS R6", "NIKON CORPORATION" / "NIKON D750")."""
    if make and model and model.split()[0].casefold() == make.split()[0].casefold():
        return model
    return " ".join(part for part in (make, model) if part)


def _gps(gps: dict[int, Any]) -> tuple[float, float] | None:
    try:
        lat = _degrees(gps[2], gps[1])
        lon = _degrees(gps[4], gps[3])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return (round(lat, 6), round(lon, 6))


def _degrees(dms: Any, ref: str) -> float:
    d, m, s = (float(x) for x in dms)
    value = d + m / 60 + s / 3600
    return -value if str(ref).upper().startswith(("S", "W")) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ")
    if isinstance(value, (int, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
