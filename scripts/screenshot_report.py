"""Open a neurodeploy HTML report in headless Chromium and save a screenshot of it.

Run: ``.venv/bin/python scripts/screenshot_report.py runs/demo/report.html OUT.png``
(needs a Chromium: ``apt-get install chromium`` on Debian, or ``--browser PATH``).
``--only Summary,Spikes`` keeps the title and the sections whose headings start
with those words (README's picture: ``docs/images/report.png``).
The page is loaded from the file with the network disabled, which also
shows that the report is self-contained. Exit status 1 when the browser
fails or writes no image.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def screenshot(report: Path, out: Path, browser: str, width: int, height: int) -> None:
    """Render ``report`` at ``width`` x ``height`` CSS pixels into the PNG ``out``."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             f"--window-size={width},{height}", f"--screenshot={out.resolve()}", report.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    if not out.is_file() or out.read_bytes()[:8] != PNG_MAGIC:
        raise RuntimeError(f"{browser} wrote no PNG to {out}")


def only_sections(html: str, starts: list[str]) -> str:
    """``html`` with the ``<h2>`` sections whose headings start with one of ``starts`` kept
    (and everything before the first section), the others left out."""
    parts = re.split(r"(?=<h2>)", html)
    kept = [part for part in parts[1:] if any(part[4:].startswith(start) for start in starts)]
    if len(kept) < len(starts):
        raise RuntimeError(f"the report has no section starting with one of {starts}")
    return parts[0] + "".join(kept) + "</body></html>"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.html")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--browser", default=shutil.which("chromium") or shutil.which("chromium-browser"),
                        help="Chromium executable (default: chromium on PATH)")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--only", metavar="HEADING,...", help="keep only the sections whose headings start so")
    args = parser.parse_args()
    if args.browser is None:
        print("no Chromium found: install it (apt-get install chromium) or give --browser", file=sys.stderr)
        return 1
    if not args.report.is_file():
        print(f"{args.report}: no such report", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory() as folder:
            page = args.report
            if args.only:
                page = Path(folder) / "report.html"
                page.write_text(only_sections(args.report.read_text(encoding="utf-8"), args.only.split(",")),
                                encoding="utf-8")
            screenshot(page, args.out, args.browser, args.width, args.height)
    except (subprocess.SubprocessError, RuntimeError) as err:
        print(f"screenshot failed: {err}".splitlines()[0], file=sys.stderr)
        return 1
    print(f"{args.out}: {args.width}x{args.height} screenshot of {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
