"""Issue 16's classes, run as a user meets them: one `aved` process per case (bad input, odd media, bad options,
full outputs, signals, concurrent runs), each judged and tallied: ended as promised, traceback, false success
(exit 0 with a wrong result and no word), stale or half-written output.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/hardening_cases.py [--only CLASS] [--work DIR]

Prints one line per case and the tally by class; exits 1 if any case broke its promise. Edits use the shipped
ToyWorld priors for two steps; a full run takes about 8 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the odd media the tests build, made here the same way

import odd_media  # noqa: E402
from cli_helpers import run_and_signal, stderr_lines  # noqa: E402

from aved.config import TOYWORLD_WEIGHTS  # noqa: E402
from aved.media.clip import read_clip, write_clip  # noqa: E402
from aved.metrics.tiny import write_tiny_metric_models  # noqa: E402

TOY = ROOT / "examples" / "toyworld.mp4"
PROMPTS = ["--source", "a red ball bouncing on grass", "--target", "a yellow bell bouncing on grass"]
EDIT = ["edit", "--model", "toyworld", "--steps", "2", *PROMPTS]
# A case's stderr line that promises something: exactly one `aved: error:` line, last.
ERROR, WARNING = "aved: error: ", "aved: warning: "
BIG = (1920, 1080)
MEMORY_SLACK_MB = 100  # the 1080p clip may cost this much more than the 64 px one; keeping its frames costs 373 MB


@dataclass
class Case:
    klass: str
    name: str
    argv: list[str]
    expect: str  # "error", "warning" or "ok"
    needle: str = ""  # in the error or warning line (for "ok": in stdout)
    out: str | None = None  # must not exist after an error
    check: Callable[[Path], str | None] | None = None  # after an "ok": a problem in words, or None
    interrupt: int | None = None  # a signal sent once the edit's progress bar shows
    exit_code: int = 2  # of an "error": 2 for bad input, 1 for a run that failed


@dataclass
class Outcome:
    case: Case
    code: int
    stdout: str
    stderr: str
    peak_mb: float
    verdict: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)


def run_case(case: Case, work: Path) -> Outcome:
    """Run `aved ARGV` in `work`, sending the case's signal once its edit has started; peak RSS from wait4."""
    return Outcome(case, *run_and_signal(case.argv, case.interrupt, cwd=work))


def judge(outcome: Outcome, work: Path) -> None:
    """Set the verdict: promised, traceback, false success, stale output or other."""
    case, lines = outcome.case, stderr_lines(outcome.stderr)
    errors = [line for line in lines if line.startswith(ERROR)]
    warns = [line for line in lines if line.startswith(WARNING)]
    stages = [p.name for p in work.rglob("*") if ".partial-" in p.name or ".replaced-" in p.name]
    if "Traceback" in outcome.stderr:
        outcome.verdict, outcome.detail = "traceback", lines[-1] if lines else ""
    elif stages:
        outcome.verdict, outcome.detail = "stale output", ", ".join(stages[:3])
    elif case.expect == "error":
        out_left = case.out is not None and (work / case.out).exists()
        if outcome.code == 0:
            outcome.verdict, outcome.detail = "false success", (warns or ["exit 0, no error"])[0]
        elif out_left:
            outcome.verdict, outcome.detail = "stale output", f"{case.out} exists after the error"
        elif (
            outcome.code == case.exit_code and len(errors) == 1 and lines[-1] == errors[0] and case.needle in errors[0]
        ):
            outcome.verdict, outcome.detail = "promised", errors[0]
        else:
            outcome.verdict, outcome.detail = "other", f"exit {outcome.code}: {lines[-1] if lines else ''}"
    elif case.expect == "warning":
        hit = [w for w in warns if case.needle in w]
        if outcome.code == 0 and hit:
            outcome.verdict, outcome.detail = "promised", hit[0]
        elif outcome.code == 0:
            outcome.verdict, outcome.detail = "false success", "exit 0 without the warning"
        else:
            outcome.verdict, outcome.detail = "other", f"exit {outcome.code}: {lines[-1] if lines else ''}"
    else:
        expected_code = {None: 0, signal.SIGTERM: 143, signal.SIGINT: 130}[case.interrupt]
        problem = None if outcome.code == expected_code else f"exit {outcome.code}: {lines[-1] if lines else ''}"
        if problem is None and case.needle and case.needle not in outcome.stdout + outcome.stderr:
            problem = f"'{case.needle}' not in the output"
        if problem is None and case.check is not None:
            problem = case.check(work)
        if problem is None:
            outcome.verdict, outcome.detail = "promised", (lines[-1] if lines else "")
        else:
            outcome.verdict = "false success" if outcome.code == 0 else "other"
            outcome.detail = problem


