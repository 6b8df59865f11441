"""Poster test helpers: look at a PDF the way a printer, a scanner and a reader would.

Pages are rasterized with poppler's pdftoppm and decoded with zxing-cpp; text comes from
pdftotext; page boxes from pdfinfo. The content streams are read with zlib alone.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from click.testing import Result
from flask.testing import FlaskCliRunner
from PIL import Image
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import PUBLIC_URL
from tipline.cli import main
from tipline.locations.models import Placement

MM = 72 / 25.4
SAFE = 5 * MM
SIZES = ("letter", "a4", "tabloid", "sticker")
PAGE_SIZES = {  # points, trimmed
    "letter": (612.0, 792.0),
    "a4": (595.28, 841.89),
    "tabloid": (792.0, 1224.0),
    "sticker": (288.0, 432.0),
}
LONG_NAME = "Ny Moynihan Train Hall At Penn Station"
# A long spot, yet one a person would write; the 200-character limit is tested on its own.
LONG_SPOT = "All-gender restroom beside the LIRR ticket windows, west end of the lower concourse"


def qr_url(code: str) -> str:
    """The URL a poster's QR must encode in the tests' app."""
    return f"{PUBLIC_URL}/T/{code}".upper()


def short_url(code: str) -> str:
    """The URL a poster prints in words in the tests' app."""
    return f"{PUBLIC_URL.split('://', 1)[1]}/t/{code}"


def rasterize(pdf: bytes, dpi: int, *, page: int | None = None) -> list[Image.Image]:
    """Every page (or page number `page`) as a grey image, as a phone camera would see it."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        only = ["-f", str(page), "-l", str(page)] if page else []
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", *only, str(source), f"{folder}/p"],
            check=True,
        )
        pages = sorted(Path(folder).glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))
        images = []
        for page in pages:
            with Image.open(page) as image:
                images.append(image.copy())
        return images


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    """Every QR code zxing-cpp finds on a page."""
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text layer as pdftotext extracts it (what a search or a screen reader gets)."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    pages = result.stdout.decode().split("\f")
    return [" ".join(page.split()) for page in pages[:-1]]


@dataclass(frozen=True)
class Word:
    text: str
    x_min: float
    y_min: float  # from the top of the page, as pdftotext gives it
    x_max: float
    y_max: float


def page_words(pdf: bytes) -> list[list[Word]]:
    """Each page's words with their boxes in points."""
    result = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    pages = result.stdout.decode().split("<page ")[1:]
    words = re.compile(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    )
    return [
        [Word(m[4], float(m[0]), float(m[1]), float(m[2]), float(m[3])) for m in words.findall(p)]
        for p in pages
    ]


def page_boxes(pdf: bytes) -> list[dict[str, tuple[float, ...]]]:
    """Each page's MediaBox, TrimBox and BleedBox as pdfinfo reports them."""
    result = subprocess.run(
        ["pdfinfo", "-box", "-f", "1", "-l", "100000", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    boxes: dict[int, dict[str, tuple[float, ...]]] = {}
    for number, name, values in re.findall(
        r"Page\s+(\d+) (\w+Box):\s+([\d. ]+)", result.stdout.decode()
    ):
        boxes.setdefault(int(number), {})[name] = tuple(float(v) for v in values.split())
    return [boxes[n] for n in sorted(boxes)]


def content_streams(pdf: bytes) -> list[str]:
    """Each page's content stream, inflated, in page order."""
    objects = {int(m[1]): m for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)endobj", pdf, re.DOTALL)}
    streams = []
    for page in re.finditer(rb"/Contents (\d+) 0 R", pdf):
        body = objects[int(page[1])][2]
        head, _, rest = body.partition(b"stream")
        length = int(re.search(rb"/Length (\d+)", head)[1])  # type: ignore[index]
        data = rest.lstrip(b"\r\n")[:length]
        streams.append(zlib.decompress(data).decode("latin-1"))
    return streams


def outline(pdf: bytes) -> list[tuple[int, str]]:
    """The PDF outline (bookmarks) as (level, title), in document order."""
    entries = {}
    for m in re.finditer(rb"(\d+) 0 obj\s*<<(.*?)>>\s*endobj", pdf, re.DOTALL):
        body = m[2]
        title = re.search(rb"/Title (\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]+>)", body)
        if title is None or b"/Producer" in body:
            continue
        parent = re.search(rb"/Parent (\d+) 0 R", body)
        entries[int(m[1])] = (_pdf_string(title[1]), int(parent[1]) if parent else None)
    roots = {p for _, p in entries.values() if p is not None and p not in entries}
    order = []
    for number in sorted(entries):
        title, parent = entries[number]
        order.append((0 if parent in roots else 1, title))
    return order


# PDFDocEncoding, where it differs from Latin-1 (PDF 1.7, annex D).
_PDF_DOC = {
    **dict(zip(range(0x80, 0x9F), "•†‡…—–ƒ⁄‹›−‰„“”‘’‚™ﬁﬂŁŒŠŸŽıłœšž", strict=True)),
    0xA0: "€",
}


def _pdf_string(raw: bytes) -> str:
    if raw.startswith(b"<"):
        return bytes.fromhex(raw[1:-1].decode()).decode("utf-16")
    body = raw[1:-1]
    body = re.sub(rb"\\([0-7]{1,3})", lambda m: bytes([int(m[1], 8)]), body)
    body = re.sub(rb"\\(.)", rb"\1", body)
    return "".join(_PDF_DOC.get(byte, chr(byte)) for byte in body)


@dataclass
class Network:
    """A small network with the awkward cases: a long name, an accented one, a train."""

    nyp: list[Placement]
    moynihan: Placement
    montreal: Placement
    train66: list[Placement]

    @property
    def all(self) -> list[Placement]:
        """Every active placement in the order --all prints them: stations by name, then trains,
        each by spot."""
        return [self.montreal, *self.nyp, self.moynihan, *self.train66]


@pytest.fixture
def network(session: Session) -> Network:
    """Stations NYP, a long-named one and an accented one, train 66; placements, committed."""
    nyp = factories.station(session)
    moynihan = factories.station(session, code="NYM", name=LONG_NAME)
    montreal = factories.station(
        session,
        code="MTRL",
        name="Montréal Gare Centrale — Salle des Pas Perdus, Québec",
        lat=45.5,
        lon=-73.566,
        state="QC",
        tz="America/Toronto",
    )
    nwk = factories.station(session, **factories.NWK)
    train = factories.train(session, stops=[(nyp, None, 3600), (nwk, 4500, None)])
    network = Network(
        nyp=[
            factories.placement(session, station=nyp, spot="Men's restroom, concourse B"),
            factories.placement(
                session, station=nyp, spot="Women's restroom, concourse A", lang="es"
            ),
        ],
        moynihan=factories.placement(session, station=moynihan, spot=LONG_SPOT),
        montreal=factories.placement(
            session,
            station=montreal,
            spot="Toilettes près de l’entrée côté rue Mansfield",
            lang="fr",
        ),
        train66=[
            factories.placement(session, train=train, spot="Café car, by the counter", lang="es"),
            factories.placement(session, train=train, spot="Car 3 vestibule"),
        ],
    )
    retired = factories.placement(session, station=nyp, spot="Old poster by gate 5")
    retired.active = False
    session.commit()
    return network


@pytest.fixture
def posters_cli(runner: FlaskCliRunner) -> Callable[..., Result]:
    """Run `tipline posters ...` on the test app."""

    def run(*args: str) -> Result:
        return runner.invoke(main, ["posters", *args])

    return run
