"""Issue 31's browser conversation with the real program: `afirs-dspy serve` on the artifacts of this checkout and
the embedded model (or --lm), a headless chromium as a new user, the two messages a user typed on 2026-12-05.

    python bench/serve_conversation.py [--dataset ml-latest-small] [--lm …] [--screenshot docs/serve-conversation.png]

DSPy's response cache starts empty, so the seconds shown are what the turns cost. Checks what the issue asks of the
second turn: the first request's aspects (zombies, horror, comedy) still in
force, none of the first list shown again, a later median year. Writes the page after the second turn to
--screenshot and the turns with the checks to bench/results/serve_conversation.{md,json}.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

from browser_page import page_as_user
from results_files import write_results

MESSAGES = ("I'm in the mood for a scary movie with zombies, but also funny.",
            "No, I've seen those. Something more recent please, not a cartoon.")
KEPT = ("zombie", "horror", "comed")  # stems, as the tree spells them: "zombies", "Horror", "Comedy"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def year(title: str) -> int | None:
    found = re.search(r"\((\d{4})\)\s*$", title)
    return int(found.group(1)) if found else None


def median_year(titles: list[str]) -> float | None:
    years = [y for y in map(year, titles) if y]
    return statistics.median(years) if years else None


def serve(arguments: list[str], port: int, dspy_cache: str) -> subprocess.Popen:
    """`afirs-dspy serve` in a child process, once its page answers; DSPy's response cache in ``dspy_cache``."""
    server = subprocess.Popen([sys.executable, "-m", "afirs_dspy.cli", "serve", "--port", str(port), *arguments],
                              cwd=ROOT, env={**os.environ, "DSPY_CACHEDIR": dspy_cache})
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit("afirs-dspy serve did not start")
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--lm", default=None, help="As afirs-dspy serve --lm (default: the embedded model).")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "serve-conversation.png")
    args = parser.parse_args()
    port = free_port()
    # an empty response cache: the seconds the page shows are what the turns cost
    empty_cache = tempfile.TemporaryDirectory()
    server = serve(["--dataset", args.dataset, *(["--lm", args.lm] if args.lm else [])], port, empty_cache.name)
    try:
        # the first turn loads the data, the artifacts and the model
        with page_as_user(f"http://127.0.0.1:{port}/", "", seconds=600, size="1400,1500") as (say, page):
            turns = [say(text) for text in MESSAGES]
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.save_screenshot(str(args.screenshot))
    finally:
        server.terminate()
        server.wait(timeout=30)
        empty_cache.cleanup()
    first, second = turns
    # the "in force" line only: the left-out titles ("Zombieland") must not count as the aspect
    session = next((line for line in second.session.lower().splitlines() if line.startswith("in force")), "")
    checks = {"aspects kept on the second turn": {stem: stem in session for stem in KEPT},
              "first list shown again": sorted(set(first.items) & set(second.items)),
              "median year": [median_year(first.items), median_year(second.items)]}
    later = None not in checks["median year"] and checks["median year"][1] > checks["median year"][0]
    passed = all(checks["aspects kept on the second turn"].values()) and not checks["first list shown again"] and later
    lines = [f"# Issue 31's browser conversation, real program ({date.today()}, {args.dataset}, "
             f"LM {args.lm or 'embedded'})", "", "`python bench/serve_conversation.py`: `afirs-dspy serve` in headless "
             "chromium as a new user; the page after the second turn is the screenshot "
             f"({args.screenshot.relative_to(ROOT) if args.screenshot.is_relative_to(ROOT) else args.screenshot}).", ""]
    for text, turn in zip(MESSAGES, turns):
        lines += [f"**User:** {text}", "", "**Reply:** " + turn.reply.replace("\n", " "), "",
                  "Items: " + "; ".join(turn.items), "", "Session: " + turn.session.replace("\n", " · "), ""]
    lines += [f"- aspects in force on turn 2: {checks['aspects kept on the second turn']}",
              f"- first list shown again: {checks['first list shown again'] or 'none'}",
              f"- median year {checks['median year'][0]} → {checks['median year'][1]} ({'later' if later else 'NOT later'})",
              f"- all checks: {'passed' if passed else 'FAILED'}"]
    write_results("serve_conversation", {"messages": MESSAGES, "turns": [vars(t) for t in turns], "checks": checks,
                                         "passed": passed}, "\n".join(lines))


if __name__ == "__main__":
    main()