# ----------------------------------------------------------------------------------------- the inputs


def build_inputs(work: Path) -> None:
    """Every file the cases read, made once in `work`."""
    shutil.copy(TOY, work / "toy.mp4")
    odd_media.truncated_clip(work)
    odd_media.vfr_clip(work)
    odd_media.slow_start_clip(work)
    odd_media.clip_with_audio(work / "quiet.mp4", 2.0, np.full(32000, 7e-11, np.float32))
    odd_media.clip_with_audio(work / "short.mp4", 0.0625, odd_media.tone(0.06))
    odd_media.clip_with_audio(work / "half.mp4", 1.0, odd_media.tone(1.0), fps=8.0)
    write_clip(work / "mute.mp4", read_clip(TOY).frames, 16.0)
    (work / "loop.mp4").symlink_to(work / "loop.mp4")
    (work / "broken.mp4").symlink_to(work / "gone.mp4")
    (work / "notes.mp4").write_text("not a video\n")
    (work / "empty.mp4").write_bytes(b"")
    (work / "taken").write_text("a file in the way\n")
    (work / "nan.json").write_text('{"guidance_scale": NaN}')
    (work / "broken.json").write_text("{ steps: 3")
    (work / "occupied").mkdir()
    (work / "occupied" / "mine.txt").write_text("someone's file\n")
    for name, change in (("no_vae", "vae"), ("pickled", "unet")):
        shutil.copytree(TOYWORLD_WEIGHTS / "video", work / name)
        part = work / name / change
        if name == "no_vae":
            shutil.rmtree(part)
        else:
            for weights in part.glob("*.safetensors"):
                weights.rename(weights.with_suffix(".bin"))
    (work / "videos").mkdir()
    shutil.copy(TOY, work / "videos" / "ball.mp4")
    (work / "manifest.csv").write_text(
        "name,src,trg,src_category,trg_category\n"
        "ball,a red ball bouncing on grass,a yellow bell bouncing on grass,ball,bell\n"
    )
    (work / "ghosts.csv").write_text("name,src,trg,src_category,trg_category\nghost,a,b,ball,bell\n")
    # 2 s of 1920×1080 at 30 fps: 60 frames, 373 MB as RGB; the edit keeps 8 frames of 64 px
    gradient = np.linspace(0, 255, BIG[0], dtype=np.float32)[None, :, None]
    frames = [np.broadcast_to((gradient + 3 * i) % 256, (BIG[1], BIG[0], 3)).astype(np.uint8) for i in range(60)]
    write_clip(work / "big.mp4", np.stack(frames), 30.0, odd_media.tone(2.0), 16000)
    write_tiny_metric_models(work / "metric_models")


def _exists(*names: str) -> Callable[[Path], str | None]:
    return lambda work: next((f"{n} missing" for n in names if not (work / n).exists()), None)


def _absent(*names: str) -> Callable[[Path], str | None]:
    return lambda work: next((f"{n} left behind" for n in names if (work / n).exists()), None)


def _duration(name: str, seconds: float) -> Callable[[Path], str | None]:
    def check(work: Path) -> str | None:
        length = read_clip(work / name).duration
        return None if abs(length - seconds) < 0.05 else f"{name} lasts {length:.2f} s, not {seconds:.2f} s"

    return check


