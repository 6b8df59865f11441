"""A tip carrying one 4 MB phone photo, end to end under gunicorn.

    .venv/bin/python bench/photos.py [--requests 40] [--concurrency 1 2] [--workers 2]
                                     [--megabytes 4] [--database-url postgresql://.../EMPTY_DB]

The photo is made here with Pillow (nothing is downloaded): 4000 x 3000 pixels, smooth colour
fields under sensor-like noise, saved as a JPEG at the quality that brings it closest to
--megabytes, with the EXIF a phone writes (make, model, time, orientation, GPS). Tipline runs
under gunicorn (sync workers, 127.0.0.1) on a fresh SQLite database in a temporary folder, or on
the empty PostgreSQL database --database-url names (its tables stay: drop it afterwards), with
the tip limits off and sealing as in production (the keyring generated into its instance folder).

For each --concurrency, --requests multipart POSTs of the form with the photo (each with its own
token), then as many without one, from that many client threads. Printed: p50, p99 and max in
ms of each (inclusive quantiles: with 40 requests, p99 lies between the two slowest), tips and
photos stored against 2xx answers, and one stored photo opened with the keyring: its size and
that no EXIF came through. Then the same photo's steps in this process, one at a time:
Pillow's clean_photo (open, re-encode at most 2048 px) and sealing its result, to show where
the time goes.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from PIL import Image  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.intake import SECRET, TIP, Result, gunicorn, load, prepare_tipline  # noqa: E402
from tipline.db import make_engine  # noqa: E402

SIZE = (4000, 3000)


def phone_jpeg(megabytes: float, seed: int = 8) -> bytes:
    """A 4000 x 3000 JPEG of about `megabytes` MB with a phone's EXIF, GPS included."""
    rng = random.Random(seed)
    # Smooth colour fields (a photo's sky, walls, people), then grain on each channel.
    small = Image.new("RGB", (8, 6))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(8 * 6)])
    fields = small.resize(SIZE, Image.Resampling.BICUBIC)
    grain = Image.merge("RGB", [Image.effect_noise(SIZE, 40 + 10 * i) for i in range(3)])
    image = Image.blend(fields, grain, 0.35)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerCo"  # Make
    exif[0x0110] = "Model-Secret-9"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0132] = "2026:12:06 08:15:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (40.0, 44.0, 54.36)
    gps[3], gps[4] = "W", (73.0, 59.0, 8.0)
    target = megabytes * 1_000_000
    low, high, best = 30, 98, b""
    while low <= high:  # the quality whose file is closest to the target, by bisection
        quality = (low + high) // 2
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
        data = out.getvalue()
        if not best or abs(len(data) - target) < abs(len(best) - target):
            best = data
        if len(data) < target:
            low = quality + 1
        else:
            high = quality - 1
    return best


BOUNDARY = f"----tipline-bench-{os.urandom(8).hex()}"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str | list[str]], photo: bytes | None) -> bytes:
    """A multipart/form-data body (content type MULTIPART) as a phone's browser sends it."""
    boundary = BOUNDARY
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{item}\r\n".encode()
            )
    if photo is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
            f'filename="IMG_20261206_081500.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + photo
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def timed(step: Callable[[], object], times: int) -> float:
    """The median of `times` runs of `step`, in ms."""
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        step()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


