"""Follow-up fixtures: the staff desk's (signed-in clients, a fixed clock) and photos."""

from __future__ import annotations

import io

from PIL import Image

from tests.intake.conftest import posters  # noqa: F401  (fixtures)
from tests.triage.conftest import clock, login, staff  # noqa: F401

GPS_LATITUDE = (40.0, 44.0, 54.36)


def phone_jpeg(size: tuple[int, int] = (3000, 2000), *, quality: int = 90) -> bytes:
    """A JPEG as a phone writes it: EXIF with the camera, the time and GPS, and a comment."""
    image = Image.effect_noise(size, 60).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerCo"  # Make
    exif[0x0110] = "Model-Secret-9"  # Model
    exif[0x0132] = "2026:12:06 08:15:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "W"
    gps[4] = (73.0, 59.0, 8.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes(), comment=b"MyHomeStreet 12")
    return out.getvalue()