def cases() -> list[Case]:
    """The cases, class by class (issue 16's five classes, and signals and concurrency)."""
    metric = ["metrics", "toy.mp4", "toy.mp4", "--source-prompt", "a", "--target-prompt", "b"]
    bench = ["bench", "run", "manifest.csv", "--videos", "videos", "--model", "toyworld", "--steps", "2"]
    bench += ["--metrics", "av_align"]
    out = []
    false = "1 false successes"
    for name, option, needle in [
        ("lr 1e30, video-only", ["--mode", "video-only", "--set", "lr=1e30"], "diverged at step 1"),
        ("lr 1e30, aved", ["--set", "lr=1e30"], "diverged at step 1"),
        ("lr 1e6", ["--set", "lr=1e6"], "diverged"),
        ("lr inf", ["--set", "lr=inf"], "lr must be"),
        ("lr nan", ["--set", "lr=nan"], "lr must be"),
        ("guidance nan", ["--set", "guidance_scale=nan"], "guidance_scale"),
        ("guidance inf", ["--set", "guidance_scale=inf"], "guidance_scale"),
        ("tau-video 2", ["--tau-video", "2"], "relevance.tau_video"),
        ("tau-audio -1", ["--tau-audio", "-1"], "relevance.tau_audio"),
        ("tau-video nan", ["--tau-video", "nan"], "relevance.tau_video"),
        ("weights.sync inf", ["--set", "weights.sync=inf"], "weights.sync"),
        ("lr_decay 2", ["--set", "lr_decay=2"], "lr_decay"),
        ("config file with NaN", ["--config", "nan.json"], "guidance_scale"),
        ("duration -1", ["--duration", "-1"], "media.duration"),
        ("duration past the clip's end", ["--duration", "30"], "media.duration"),
    ]:
        out.append(Case(false, name, [*EDIT, "toy.mp4", "--out", "o", *option], "error", needle, out="o"))
    out += [
        Case(false, "truncated mp4 (index first)", [*EDIT, "cut.mp4", "--out", "o"], "error", "truncated", "o"),
        Case(false, "info on a truncated mp4", ["info", "cut.mp4"], "ok", "truncated or damaged"),
        Case(
            false,
            "variable frame rate: 2 s",
            ["reconstruct", "vfr.mp4", "-o", "v.mp4", "--model", "toyworld"],
            "ok",
            check=_duration("v.mp4", 2.0),
        ),
        Case(
            false,
            "a 2 s window on one held frame",
            ["reconstruct", "slow_start.mp4", "-o", "s.mp4", "--model", "toyworld"],
            "ok",
            check=_duration("s.mp4", 2.0),
        ),
        Case(false, "silent soundtrack", [*EDIT, "quiet.mp4", "--out", "o"], "error", "silent", "o"),
        Case(
            false,
            "equal prompts",
            [
                "edit",
                "--model",
                "toyworld",
                "--steps",
                "2",
                "toy.mp4",
                "--source",
                "a drum",
                "--target",
                "a drum",
                "--out",
                "o",
            ],
            "warning",
            "prompts are the same",
        ),
        Case(false, "0.06 s clip", [*EDIT, "short.mp4", "--out", "o"], "warning", "less than one frame"),
        Case(
            false,
            "metrics, clips of other lengths",
            [
                "metrics",
                "toy.mp4",
                "half.mp4",
                "--source-prompt",
                "a",
                "--target-prompt",
                "b",
                "--metrics",
                "dino",
                "--dino-model",
                "metric_models/dino",
                "--out",
                "h.json",
            ],
            "warning",
            "2.00 s vs 1.00 s",
        ),
    ]
    tb = "2 tracebacks"
    for name, argv, needle in [
        ("--out is a file", [*EDIT, "toy.mp4", "--out", "taken"], "is a file"),
        ("--out under a file", [*EDIT, "toy.mp4", "--out", "taken/o"], "is a file"),
        ("--device tpu", [*EDIT, "toy.mp4", "--out", "o", "--device", "tpu"], "model.device"),
        ("--device cuda (none here)", [*EDIT, "toy.mp4", "--out", "o", "--device", "cuda"], "no CUDA device"),
        ("--set lr=-5", [*EDIT, "toy.mp4", "--out", "o", "--set", "lr=-5"], "lr must be"),
        ("--steps 10^20", [*EDIT, "toy.mp4", "--out", "o", "--steps", str(10**20)], "steps must be"),
        ("--set steps=1e20", [*EDIT, "toy.mp4", "--out", "o", "--set", "steps=1e20"], "steps must be"),
        ("--frame-size 100000", [*EDIT, "toy.mp4", "--out", "o", "--frame-size", "100000"], "media.frame_size"),
        ("--fps 0", [*EDIT, "toy.mp4", "--out", "o", "--fps", "0"], "media.fps"),
        ("--grid 0", [*EDIT, "toy.mp4", "--out", "o", "--grid", "0"], "media.grid"),
        ("--start nan", [*EDIT, "toy.mp4", "--out", "o", "--start", "nan"], "media.start"),
        ("--set media.mel.n_fft=0", [*EDIT, "toy.mp4", "--out", "o", "--set", "media.mel.n_fft=0"], "n_fft"),
        ("--set nosuch=1", [*EDIT, "toy.mp4", "--out", "o", "--set", "nosuch=1"], "unknown config field"),
        ("--steps abc", [*EDIT, "toy.mp4", "--out", "o", "--steps", "abc"], "--steps"),
        ("--mode bogus", [*EDIT, "toy.mp4", "--out", "o", "--mode", "bogus"], "mode must be"),
        ("--config missing", [*EDIT, "toy.mp4", "--out", "o", "--config", "nope.json"], "nope.json"),
        ("--config not JSON", [*EDIT, "toy.mp4", "--out", "o", "--config", "broken.json"], "broken.json"),
        ("metrics --out DIR", [*metric, "--out", "occupied"], "is a folder"),
        ("metrics --out x.txt", [*metric, "--out", "x.txt"], ".json"),
        ("reconstruct -o x.txt", ["reconstruct", "toy.mp4", "-o", "x.txt", "--model", "toyworld"], ".mp4"),
        ("bench run --out FILE", [*bench, "--out", "taken"], "is a file"),
        ("clip missing", [*EDIT, "nope.mp4", "--out", "o"], "no such file"),
        ("clip is a folder", [*EDIT, "occupied", "--out", "o"], "not a regular file"),
        ("clip is text", [*EDIT, "notes.mp4", "--out", "o"], "not a readable video"),
        ("clip is empty", [*EDIT, "empty.mp4", "--out", "o"], "empty file"),
        ("toyworld --tasks 0", ["toyworld", "export", "tw", "--tasks", "0"], "--tasks"),
    ]:
        out.append(Case(tb, name, argv, "error", needle, out="o" if "--out" in argv and "o" in argv else None))
    outputs = "3 outputs"
    out += [
        Case(
            outputs,
            "edit into a new folder",
            [*EDIT, "toy.mp4", "--out", "done"],
            "ok",
            check=_exists("done/complete.json", "done/edited.mp4"),
        ),
        Case(outputs, "re-edit into a finished --out", [*EDIT, "toy.mp4", "--out", "done"], "error", "--overwrite"),
        Case(
            outputs,
            "--overwrite replaces it whole",
            [*EDIT, "toy.mp4", "--out", "done", "--overwrite", "--mode", "video-only"],
            "ok",
            check=_absent("done/relevance_audio.png"),
        ),
        Case(
            outputs,
            "--out holds other files",
            [*EDIT, "toy.mp4", "--out", "occupied", "--overwrite"],
            "error",
            "holds other files",
        ),
        Case(
            outputs,
            "bench run: missing --videos",
            [*bench[:3], "--videos", "novideos", *bench[5:], "--out", "b"],
            "error",
            "no such videos folder",
            out="b",
        ),
        Case(
            outputs,
            "bench run: every clip fails",
            [*bench[:2], "ghosts.csv", *bench[3:], "--out", "g"],
            "error",
            "1 of 1 clips failed",
            exit_code=1,
        ),
        Case(
            outputs,
            "bench run into a new folder",
            [*bench, "--out", "b2"],
            "ok",
            check=_exists("b2/clips/ball/complete.json"),
        ),
    ]
    memory = "4 memory"
    out += [
        Case(
            memory,
            "reconstruct 2 s of toy.mp4",
            ["reconstruct", "toy.mp4", "-o", "small.mp4", "--model", "toyworld"],
            "ok",
        ),
        Case(
            memory,
            "reconstruct 2 s of a 1080p30 clip",
            ["reconstruct", "big.mp4", "-o", "big_r.mp4", "--model", "toyworld"],
            "ok",
        ),
    ]
    messages = "5 modes and messages"
    out += [
        Case(
            messages,
            "video-only, no audio track",
            [*EDIT, "mute.mp4", "--out", "m", "--mode", "video-only"],
            "ok",
            check=_exists("m/edited.mp4"),
        ),
        Case(messages, "aved, no audio track", [*EDIT, "mute.mp4", "--out", "o"], "error", "mute.mp4: has no audio"),
        Case(messages, "symlink loop", ["info", "loop.mp4"], "error", "symbolic link loop"),
        Case(messages, "broken symlink", ["info", "broken.mp4"], "error", "broken symbolic link"),
        Case(
            messages,
            "no vae/ folder",
            ["reconstruct", "toy.mp4", "-o", "r.mp4", "--model", "toyworld", "--video-model", "no_vae"],
            "error",
            "no vae/ folder",
        ),
        Case(
            messages,
            "pickle-only weights",
            ["reconstruct", "toy.mp4", "-o", "r.mp4", "--model", "toyworld", "--video-model", "pickled"],
            "error",
            "pickle",
        ),
        Case(
            messages,
            "lpaps, source without audio",
            ["metrics", "mute.mp4", "toy.mp4", "--source-prompt", "a", "--target-prompt", "b", "--metrics", "lpaps"],
            "error",
            "mute.mp4",
        ),
        Case(
            messages,
            "offline metric model",
            [*metric, "--metrics", "clip_t", "--clip-model", "nope-model"],
            "error",
            "--clip-model PATH",
        ),
    ]
    out += [
        Case(
            "6 signals",
            f"{signum.name} mid-edit",
            ["edit", "--model", "toyworld", "--steps", "5000", *PROMPTS, "toy.mp4", "--out", "sig"],
            "ok",
            word,
            check=_absent("sig"),
            interrupt=signum,
        )
        for signum, word in ((signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted"))
    ]
    return out


def concurrent_bench(work: Path) -> Outcome:
    """A second `bench run` on a folder a first one is running in: refused, naming the holder."""
    argv = ["bench", "run", "manifest.csv", "--videos", "videos", "--model", "toyworld", "--metrics", "av_align"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "aved", *argv, "--out", "busy", "--steps", "5000"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    lock = work / "busy" / ".lock.0of1"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    case = Case(
        "7 concurrent runs",
        "second bench run on one --out",
        [*argv, "--out", "busy", "--steps", "5000"],
        "error",
        "in use by pid",
    )
    outcome = run_case(case, work)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    records = work / "busy" / "results.0.jsonl"
    outcome.extra["first_exit"] = first.returncode
    outcome.extra["records"] = len(records.read_text().splitlines()) if records.exists() else 0
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the classes whose name contains this")
    parser.add_argument("--work", default="/tmp/aved-hardening", help="scratch folder (replaced)")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    build_inputs(work)
    chosen = [c for c in cases() if not args.only or args.only in c.klass]
    outcomes = []
    for case in chosen:
        shutil.rmtree(work / "o", ignore_errors=True)  # the scratch output most cases name starts absent
        outcome = run_case(case, work)
        judge(outcome, work)
        outcomes.append(outcome)
        print(f"{outcome.verdict:<14} {case.klass:<22} {case.name:<34} {outcome.detail[:110]}", flush=True)
    if not args.only or "concurrent" in args.only:
        outcome = concurrent_bench(work)
        judge(outcome, work)
        outcomes.append(outcome)
        print(
            f"{outcome.verdict:<14} {outcome.case.klass:<22} {outcome.case.name:<34} {outcome.detail[:110]} "
            f"(first run: exit {outcome.extra['first_exit']}, {outcome.extra['records']} records)"
        )
    peaks = {o.case.name: o.peak_mb for o in outcomes if o.case.klass == "4 memory"}
    if len(peaks) == 2:
        small, big = peaks.values()
        print(
            f"peak RSS: 2 s of the 64 px toy clip {small:.0f} MB, 2 s of a 1080p30 clip {big:.0f} MB "
            f"(keeping its 60 decoded frames would add {60 * BIG[0] * BIG[1] * 3 / 2**20:.0f} MB)"
        )
        if big - small > MEMORY_SLACK_MB:
            for o in outcomes:
                if o.case.name.startswith("reconstruct 2 s of a 1080p"):
                    o.verdict, o.detail = "other", f"peak {big:.0f} MB against {small:.0f} MB"
    tally = Counter((o.case.klass, o.verdict) for o in outcomes)
    print(f"\n{len(outcomes)} cases")
    for klass in sorted({o.case.klass for o in outcomes}):
        counts = {v: n for (k, v), n in tally.items() if k == klass}
        print(f"  {klass:<22} " + ", ".join(f"{v} {n}" for v, n in sorted(counts.items())))
    totals = Counter(o.verdict for o in outcomes)
    print("  all                    " + ", ".join(f"{v} {n}" for v, n in sorted(totals.items())))
    summary = {o.case.name: {"verdict": o.verdict, "detail": o.detail, "exit": o.code} for o in outcomes}
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if totals["promised"] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
