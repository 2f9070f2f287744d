"""Scripted raters through a real `aved study serve` page in Chromium: a check of the study pipeline end to end
(pages, votes, resume after a killed server, the report), NOT a human preference result.

Each rater "looks at" a page by fetching the two edits' video bytes through the page's opaque URLs and finding the
ToyWorld bench records of those clips (matched by content hash among the given bench folders' clips); it then
answers from the bench's own scores: `prompt` by frame + sound target accuracy, `preserve` by the kept-background
PSNR (PSNR vs the truth where the edit changes the background), `sync` by AV-Align; "same" within a margin. Rater k
flips each answer with probability k·FLIP (rater 0 never does), so the report's consistency column has something to
show. The server is SIGKILLed and restarted halfway through.

    python benchmarks/study_simulated_raters.py STUDY.db BENCH_FOLDER [--raters 2]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from aved.toyworld.bench import clip_path, read_results

FLIP = 0.15  # per-rater answer flip probability step
MARGIN = {"prompt": 0.05, "preserve": 0.5, "sync": 0.02}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def clip_scores(folder: Path) -> dict[str, dict]:
    """sha256 of each edited clip's bytes → its bench record."""
    out = {}
    for record in read_results(folder):
        path = clip_path(folder, record["task"], record["row"])
        if path.is_file():
            out[hashlib.sha256(path.read_bytes()).hexdigest()] = record
    return out


def score(record: dict, question: str) -> float:
    if question == "prompt":
        return (record.get("frame_target_acc") or 0.0) + (record.get("sound_target_acc") or 0.0)
    if question == "preserve":
        return record.get("background_psnr") or record.get("gt_psnr") or 0.0
    return record.get("av_align") or 0.0


def answer(left: dict, right: dict, question: str, flip: float, rng: random.Random) -> str:
    diff = score(left, question) - score(right, question)
    choice = "same" if abs(diff) < MARGIN[question] else ("left" if diff > 0 else "right")
    if rng.random() < flip:
        choice = rng.choice([c for c in ("left", "right", "same") if c != choice])
    return choice


def start(db: Path) -> tuple[subprocess.Popen, str]:
    argv = [sys.executable, "-m", "aved", "study", "serve", str(db), "--port", "0", "-q"]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    for line in iter(server.stdout.readline, ""):
        if match := re.search(r"http://[\w.:]+/", line):
            return server, match[0]
    raise SystemExit("the study server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("bench", type=Path, help="the toyworld bench folder the study's runs come from")
    parser.add_argument("--raters", type=int, default=2)
    args = parser.parse_args()
    scores = clip_scores(args.bench)
    server, base = start(args.db)
    pages_done, killed = 0, False
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        raters = []
        for k in range(args.raters):
            page = browser.new_context().new_page()
            page.goto(base)
            page.fill("#rater", f"scripted-{k}")
            with page.expect_navigation():
                page.click("#begin")
            raters.append((page, FLIP * k, random.Random(k)))
        total = int(raters[0][0].inner_text("#progress").split()[-1])
        while any(page.locator("#done").count() == 0 for page, _, _ in raters):
            for page, flip, rng in raters:
                if page.locator("#done").count():
                    continue
                shown = {}
                for side in ("left", "right"):
                    src = page.get_attribute(f"video#{side}", "src")
                    shown[side] = scores[hashlib.sha256(page.request.get(base.rstrip("/") + src).body()).hexdigest()]
                for fieldset in page.locator("form#vote fieldset").all():
                    name = fieldset.get_attribute("id")
                    page.check(f"#{name}_{answer(shown['left'], shown['right'], name[2:], flip, rng)}")
                with page.expect_navigation():
                    page.click("#submit")
                pages_done += 1
            if not killed and pages_done >= total:  # about halfway for two raters
                server.send_signal(signal.SIGKILL)
                server.wait()
                server, base = start(args.db)  # on a fresh port: each rater comes back by its id
                for page, _, _ in raters:
                    page.goto(base + "rate?rater=" + page.url.split("rater=")[-1].split("&")[0])
                killed = True
        browser.close()
    server.send_signal(signal.SIGTERM)
    server.wait()
    print(f"{args.raters} scripted raters, {pages_done} pages answered, the server killed and restarted once")


if __name__ == "__main__":
    main()
