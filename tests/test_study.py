"""`aved study`: pairs from bench folders, every rater's order, votes that survive kills and concurrency, the report's
counts and Wilson intervals, and pages that never name a method or a file (urllib and a real Chromium)."""

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pytest

from aved.errors import AvedError
from aved.media.clip import write_clip
from aved.study import create_study, make_server, study_report, write_study_report
from aved.study.db import QUESTIONS, load_study
from aved.study.report import wilson_interval

ROOT = Path(__file__).resolve().parent.parent
# The README's screenshot, refreshed only when asked (AVED_DOCS_SCREENSHOTS=1): a test run leaves the tree alone.
SCREENSHOT = ROOT / "docs" / "study.png"
CHROMIUM = Path("/usr/bin/chromium")
FPS, RATE, FRAMES, HEIGHT, WIDTH = 8, 16000, 4, 32, 48
# Method names no page could contain by chance, so finding one in the HTML means it leaked.
ALPHA, BETA, GAMMA = "methodalpha", "methodbeta", "methodgamma"
QUESTION_NAMES = list(QUESTIONS)
SPINNER_MS = 1500  # Chromium's media controls show a loading spinner a moment after the clip is ready


# ----------------------------------------------------------------------------------------------- fake runs


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """Three tiny mp4 clips with sound (grey, reddish, bluish), written once and copied where a run needs one."""
    folder = tmp_path_factory.mktemp("media")
    clips = {}
    for name, colour in (("source", (128, 128, 128)), ("red", (200, 60, 60)), ("blue", (60, 60, 200))):
        frames = np.zeros((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
        frames[:] = colour
        frames[:, 8:24, 16:32] = 255  # a square, so the picture is not flat
        seconds = np.arange(FRAMES * RATE // FPS) / RATE
        audio = (0.2 * np.sin(2 * np.pi * 440 * seconds)).astype(np.float32)
        clips[name] = folder / f"{name}.mp4"
        write_clip(clips[name], frames, FPS, audio, RATE)
    return clips


def bench_run(folder: Path, mode: str, clips: dict[str, str], media: dict[str, Path], sweep=None, edit="red") -> Path:
    """An `aved bench run` folder: clip name → 'ok', 'error' or 'nofile' (ok, but its edited.mp4 is missing)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"mode": mode, "run": {"sweep": sweep or {}}}))
    lines = []
    for name, state in clips.items():
        clip_dir = folder / "clips" / name
        clip_dir.mkdir(parents=True)
        if state == "ok":
            shutil.copy(media[edit], clip_dir / "edited.mp4")
        shutil.copy(media["source"], clip_dir / "source.mp4")
        record = {
            "name": name,
            "src_category": "cat",
            "trg_category": f"category-{name[-1]}",
            # Prompts that do not hold the clip's name, which no page may show.
            "prompts": {"source": f"a cat, take {name[-1]}", "target": f"a dog, take {name[-1]}"},
            "status": "error" if state == "error" else "ok",
            "files": ["edited.mp4", "source.mp4"],
        }
        lines.append(json.dumps(record))
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def toyworld_run(folder: Path, tasks: dict[str, dict[str, list[str]]], media: dict[str, Path]) -> Path:
    """An `aved toyworld bench` folder: task → row → statuses in the order written (the latest line wins), split
    over two results files as two shards write them."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"run": {"tasks": len(tasks), "task_seed": 0}}))
    shards: list[list[str]] = [[], []]
    for index, (task, rows) in enumerate(tasks.items()):
        (folder / "clips" / task).mkdir(parents=True)
        shutil.copy(media["source"], folder / "clips" / task / "source.mp4")
        for row, statuses in rows.items():
            if "ok" in statuses:
                shutil.copy(media["red"], folder / "clips" / task / f"{row.replace(' ', '-')}.mp4")
            for status in statuses:
                record = {
                    "name": f"{task}/{row}",
                    "task": task,
                    "row": row,
                    "edit_type": f"type-{task}",
                    "source_prompt": f"source of {task}",
                    "target_prompt": f"target of {task}",
                    "status": status,
                }
                shards[index % 2].append(json.dumps(record))
    for index, lines in enumerate(shards):
        (folder / f"results.{index}.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


def pair_rows(db: Path) -> list[dict]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM pairs ORDER BY id")]


def count_votes(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return connection.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


@pytest.fixture
def three_runs(tmp_path, media) -> list[Path]:
    """Three bench runs (three methods) sharing four finished clips: 12 pairs."""
    clips = {f"clip{k}": "ok" for k in range(4)}
    return [
        bench_run(tmp_path / "runs" / label, label, clips, media, edit=edit)
        for label, edit in ((ALPHA, "red"), (BETA, "blue"), (GAMMA, "red"))
    ]


# ----------------------------------------------------------------------------------------------- creating


def test_only_clips_finished_in_every_run_are_paired(tmp_path, media):
    first = bench_run(
        tmp_path / "one", "aved", {"c1": "ok", "c2": "ok", "c3": "error", "c4": "nofile", "c5": "ok"}, media
    )
    second = bench_run(tmp_path / "two", "dds", {"c1": "ok", "c2": "ok", "c3": "ok", "c4": "ok"}, media)
    summary = create_study(tmp_path / "study.db", [str(first), str(second)])
    assert (summary.pairs, summary.clips, summary.methods) == (2, 2, ["aved", "dds"])
    rows = pair_rows(tmp_path / "study.db")
    assert [(r["clip"], r["method_a"], r["method_b"]) for r in rows] == [("c1", "aved", "dds"), ("c2", "aved", "dds")]
    assert rows[0]["media_a"] == str((first / "clips" / "c1" / "edited.mp4").resolve())
    assert rows[0]["media_b"] == str((second / "clips" / "c1" / "edited.mp4").resolve())
    assert rows[0]["media_source"] == str((first / "clips" / "c1" / "source.mp4").resolve())
    assert Path(rows[0]["media_a"]).is_absolute()
    assert (rows[0]["target_prompt"], rows[0]["source_prompt"], rows[0]["category"]) == (
        "a dog, take 1",
        "a cat, take 1",
        "category-1",
    )
    with contextlib.closing(sqlite3.connect(tmp_path / "study.db")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_two_runs_make_a_pair_and_shared_modes_take_the_folder_name(tmp_path, media):
    clips = {"c1": "ok", "c2": "ok"}
    runs = [
        bench_run(tmp_path / "base", "aved", clips, media),
        bench_run(tmp_path / "tuned", "aved", clips, media),
        bench_run(tmp_path / "sweep", "aved", clips, media, sweep={"relevance.tau_video": "0.5"}),
    ]
    summary = create_study(tmp_path / "study.db", [str(r) for r in runs])
    assert summary.methods == ["base", "tuned", "aved relevance.tau_video=0.5"]
    assert summary.pairs == 2 * 3  # 2 clips × 3 unordered pairs of runs
    methods = {(r["method_a"], r["method_b"]) for r in pair_rows(tmp_path / "study.db")}
    assert methods == {
        ("base", "tuned"),
        ("base", "aved relevance.tau_video=0.5"),
        ("tuned", "aved relevance.tau_video=0.5"),
    }


def test_toyworld_rows_latest_line_wins(tmp_path, media):
    tasks = {
        "t1": {"aved": ["ok"], "source via VAEs": ["ok"]},
        "t2": {"aved": ["ok"], "source via VAEs": ["error"]},
        "t3": {"aved": ["ok"], "source via VAEs": ["ok", "error"]},  # finished, then a rerun failed
        "t4": {"aved": ["error", "ok"], "source via VAEs": ["ok"]},  # failed, then a rerun finished
    }
    folder = toyworld_run(tmp_path / "tw", tasks, media)
    summary = create_study(tmp_path / "study.db", [f"{folder}:aved", f"{folder}:source via VAEs"])
    assert summary.methods == ["aved", "source via VAEs"]
    rows = pair_rows(tmp_path / "study.db")
    assert [r["clip"] for r in rows] == ["t1", "t4"]
    assert rows[0]["category"] == "type-t1" and rows[0]["target_prompt"] == "target of t1"
    assert rows[0]["media_b"] == str((folder / "clips" / "t1" / "source-via-VAEs.mp4").resolve())
    assert rows[0]["media_source"] == str((folder / "clips" / "t1" / "source.mp4").resolve())


def _one_line_error(call) -> str:
    with pytest.raises(AvedError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, media):
    good = bench_run(tmp_path / "good", "aved", {"c1": "ok"}, media)
    other = bench_run(tmp_path / "other", "dds", {"c1": "ok"}, media)
    disjoint = bench_run(tmp_path / "disjoint", "sdedit", {"c9": "ok"}, media)
    garbled = bench_run(tmp_path / "garbled", "x", {"c1": "ok"}, media)
    (garbled / "config.json").write_text("{not json")
    tw = toyworld_run(tmp_path / "tw", {"t1": {"aved": ["ok"], "dds": ["ok"]}}, media)
    db = tmp_path / "out" / "study.db"
    cases = {
        "no such run folder": [str(tmp_path / "missing"), str(good)],
        "not a readable JSON file": [str(garbled), str(good)],
        "at least 2 runs": [str(good)],
        "no clip finished in every run": [str(good), str(disjoint)],
        "ROW one of aved, dds": [str(tw), f"{tw}:aved"],
        "no finished clips of row 'sdedit'": [f"{tw}:dds", f"{tw}:sdedit"],
        "pass it without :aved": [f"{good}:aved", str(other)],
        "given twice": [str(good), str(good) + "/"],
    }
    for expected, runs in cases.items():
        assert expected in _one_line_error(lambda runs=runs: create_study(db, runs)), expected
        assert not db.parent.exists() or list(db.parent.iterdir()) == [], expected
    assert "use some of" in _one_line_error(lambda: create_study(db, [str(good), str(other)], questions=["taste"]))
    assert "repeat_every" in _one_line_error(lambda: create_study(db, [str(good), str(other)], repeat_every=1))
    db.parent.mkdir(exist_ok=True)
    db.write_text("mine")
    assert "already exists" in _one_line_error(lambda: create_study(db, [str(good), str(other)]))
    assert db.read_text() == "mine"


def test_a_create_that_fails_midway_leaves_nothing(tmp_path, media, monkeypatch):
    import aved.study.db as study_db

    runs = [str(bench_run(tmp_path / name, name, {"c1": "ok"}, media)) for name in ("aved", "dds")]

    def broken(pair):
        raise AvedError("disk full")

    monkeypatch.setattr(study_db, "_pair_row", broken)
    with pytest.raises(AvedError, match="disk full"):
        create_study(tmp_path / "db" / "study.db", runs)
    assert list((tmp_path / "db").iterdir()) == []


# ----------------------------------------------------------------------------------------------- statistics


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    for successes, trials in [(0, 1), (1, 1), (3, 10), (7, 9), (50, 100), (0, 25), (25, 25), (1, 1000)]:
        expected = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = wilson_interval(successes, trials)
        assert low == pytest.approx(expected.low, abs=1e-12) and high == pytest.approx(expected.high, abs=1e-12)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


# ----------------------------------------------------------------------------------------------- the server


@contextlib.contextmanager
def running(db: Path):
    """The study's server on a free port in a thread; yields its base URL."""
    server = make_server(db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(url: str, form: dict | None = None, headers: dict | None = None) -> tuple[int, str, bytes]:
    """(status, final URL, body) of a GET, or of a POST of `form` (redirects followed)."""
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.url, response.read()
    except urllib.error.HTTPError as err:
        return err.code, url, err.read()


def page_form(html: str) -> dict[str, str]:
    """The hidden fields of a rating page's form#vote."""
    assert 'id="vote"' in html, html[:2000]
    fields = re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', html)
    return {name: unescape(value) for name, value in fields}


def progress(html: str) -> tuple[int, int]:
    match = re.search(r'id="progress">Pair (\d+) of (\d+)<', html)
    return int(match[1]), int(match[2])


def shown(db: Path, token: str) -> tuple[str, str, int]:
    """(left method, right method, pair) of the page `token`, read from the study file as a test may."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        pair, swapped = connection.execute("SELECT pair, swapped FROM views WHERE token = ?", (token,)).fetchone()
        a, b = connection.execute("SELECT method_a, method_b FROM pairs WHERE id = ?", (pair,)).fetchone()
    return (b, a, pair) if swapped else (a, b, pair)


def rate(base: str, rater: str, choose, pages: int | None = None, db: Path | None = None) -> list[str]:
    """Answer `pages` pages (all when None) as `rater`, `choose(left, right, question)` giving each answer; returns
    the HTML of every page seen."""
    status, _, body = fetch(f"{base}/rate?rater={quote(rater)}")
    seen = [body.decode()]
    while 'id="vote"' in seen[-1] and (pages is None or len(seen) <= pages):
        form = page_form(seen[-1])
        left, right, _ = shown(db, form["token"]) if db else ("", "", 0)
        form.update({f"q_{q}": choose(left, right, q) for q in QUESTION_NAMES})
        status, _, body = fetch(f"{base}/rate", form)
        assert status == 200, body[:500]
        seen.append(body.decode())
    return seen


def test_order_and_sides_stable_per_rater_across_restarts_and_different_between_raters(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs], repeat_every=5, seed=7)
    items = load_study(db).items("alice")
    assert items == load_study(db).items("alice")  # a fresh read of the file: the same sequence
    bob = load_study(db).items("bob")
    assert [i.pair for i in items] != [i.pair for i in bob]
    sides = {i.pair: i.swapped for i in items if not i.repeat}
    assert sides != {i.pair: i.swapped for i in bob if not i.repeat}
    assert 0 < sum(sides.values()) < len(sides)  # both sides drawn
    fresh = [i for i in items if not i.repeat]
    assert sorted(i.pair for i in fresh) == list(range(1, 13))  # every pair once
    assert [k for k, i in enumerate(items) if i.repeat] == [4, 9]  # every 5th page, none after the last new one
    assert len(items) == 14
    with running(db) as base:
        pages = rate(base, "alice", lambda left, right, q: "left", pages=3, db=db)
    assert [progress(p)[0] for p in pages] == [1, 2, 3, 4]
    with running(db) as base:  # a new server process on the same file
        _, _, body = fetch(f"{base}/rate?rater=alice")
        page = body.decode()
        assert progress(page) == (4, len(items))
        left, right, pair = shown(db, page_form(page)["token"])
    first = load_study(db).pairs[items[3].pair]
    assert pair == items[3].pair
    assert (left, right) == ((first.method_b, first.method_a) if items[3].swapped else (first.method_a, first.method_b))
    other_seed = tmp_path / "other.db"
    create_study(other_seed, [str(r) for r in three_runs], repeat_every=5, seed=8)
    assert load_study(other_seed).items("alice") != items


def test_repeats_swap_sides_count_for_consistency_and_not_for_win_rates(tmp_path, media):
    clips = {f"clip{k}": "ok" for k in range(8)}
    runs = [str(bench_run(tmp_path / name, name, clips, media)) for name in (ALPHA, BETA)]
    db = tmp_path / "study.db"
    create_study(db, runs, repeat_every=3, seed=1)
    items = load_study(db).items("fan")
    originals = {i.pair: i for i in items if not i.repeat}
    for item in (i for i in items if i.repeat):
        assert item.swapped != originals[item.pair].swapped
        assert items.index(originals[item.pair]) < items.index(item)
    with running(db) as base:
        rate(base, "fan", lambda left, right, q: "left" if left == ALPHA else "right", db=db)  # always alpha
        rate(base, "sider", lambda left, right, q: "left", db=db)  # always the left side, whichever it is
    markdown, votes_csv = study_report(db)
    fresh, repeats = 8, len(items) - 8
    # Alpha wins every first-time page of "fan"; "sider" gives each method its left-side pages.
    sider_items = load_study(db).items("sider")
    sider_alpha = sum(1 for i in sider_items if not i.repeat and not i.swapped)
    for question in QUESTION_NAMES:
        wins = fresh + sider_alpha
        assert f"| {question} | {ALPHA} | {BETA} | {wins} | {2 * fresh - wins} | 0 |" in markdown
    assert f"| fan | {len(items)} | 1.000 ({repeats * 3}/{repeats * 3}) |" in markdown
    sider_repeats = sum(i.repeat for i in sider_items)
    assert f"| sider | {len(sider_items)} | 0.000 (0/{sider_repeats * 3}) |" in markdown
    assert len(votes_csv.strip().splitlines()) - 1 == (len(items) + len(sider_items)) * 3


def test_votes_from_two_raters_at_once_all_land_and_a_form_sent_twice_counts_once(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs], repeat_every=4)
    errors = []

    def rater(name):
        try:
            rate(base, name, lambda left, right, q: "same")
        except Exception as err:  # reported by the main thread
            errors.append(err)

    with running(db) as base:
        threads = [threading.Thread(target=rater, args=(name,)) for name in ("ann", "ben")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        total = len(load_study(db).items("ann")) + len(load_study(db).items("ben"))
        assert count_votes(db) == total * len(QUESTION_NAMES)
        _, _, body = fetch(f"{base}/rate?rater=cid")
        form = {**page_form(body.decode()), **{f"q_{q}": "left" for q in QUESTION_NAMES}}
        sent = [threading.Thread(target=fetch, args=(f"{base}/rate", form)) for _ in range(4)]
        for thread in sent:
            thread.start()
        for thread in sent:
            thread.join()
        assert count_votes(db) == (total + 1) * len(QUESTION_NAMES)
        _, _, body = fetch(f"{base}/rate?rater=cid")
        assert progress(body.decode())[0] == 2


def test_report_counts_equal_the_votes_cast(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs], repeat_every=5)
    choices = iter(["left", "right", "same"] * 1000)
    with running(db) as base:
        rate(base, "r1", lambda left, right, q: next(choices), pages=7)
        rate(base, "r2", lambda left, right, q: next(choices), pages=2)
    paths = write_study_report(db, tmp_path / "report")
    assert [p.name for p in paths] == ["report.md", "votes.csv"]
    markdown = paths[0].read_text()
    cast = 9 * len(QUESTION_NAMES)
    assert (
        f"- votes: {cast} (" in markdown and "- pages answered: 9" in markdown and "- raters with votes: 2" in markdown
    )
    lines = paths[1].read_text().strip().splitlines()
    assert lines[0].startswith("vote_id,rater,position,pair,clip,category,question,choice")
    assert len(lines) - 1 == cast == count_votes(db)
    # Every first-time vote is in the win table once: wins + losses + ties over one method's rows.
    numbers = re.findall(rf"^\| (\w+) \| {ALPHA} \| \w+ \| (\d+) \| (\d+) \| (\d+) \|", markdown, re.M)
    as_alpha = sum(int(w) + int(lo) + int(t) for _, w, lo, t in numbers)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        expected = connection.execute(
            "SELECT COUNT(*) FROM votes v JOIN pairs p ON p.id = v.pair WHERE v.is_repeat = 0 "
            "AND ? IN (p.method_a, p.method_b)",
            (ALPHA,),
        ).fetchone()[0]
    assert as_alpha == expected


def test_pages_name_no_method_clip_or_file_and_media_urls_are_opaque(tmp_path, three_runs, caplog):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs], repeat_every=3)
    forbidden = [ALPHA, BETA, GAMMA, "clip0", "clip1", str(tmp_path), "edited", ".mp4", str(db)]
    caplog.set_level("INFO", logger="aved.study")
    with running(db) as base:
        _, _, start = fetch(f"{base}/")
        pages = [start.decode(), *rate(base, "viewer", lambda left, right, q: "right")]
        token = page_form(pages[1])["token"]
        for page in pages:
            assert not [word for word in forbidden if word in page]
        for page in pages[1:-1]:
            token_of_page = page_form(page)["token"]
            urls = [f"/media/{token_of_page}/{what}" for what in ("source", "left", "right")]
            assert re.findall(r'src="([^"]+)"', page) == urls
        assert 'id="done"' in pages[-1] and f"You answered {len(pages) - 2} of {len(pages) - 2}" in pages[-1]
        left_method, right_method, pair_id = shown(db, token)
        pair = load_study(db).pairs[pair_id]
        files = {pair.method_a: pair.media_a, pair.method_b: pair.media_b}
        for what, path in (("left", files[left_method]), ("right", files[right_method]), ("source", pair.media_source)):
            status, _, body = fetch(f"{base}/media/{token}/{what}")
            assert status == 200 and body == path.read_bytes(), what
        status, _, body = fetch(f"{base}/media/{token}/left", headers={"Range": "bytes=10-19"})
        assert status == 206 and body == files[left_method].read_bytes()[10:20]
        assert fetch(f"{base}/media/{token}/left", headers={"Range": "bytes=999999-"})[0] == 416
        assert fetch(f"{base}/media/{'0' * 32}/left")[0] == 404
        assert fetch(f"{base}/media/{token}/other")[0] == 404
        assert fetch(f"{base}/nowhere")[0] == 404
    assert any("GET /rate?rater=viewer" in record.getMessage() for record in caplog.records)


def test_a_head_request_records_no_view_and_a_get_does(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs])

    def views() -> int:
        with contextlib.closing(sqlite3.connect(db)) as connection:
            return connection.execute("SELECT COUNT(*) FROM views").fetchone()[0]

    with running(db) as base:
        head = urllib.request.Request(f"{base}/rate?rater=checker", method="HEAD")
        with urllib.request.urlopen(head, timeout=30) as response:
            assert response.status == 200 and response.read() == b""
        assert views() == 0
        assert fetch(f"{base}/rate?rater=checker")[0] == 200
        assert views() == 1


def test_bad_rater_ids_missing_answers_and_markup_get_clear_pages(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs])
    with running(db) as base:
        status, _, body = fetch(f"{base}/rate?rater=")
        assert status == 400 and "Please enter a rater id." in body.decode()
        status, _, body = fetch(f"{base}/rate?rater={'x' * 65}")
        assert status == 400 and "at most 64 characters" in body.decode()
        status, _, body = fetch(f"{base}/rate?rater={quote('<b>bold</b>')}")
        assert status == 200 and "<b>bold</b>" not in body.decode() and "&lt;b&gt;bold&lt;/b&gt;" in body.decode()
        form = {**page_form(body.decode()), "q_prompt": "left", "q_sync": "maybe"}
        status, _, body = fetch(f"{base}/rate", form)
        assert status == 400 and "Please answer every question." in body.decode()
        assert 'id="q_prompt_left" name="q_prompt" value="left" required checked' in body.decode()
        assert count_votes(db) == 0
        form = {**form, "position": "5", "q_preserve": "same", "q_sync": "same"}
        assert fetch(f"{base}/rate", form)[0] == 400  # a token of another page
    with pytest.raises(AvedError, match="no such study file"):
        make_server(tmp_path / "none.db")
    (tmp_path / "junk.db").write_text("not sqlite")
    with pytest.raises(AvedError, match="not an aved study file"):
        make_server(tmp_path / "junk.db")


# ----------------------------------------------------------------------------------------------- a real browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(db: Path, port: int, log: Path) -> tuple[subprocess.Popen, str]:
    """`serve` in a process of its own (to be killed) and its URL, once it is bound (port 0: any free one)."""
    argv = [sys.executable, "-m", "aved", "study", "serve", str(db), "--port", str(port)]
    with open(log, "ab") as sink:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=sink, cwd=ROOT, text=True)
    # The first line that names the URL ('' at the end: the process died before it was bound).
    for line in iter(process.stdout.readline, ""):
        if match := re.search(r"http://[\w.:\[\]-]+", line):
            return process, match[0]
    process.wait(timeout=30)
    raise AssertionError(f"the study server did not start: {log.read_text()}")


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL: no handler runs, no buffer is flushed, as when the machine's OOM killer or `kill -9` strikes."""
    if process.poll() is None:  # Popen.kill on a reaped process would do nothing; say so plainly
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()


def test_a_killed_server_loses_no_acknowledged_vote_and_raters_resume(tmp_path, three_runs):
    db = tmp_path / "study.db"
    create_study(db, [str(r) for r in three_runs], repeat_every=5)
    server, base = _start_server(db, 0, tmp_path / "server.log")
    port = int(base.rsplit(":", 1)[1])
    try:
        rate(base, "kim", lambda left, right, q: "left", pages=3)
        rate(base, "lee", lambda left, right, q: "right", pages=1)
        _, _, body = fetch(f"{base}/rate?rater=kim")  # kim's 4th page is open when the server dies
        open_form = {**page_form(body.decode()), **{f"q_{q}": "same" for q in QUESTION_NAMES}}
        _kill(server)
        assert count_votes(db) == 4 * len(QUESTION_NAMES)
        server, base = _start_server(db, port, tmp_path / "server.log")
        status, _, body = fetch(f"{base}/rate", open_form)
        assert status == 200 and progress(body.decode())[0] == 5
        _, _, body = fetch(f"{base}/rate?rater=lee")
        assert progress(body.decode())[0] == 2
    finally:
        _kill(server)
    assert count_votes(db) == 5 * len(QUESTION_NAMES)


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser test needs a system Chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Python playwright client is not installed")
    return sync_playwright


def _answer(page, choices: list[str]) -> None:
    """Pick one choice per question on the page and submit it, waiting for the next page."""
    for question, choice in zip(QUESTION_NAMES, choices, strict=True):
        page.check(f"input[name=q_{question}][value={choice}]")
    with page.expect_navigation():
        page.click("#submit")


def test_two_raters_in_chromium_survive_a_killed_server(tmp_path, media):
    sync_playwright = _playwright()
    started = time.monotonic()
    clips = {f"clip{k}": "ok" for k in range(3)}
    runs = [str(bench_run(tmp_path / name, name, clips, media, edit=e)) for name, e in ((ALPHA, "red"), (BETA, "blue"))]
    db = tmp_path / "study.db"
    create_study(db, runs, repeat_every=3, seed=3)
    total = len(load_study(db).items("alice"))
    port, log = _free_port(), tmp_path / "server.log"
    server, base = _start_server(db, port, log)
    cast = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            alice, bob = (browser.new_context(viewport={"width": 1100, "height": 900}).new_page() for _ in range(2))
            for page, name in ((alice, "alice"), (bob, "bob")):
                page.goto(base + "/")
                page.fill("#rater", name)
                with page.expect_navigation():
                    page.click("#begin")
            assert alice.inner_text("#progress") == f"Pair 1 of {total}"
            assert alice.locator("video#source").count() == alice.locator("video#left").count() == 1
            # The clip plays: the browser read its metadata through the opaque URL.
            alice.wait_for_function("document.querySelector('video#left').readyState >= 1", timeout=10_000)
            for choices in (["left", "right", "same"], ["right", "right", "left"]):
                _answer(alice, choices)
                cast += 1
            _answer(bob, ["same", "same", "same"])
            cast += 1
            assert alice.inner_text("#progress") == f"Pair 3 of {total}"
            alice.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 2)")
            alice.wait_for_timeout(SPINNER_MS)
            alice.screenshot(path=str(tmp_path / "study.png"), full_page=True)
            if os.environ.get("AVED_DOCS_SCREENSHOTS") == "1":
                shutil.copy(tmp_path / "study.png", SCREENSHOT)

            _kill(server)  # between votes: alice's page is open, bob's too
            assert count_votes(db) == cast * len(QUESTION_NAMES)  # every acknowledged vote is in the file
            server, base = _start_server(db, port, log)

            _answer(alice, ["left", "left", "left"])  # the form loaded before the kill still counts
            cast += 1
            assert alice.inner_text("#progress") == f"Pair 4 of {total}"
            bob.reload()
            assert bob.inner_text("#progress") == f"Pair 2 of {total}"
            for page in (alice, bob):
                while page.locator("#done").count() == 0:
                    _answer(page, ["right", "same", "left"])
                    cast += 1
                assert f"You answered {total} of {total}" in page.inner_text("#done")
            browser.close()
    finally:
        _kill(server)
    assert cast == 2 * total
    markdown, votes_csv = study_report(db)
    assert f"- votes: {cast * len(QUESTION_NAMES)} (" in markdown and "- raters with votes: 2" in markdown
    assert len(votes_csv.strip().splitlines()) - 1 == cast * len(QUESTION_NAMES)
    assert time.monotonic() - started < 60


def test_the_cli_creates_a_study_and_reports_it(tmp_path, three_runs, capsys):
    from cli_helpers import assert_one_line_failure, run_cli

    db = tmp_path / "cli.db"
    code, out, err = run_cli(capsys, "study", "create", db, "--runs", *three_runs, "--repeat-every", "0")
    assert code == 0 and "12 pairs" in out, err
    code, _, err = run_cli(capsys, "study", "create", db, "--runs", *three_runs)
    assert_one_line_failure(code, err, str(db))  # the study exists: refused, one line
    code, out, err = run_cli(capsys, "study", "report", db)
    assert code == 0, err
    assert (tmp_path / "cli_report" / "report.md").is_file() and (tmp_path / "cli_report" / "votes.csv").is_file()
