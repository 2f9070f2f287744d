"""`aved ui` in a real browser (Debian's chromium through playwright): an edit from upload to the side-by-side
video, a bad input shown in the page with the app still serving, and a cancelled edit that leaves nothing."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aved import folders

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright client is not installed (the dev extra)")
pytest.importorskip("gradio", reason="gradio is not installed (the ui extra)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no chromium here (apt-get install chromium)")

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "examples" / "toyworld.mp4"
SOURCE, TARGET = "a red ball bouncing on grass", "a yellow bell bouncing on grass"
# The README's screenshot, refreshed only when asked (AVED_DOCS_SCREENSHOTS=1): a test run leaves the tree alone.
DOCS_SCREENSHOT = ROOT / "docs" / "ui.png"
START_TIMEOUT_S = 90
EDIT_TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """`aved ui --model toyworld` on a free port, its outputs in a fresh folder: (url, outputs)."""
    outputs = tmp_path_factory.mktemp("ui") / "out"
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "aved", "ui", "--model", "toyworld", "--port", str(port), "--out", str(outputs)]
    log = open(outputs.parent / "ui.log", "w")  # noqa: SIM115 (open for the server's life)
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + START_TIMEOUT_S
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"aved ui did not start:\n{(outputs.parent / 'ui.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, outputs, outputs.parent / "ui.log"
    server.terminate()
    server.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _fill(page, url: str, source: str, target: str, steps: int, fast: bool = True) -> None:
    page.goto(url)
    page.wait_for_selector("#run")
    page.set_input_files("#clip input[type=file]", str(CLIP))
    page.fill("#source textarea", source)
    page.fill("#target textarea", target)
    if not fast:
        page.uncheck("#fast input[type=checkbox]")
    steps_box = page.locator("#steps input[type=number]")
    steps_box.fill(str(steps))
    steps_box.press("Enter")


def _edits(outputs: Path) -> list[Path]:
    return sorted(p for p in outputs.iterdir() if p.is_dir()) if outputs.is_dir() else []


def test_an_edit_from_upload_to_the_side_by_side_video(ui, browser):
    url, outputs, _ = ui
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _fill(page, url, SOURCE, TARGET, steps=3)
    started = time.perf_counter()
    page.click("#run")
    page.wait_for_selector("#side_by_side video[src]", timeout=EDIT_TIMEOUT_MS)
    seconds = time.perf_counter() - started
    (edit,) = _edits(outputs)
    assert folders.is_complete(edit) and (outputs / f"{edit.name}.zip").stat().st_size > 0
    assert edit.name in page.locator("#download").inner_text()  # the zip is offered
    assert '"steps": 3' in page.locator("#config").inner_text()  # the resolved config, the page's steps in it
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(outputs.parent / "ui.png"))
    if os.environ.get("AVED_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(outputs.parent / "ui.png", DOCS_SCREENSHOT)
    print(f"Run → result: {seconds:.1f} s for a 3-step edit (priors loaded on first use)")


def test_a_bad_input_is_one_line_in_the_page_and_the_app_keeps_serving(ui, browser):
    url, outputs, _ = ui
    before = _edits(outputs)
    page = browser.new_page()
    _fill(page, url, SOURCE, "", steps=2)  # no target prompt
    page.click("#run")
    page.get_by_text("needs both a source and a target prompt").first.wait_for(timeout=EDIT_TIMEOUT_MS)
    assert _edits(outputs) == before
    assert urllib.request.urlopen(url, timeout=5).status == 200


def test_cancel_stops_the_edit_and_writes_nothing(ui, browser):
    url, outputs, log = ui
    before = _edits(outputs)
    page = browser.new_page()
    _fill(page, url, SOURCE, TARGET, steps=1000, fast=False)  # ~70 s if it ran to the end
    page.click("#run")
    page.get_by_text("/1000 steps").first.wait_for(timeout=EDIT_TIMEOUT_MS)
    page.click("#cancel")
    deadline = time.time() + 60
    while "edit cancelled after step" not in log.read_text():  # the server stopped it, not only the page
        assert time.time() < deadline, log.read_text()[-2000:]
        time.sleep(0.5)
    steps = int(log.read_text().split("edit cancelled after step ")[1].split()[0])
    assert steps < 1000
    assert _edits(outputs) == before
    assert not [p for p in outputs.iterdir() if p.name.startswith(".")]  # no stage left behind


def test_a_second_tab_waits_in_the_visible_queue_while_the_first_shows_its_steps(ui, browser):
    url, _, _ = ui
    first, second = (browser.new_context().new_page() for _ in range(2))
    _fill(first, url, SOURCE, TARGET, steps=100, fast=False)
    _fill(second, url, SOURCE, TARGET, steps=2)
    first.click("#run")
    first.get_by_text("/100 steps").first.wait_for(timeout=EDIT_TIMEOUT_MS)  # the bar follows the optimisation
    second.click("#run")
    second.get_by_text("queue:").first.wait_for(timeout=EDIT_TIMEOUT_MS)  # one edit at a time; the wait is shown
    assert first.locator("#side_by_side video[src]").count() == 0  # the first is still running
    second.wait_for_selector("#side_by_side video[src]", timeout=EDIT_TIMEOUT_MS)
    first.wait_for_selector("#side_by_side video[src]", timeout=EDIT_TIMEOUT_MS)


def test_each_model_set_starts_from_an_example_clip_that_ships():
    from aved.ui.app import examples_for

    ((toy, source, target),) = examples_for("toyworld")
    assert Path(toy) == CLIP and (source, target) == (SOURCE, TARGET)  # the README's edit
    ((real, *_),) = examples_for(None)
    assert Path(real).name == "bounce.mp4" and Path(real).is_file()
