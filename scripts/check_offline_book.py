"""Check that the built book works offline: opened from disk with no network at all.

1. No page loads a script, style sheet or font from another host (everything the pages
   need at view time is in the build folder).
2. Headless Chromium, in a network namespace with no network (``unshare -n``), opens a
   chapter with equations from disk and dumps the DOM after MathJax has run: MathJax's
   output elements (``mjx-container``) are there, and no raw TeX (``$$``, ``\\begin``,
   ``\\(``, ``\\[``) is left in the text outside code.
3. With ``--screenshot PATH``, the same page is also saved as a PNG to look at.

Usage: python scripts/check_offline_book.py book/_build/html [--page notebooks/02_unstable_rnns]
Exit status 0 when all checks pass, 1 when one fails, 77 when Chromium is not installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

DEFAULT_PAGE = "notebooks/02_unstable_rnns"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
)
RAW_TEX = ("$$", "\\begin", "\\(", "\\[")
SKIPPED = 77  # the exit status test runners read as "skipped"


class _Resources(HTMLParser):
    """Collects the URLs a page loads (scripts, style sheets, fonts, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and values.get("href"):
            rel = (values.get("rel") or "").lower()
            if any(word in rel for word in ("stylesheet", "preload", "icon", "modulepreload")):
                self.urls.append(values["href"])


class _Text(HTMLParser):
    """The page's text outside <pre>, <code>, <script> and <style>."""

    SKIP = frozenset({"pre", "code", "script", "style", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def remote_resources(html_dir: Path) -> list[str]:
    """``page: url`` for every resource a built page loads from another host."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            if re.match(r"^(https?:)?//", url):
                found.append(f"{page.relative_to(html_dir)}: {url}")
    for css in sorted(html_dir.rglob("*.css")):
        for url in re.findall(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", css.read_text()):
            found.append(f"{css.relative_to(html_dir)}: {url}")
    return found


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def _offline(command: list[str]) -> list[str]:
    """The command inside a new network namespace (no interface but a down loopback)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        return ["unshare", "-n", *command]
    raise SystemExit("check_offline_book: `unshare -n` is not permitted here (needs root)")


def render(chromium: str, page: Path, screenshot: Path | None) -> str:
    """The page's DOM after its scripts ran, read by Chromium with no network."""
    with tempfile.TemporaryDirectory() as profile:
        common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            _offline([*common, "--dump-dom", page.as_uri()]),
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout
        if screenshot is not None:
            subprocess.run(
                _offline(
                    [
                        *common,
                        "--window-size=1280,4000",
                        f"--screenshot={screenshot}",
                        page.as_uri(),
                    ]
                ),
                capture_output=True,
                timeout=180,
                check=True,
            )
    return dom


def check_dom(dom: str) -> list[str]:
    """Problems in a rendered page: no MathJax output, or raw TeX left in the text."""
    problems = []
    rendered = dom.count("<mjx-container")
    if not rendered:
        problems.append("no <mjx-container>: MathJax did not typeset the page")
    parser = _Text()
    parser.feed(dom)
    text = "".join(parser.parts)
    for token in RAW_TEX:
        if token in text:
            at = text.index(token)
            context = text[max(at - 40, 0) : at + 40]
            problems.append(f"raw TeX {token!r} left in the text: ...{context!r}...")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", type=Path, help="the built book, e.g. book/_build/html")
    parser.add_argument("--page", default=DEFAULT_PAGE, help="a page with equations")
    parser.add_argument("--screenshot", type=Path, help="also save the page as this PNG")
    args = parser.parse_args(argv)

    html_dir = args.html_dir.resolve()
    page = html_dir / f"{args.page}.html"
    if not page.is_file():
        print(f"check_offline_book: {page} does not exist; build the book first", file=sys.stderr)
        return 1
    failures = [f"loads from the network: {url}" for url in remote_resources(html_dir)]
    chromium = find_chromium()
    if chromium is None:
        print("check_offline_book: Chromium is not installed (apt-get install chromium)")
        return SKIPPED if not failures else 1
    dom = render(chromium, page, args.screenshot)
    failures += [f"{args.page}: {problem}" for problem in check_dom(dom)]
    for failure in failures:
        print(f"check_offline_book: FAIL {failure}", file=sys.stderr)
    if not failures:
        print(
            f"check_offline_book: {args.page} rendered offline with "
            f"{dom.count('<mjx-container')} MathJax elements, no raw TeX; "
            "no page loads anything from the network"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
