"""Time `tipline posters --all` on the Amtrak network against a bare reportlab QR page.

    .venv/bin/python bench/posters.py [--feed DIR] [--sizes letter,a4,tabloid,sticker]
                                      [--decode] [--keep DIR]

Imports the feed into a fresh SQLite database, adds one placement per station, then for each
size runs the real command in a subprocess (wall time, start-up included) and the same pipeline
in process (select_items + render_posters). The reference draws the same QR matrices as vector
paths on otherwise empty pages with reportlab; the ratio is pipeline time per page over
reference time per page. --decode rasterizes the letter PDF at 100 dpi and scans every page.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_Q
from reportlab.pdfgen.canvas import Canvas

from tipline import create_app
from tipline.db import Database, session_scope, utcnow
from tipline.locations.gtfs import import_feed
from tipline.locations.services import add_station_placements
from tipline.migrate import upgrade
from tipline.posters.layouts import get_layout
from tipline.posters.qr import qr_rows
from tipline.posters.render import PosterItem, render_posters
from tipline.posters.services import select_items

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT.parent / "shared" / "data" / "amtrak-gtfs"
PUBLIC_URL = "https://tips.example.org"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path, default=FEED)
    parser.add_argument("--sizes", default="letter,a4,tabloid,sticker")
    parser.add_argument("--decode", action="store_true", help="scan the letter PDF at 100 dpi")
    parser.add_argument("--keep", type=Path, help="write the PDFs here instead of a temp dir")
    args = parser.parse_args()
    if not args.feed.is_dir():
        sys.exit(f"feed not found: {args.feed}")

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{scratch}/bench.db"
        app = create_app(
            {"DATABASE_URL": database, "INSTANCE_PATH": scratch, "PUBLIC_URL": PUBLIC_URL}
        )
        upgrade(app)
        started = time.perf_counter()
        with session_scope(app) as session:
            report = import_feed(session, args.feed, feed="amtrak", now=utcnow())
            made, _ = add_station_placements(session, spot="Restroom", now=utcnow())
        print(
            f"imported {report.feed}: {report.stations} stations, {report.trains} trains; "
            f"{len(made)} placements, one per station ({time.perf_counter() - started:.1f} s)"
        )
        env = {
            **os.environ,
            "TIPLINE_DATABASE_URL": database,
            "TIPLINE_INSTANCE_PATH": scratch,
            "TIPLINE_PUBLIC_URL": PUBLIC_URL,
        }
        tipline = Path(sys.executable).with_name("tipline")
        print(
            "ref: the qrcode matrix as merged vector paths on an empty reportlab page; "
            "ref*: the same with this package's faster mask choice (same matrix)"
        )
        header = (
            f"{'size':8} {'pages':>5} {'cli s':>6} {'posters/s':>9} {'ms/page':>7} "
            f"{'ref ms':>6} {'ratio':>5} {'ref* ms':>7} {'ratio*':>6} "
            f"{'B/page':>7} {'B/page-fonts':>12} {'total KB':>8}"
        )
        print(header)
        for size in args.sizes.split(","):
            out = folder / f"network-{size}.pdf"
            started = time.perf_counter()
            subprocess.run(
                [str(tipline), "posters", "--all", "--size", size, "-o", str(out)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            cli = time.perf_counter() - started
            pdf = out.read_bytes()
            layout = get_layout(size)
            with app.app_context(), session_scope(app) as session:
                started = time.perf_counter()
                items = select_items(session, public_url=PUBLIC_URL, all_=True)
                render_posters(layout, items)
                pipeline = (time.perf_counter() - started) / len(items)
            page = (layout.width, layout.height, layout.qr_width, items)
            stock = _reference(*page, _stock_matrix)
            same = _reference(*page, _our_matrix)
            fonts = _font_bytes(pdf)
            print(
                f"{size:8} {len(items):5} {cli:6.2f} {len(items) / cli:9.0f} "
                f"{pipeline * 1000:7.2f} {stock * 1000:6.2f} {pipeline / stock:5.2f} "
                f"{same * 1000:7.2f} {pipeline / same:6.2f} "
                f"{len(pdf) / len(items):7.0f} {(len(pdf) - fonts) / len(items):12.0f} "
                f"{len(pdf) / 1024:8.0f}"
            )
            if args.decode and size == "letter":
                _decode(out, [i.url for i in items])
        Database.engine(app).dispose()


def _stock_matrix(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.modules]


def _our_matrix(data: str) -> list[list[bool]]:
    return [[module == "1" for module in row] for row in qr_rows(data)]


def _reference(
    width: float,
    height: float,
    qr: float,
    items: list[PosterItem],
    matrix_of: Callable[[str], list[list[bool]]],
) -> float:
    """Seconds per page for the same QR matrices as vector paths on empty reportlab pages."""
    started = time.perf_counter()
    canvas = Canvas(io.BytesIO(), pagesize=(width, height), pageCompression=1)
    for item in items:
        matrix = matrix_of(item.url)
        module = qr / len(matrix)
        path = canvas.beginPath()
        for y, row in enumerate(matrix):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    path.rect(start * module, height / 2 - y * module, (x - start) * module, module)
                x += 1
        canvas.setFillColorCMYK(0, 0, 0, 1)
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.showPage()
    canvas.save()
    return (time.perf_counter() - started) / len(items)


def _font_bytes(pdf: bytes) -> int:
    """Bytes of the objects that make up the embedded fonts (files, descriptors, maps, dicts)."""
    objects = {int(m[1]): m for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", pdf, re.DOTALL)}
    referenced = {
        int(n) for n in re.findall(rb"/(?:FontFile2|ToUnicode|FontDescriptor) (\d+) 0 R", pdf)
    }
    return sum(
        len(m[0])
        for number, m in objects.items()
        if number in referenced or b"/Type /Font" in m[2][:400]
    )


def _decode(pdf: Path, urls: list[str]) -> None:
    import zxingcpp
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run(
            ["pdftoppm", "-r", "100", "-gray", "-png", str(pdf), f"{folder}/p"], check=True
        )
        pages = sorted(Path(folder).glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))
        good = 0
        for page, url in zip(pages, urls, strict=True):
            with Image.open(page) as image:
                found = [b.text for b in zxingcpp.read_barcodes(image)]
            good += found == [url]
        print(
            f"  decoded {good}/{len(urls)} letter pages at 100 dpi to their own URL "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
