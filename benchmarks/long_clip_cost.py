"""Time and peak memory of one ToyWorld edit of the whole clip at several lengths (docs/design.md §6): the sound
past the prior's 2.08 s window is edited as overlapping windows, the frames as more grids.

Each length runs in a process of its own (peak RSS is per process): the first ToyWorld task rendered at that
length, `--fast` (25 annealed steps) unless `--steps`, `--duration all`. Prints seconds per edit (priors loaded
before the clock starts), the audio windows and frame grids, and the peak resident memory.

    python benchmarks/long_clip_cost.py [--seconds 2,4,8,16] [--steps 25]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def one(seconds: float, steps: int) -> dict:
    """Edit the first task rendered at `seconds`; the figures as a dict (run inside the child process)."""
    from aved.api import edit
    from aved.codec import audio_windows
    from aved.config import FAST_PRESET, EditConfig, apply_overrides, apply_preset
    from aved.media.frames import num_grids
    from aved.priors.load import load_audio_prior, load_video_prior
    from aved.toyworld.tasks import task_set

    task = task_set(seed=0, count=1, duration=seconds)[0]
    config = apply_overrides(apply_preset(EditConfig(), "toyworld"), {**FAST_PRESET, "steps": steps})
    apply_overrides(config, {"media.duration": 0.0, "prompts.source": task.source_prompt})
    config.prompts.target = task.target_prompt
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    clip = task.source_clip()
    started = time.perf_counter()
    result = edit(clip, config=config, video_prior=video, audio_prior=audio, progress=False)
    elapsed = time.perf_counter() - started
    windows = audio_windows(audio, config.media, len(result.source.audio) / result.source.sample_rate)
    return {
        "seconds": seconds,
        "edit_s": round(elapsed, 2),
        "windows": windows.count,
        "grids": num_grids(len(result.frames), config.media.grid),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="2,4,8,16")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one(args.child, args.steps)))
        return
    rows = []
    for seconds in (float(s) for s in args.seconds.split(",")):
        argv = [sys.executable, __file__, "--child", str(seconds), "--steps", str(args.steps)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(
            f"{row['seconds']:5.1f} s clip: {row['edit_s']:6.1f} s per edit ({args.steps} steps), "
            f"{row['windows']} audio windows, {row['grids']} grids, peak RSS {row['peak_mb']} MB",
            flush=True,
        )
    base = rows[0]
    for row in rows[1:]:
        ratio = row["seconds"] / base["seconds"]
        print(
            f"{row['seconds']:g} s / {base['seconds']:g} s = {ratio:g}×: time {row['edit_s'] / base['edit_s']:.2f}×, "
            f"memory above the first run's {row['peak_mb'] - base['peak_mb']:+d} MB"
        )


if __name__ == "__main__":
    main()