def stored(url: str, instance: Path) -> tuple[int, int, str]:
    """Tips and photos stored, and what one photo is once opened with the app's keyring."""
    from tipline.sealing.keyring import load as load_keyring

    ring = load_keyring(os.environ.get("TIPLINE_DATA_KEY"), instance)
    engine = make_engine(url)
    with engine.connect() as conn:
        tips = int(conn.scalar(text("SELECT count(*) FROM tip")) or 0)
        photos = int(conn.scalar(text("SELECT count(*) FROM tip_photo")) or 0)
        raw = conn.scalar(text("SELECT data FROM tip_photo ORDER BY id DESC LIMIT 1"))
    engine.dispose()
    if raw is None:
        return tips, photos, "no photo stored"
    sealed = bytes(raw)
    opened = ring.open_bytes(sealed, "tip_photo.data")
    image = Image.open(io.BytesIO(opened))
    exif = "no EXIF" if not image.getexif() else "EXIF KEPT"
    return (
        tips,
        photos,
        (
            f"{image.format} {image.width}x{image.height}, {len(opened) / 1e6:.2f} MB, {exif}; "
            f"{'camera text FOUND' if b'PhoneMakerCo' in opened else 'no camera text'}; "
            f"sealed under {ring.key_of(sealed)}"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()

    from tipline.intake import photos, tokens
    from tipline.sealing.keyring import Keyring

    started = time.perf_counter()
    photo = phone_jpeg(args.megabytes)
    made = time.perf_counter() - started
    with Image.open(io.BytesIO(photo)) as image:
        gps = dict(image.getexif().get_ifd(0x8825))
        described = f"{image.width}x{image.height} JPEG, {len(photo) / 1e6:.2f} MB"
    print(f"photo: {described}, EXIF with GPS {gps.get(2)} {gps.get(1)} (made in {made:.1f} s)")

    rows: list[tuple[str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="tipline-bench-photos-") as tmp:
        env, code = prepare_tipline(Path(tmp), None, args.database_url)
        fields = {k: v for k, v in TIP.items() if k != "details"}
        fields["details"] = "The van in the photo; its plate is on the back."

        def post(with_photo: bool) -> Callable[[], tuple[str, str, bytes | None]]:
            def request_for() -> tuple[str, str, bytes | None]:
                token = tokens.mint(SECRET)
                body = multipart({**fields, "token": token}, photo if with_photo else None)
                return "POST", f"/T/{code}", body

            return request_for

        with gunicorn("tipline:create_app()", env, args.workers, f"/T/{code}") as port:
            for concurrency in args.concurrency:
                for label, with_photo in (("with a photo", True), ("without", False)):
                    result = load(
                        port,
                        post(with_photo),
                        0,
                        concurrency,
                        requests=args.requests,
                        content_type=MULTIPART,
                    )
                    rows.append((f"{concurrency} client(s), tip {label}", result))
        tips, stored_photos, one = stored(
            env["TIPLINE_DATABASE_URL"], Path(env["TIPLINE_INSTANCE_PATH"])
        )

    database = "PostgreSQL" if args.database_url else "SQLite WAL + synchronous=FULL"
    print(
        f"\n{args.workers} gunicorn sync workers, {database}, {os.cpu_count()} CPUs, "
        f"tip limits off, sealing on; {args.requests} multipart POSTs per row\n"
    )
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>8}{'non-2xx':>9}")
    for name, r in rows:
        # Inclusive: with few samples p99 lies between the two slowest, never beyond the max.
        cuts = statistics.quantiles(r.latencies, n=100, method="inclusive")
        p50, p99, slowest = cuts[49] * 1000, cuts[98] * 1000, max(r.latencies) * 1000
        print(f"{name:34}{p50:9.0f}{p99:9.0f}{slowest:9.0f}{r.rate:8.1f}{r.failures:9d}")
    ok = sum(len(r.latencies) for _, r in rows)
    with_photo = sum(len(r.latencies) for name, r in rows if "with a photo" in name)
    print(f"\ntips stored vs 2xx responses: {tips} / {ok}")
    print(f"photos stored vs 2xx responses with a photo: {stored_photos} / {with_photo}")
    print(f"one stored photo, opened: {one}")

    ring = Keyring.generate()
    cleaned = photos.clean_photo(photo)
    print(
        "\nin this process, one at a time (median of 5): clean_photo "
        f"{timed(lambda: photos.clean_photo(photo), 5):.0f} ms, sealing its "
        f"{len(cleaned.data) / 1e6:.2f} MB result "
        f"{timed(lambda: ring.seal_bytes(cleaned.data, 'tip_photo.data'), 5):.1f} ms"
    )


if __name__ == "__main__":
    main()
