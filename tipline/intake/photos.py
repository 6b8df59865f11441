"""Photos a traveler sends: opened under a decompression-bomb limit, re-encoded without any
metadata, then handed over to be sealed and stored.

Nothing of the original file is kept: its pixels are drawn into a fresh image (at most
MAX_SIDE pixels on its longer side, turned upright by its EXIF orientation first) and saved as a
new JPEG (or PNG for images with transparency). EXIF, GPS, XMP, ICC profiles, comments and
embedded thumbnails stay behind with the original bytes.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

try:  # HEIC (iPhone photos), when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - the dependency is declared; a slim install may lack it
    HEIC = False

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 3
MAX_SIDE = 2048
# Pillow refuses (DecompressionBombError) anything over twice this many pixels and warns over
# it: a 50-megapixel phone photo passes, a 30 kB PNG claiming 100 000 x 100 000 does not.
MAX_PIXELS = 64_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
JPEG_QUALITY = 85


class NotAPhoto(ValueError):
    """The upload is not an image we take (or is too large, or a decompression bomb)."""


@dataclass(frozen=True)
class Photo:
    """A cleaned photo: new bytes, no metadata."""

    data: bytes
    content_type: str
    width: int
    height: int


def clean_photo(raw: bytes) -> Photo:
    """Open `raw`, check it is a photo we take, and return it re-encoded without metadata."""
    if len(raw) > MAX_BYTES:
        raise NotAPhoto("larger than 10 MB")
    if not raw:
        raise NotAPhoto("empty")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAPhoto("not an image we take") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise NotAPhoto(f"unreadable image ({type(exc).__name__})") from None
    return _reencode(upright)


def chosen(files: Sequence[FileStorage]) -> list[FileStorage]:
    """The file inputs that carry a file (an empty input sends one with no name)."""
    return [f for f in files if f and f.filename]


def beyond_limit(files: Sequence[FileStorage]) -> int:
    """How many of the chosen `files` come after the first MAX_PHOTOS (never read)."""
    return max(0, len(chosen(files)) - MAX_PHOTOS)


def read_uploads(files: Sequence[FileStorage]) -> tuple[list[Photo], int]:
    """The cleaned photos among the uploaded `files` (at most MAX_PHOTOS, empty file inputs
    ignored) and how many were refused."""
    cleaned: list[Photo] = []
    refused = 0
    for upload in chosen(files)[:MAX_PHOTOS]:
        try:
            cleaned.append(clean_photo(upload.stream.read(MAX_BYTES + 1)))
        except NotAPhoto:
            refused += 1
    return cleaned, refused


def _reencode(image: Image.Image) -> Photo:
    transparent = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    fresh = image.convert("RGBA" if transparent else "RGB")
    fresh.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: no info dict, no EXIF, no ICC profile to carry over.
    bare = Image.new(fresh.mode, fresh.size)
    bare.paste(fresh)
    out = io.BytesIO()
    if transparent:
        bare.save(out, "PNG", optimize=False)
        kind = "image/png"
    else:
        bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
        kind = "image/jpeg"
    return Photo(out.getvalue(), kind, bare.width, bare.height)
