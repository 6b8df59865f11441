"""Lighthouse on the traveler's form and help page: accessibility 100, performance and best
practices at least 95, or exit non-zero.

    .venv/bin/python bench/lighthouse.py [--runs 1]

Serves this checkout under gunicorn (one sync worker, loopback, a fresh SQLite database with one
station poster, as bench/intake.py does) and runs Lighthouse (npm, pinned in
tests/a11y/package.json: `npm ci --prefix tests/a11y`) with Debian's chromium (CHROME_PATH,
default /usr/bin/chromium), mobile emulation and simulated throttling (Lighthouse's defaults).
Printed: each page's three scores (the lowest of --runs); .ci/run calls this script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench.intake import gunicorn, prepare_tipline  # noqa: E402

LIGHTHOUSE = ROOT / "tests" / "a11y" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("accessibility", "performance", "best-practices")
BAR = {"accessibility": 100, "performance": 95, "best-practices": 95}


def scores(url: str, chrome: str) -> dict[str, int]:
    """One Lighthouse run: each category's score out of 100."""
    result = subprocess.run(
        [
            str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run",
        ],
        env={**os.environ, "CHROME_PATH": chrome},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    return {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per page; the lowest counts")
    args = parser.parse_args()
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} not found: npm ci --prefix tests/a11y")
    if not Path(chrome).exists():
        raise SystemExit(f"{chrome} not found: apt-get install chromium")
    failed = []
    with tempfile.TemporaryDirectory() as folder:
        env, code = prepare_tipline(Path(folder), None)
        with gunicorn("tipline:create_app()", env, 1, f"/T/{code}") as port:
            pages = {"form": f"/T/{code}", "help": f"/help?at={code}"}
            print(f"{'page':6} " + " ".join(f"{c:>15}" for c in CATEGORIES))
            for name, path in pages.items():
                runs = [scores(f"http://127.0.0.1:{port}{path}", chrome) for _ in range(args.runs)]
                low = {c: min(r[c] for r in runs) for c in CATEGORIES}
                print(f"{name:6} " + " ".join(f"{low[c]:>15}" for c in CATEGORIES))
                failed += [f"{name} {c} {low[c]} < {BAR[c]}" for c in CATEGORIES if low[c] < BAR[c]]
    if failed:
        raise SystemExit("below the bar: " + "; ".join(failed))
    print("lighthouse: at or above the bar (accessibility 100, performance and best practices 95)")


if __name__ == "__main__":
    main()
