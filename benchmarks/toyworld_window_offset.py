"""Does the ToyWorld sound prior place onsets by where they fall in its window? The same tasks cut at offsets.

Every ToyWorld training clip starts at its scene's start, and every impact falls on the 0.25 s grid from there,
so the sound prior only ever heard hits at 0, 0.25, 0.5, … s into its window. A long clip's later windows start
wherever the layout puts them (1.44, 2.96, … s at 8 s), off that grid. This edits each task's sound (audio-only,
`--fast`) on [s, s + 2 s) for several offsets s, one window each, and prints the onset error and bias against the
true impacts in that span, paired by task against s = 0, with the codec (the sound through the VAE and vocoder
alone) beside it. Onsets that follow the offset are the prior's grid, not the windows' blending.

    python benchmarks/toyworld_window_offset.py [--tasks 24] [--offsets 0,0.04,0.08,0.12,0.16,0.2]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from tqdm import tqdm

from aved.api import edit
from aved.bench.tables import summarize
from aved.codec import prepare_clip, reconstruct
from aved.config import FAST_PRESET, EditConfig, apply_overrides, apply_preset
from aved.media.clip import Clip
from aved.priors.load import load_audio_prior, load_video_prior
from aved.toyworld.render import render, trajectory
from aved.toyworld.scorers import onset_timing, sound_events
from aved.toyworld.tasks import task_set

SPAN_S = 2.0  # one window of the ToyWorld sound prior (2.08 s) holds it whole


def cut(clip: Clip, start: float) -> Clip:
    """[start, start + SPAN_S) of a rendered clip, time 0 at `start`."""
    keep = (clip.times >= start - 1e-9) & (clip.times < start + SPAN_S - 1e-9)
    first = round(start * clip.sample_rate)
    audio = clip.audio[first : first + round(SPAN_S * clip.sample_rate)]
    return Clip(clip.frames[keep], clip.times[keep] - start, clip.fps, audio, clip.sample_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--offsets", default="0,0.04,0.08,0.12,0.16,0.2")
    args = parser.parse_args()
    offsets = [float(s) for s in args.offsets.split(",")]
    config = apply_overrides(apply_preset(EditConfig(mode="audio-only"), "toyworld"), FAST_PRESET)
    config.media.duration = SPAN_S
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    longest = SPAN_S + max(offsets) + 0.25
    tasks = [t for t in task_set(seed=0, count=args.tasks, duration=longest) if t.edit_type != "identity"]
    rows: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for task in tqdm(tasks, desc="tasks"):
        source = render(task.source)
        impacts = trajectory(task.source).impacts
        for start in offsets:
            clip = cut(source, start)
            truth = impacts[(impacts >= start) & (impacts < start + SPAN_S)] - start
            job = dataclasses.replace(config, prompts=dataclasses.replace(config.prompts))
            job.prompts.source, job.prompts.target = task.source_prompt, task.target_prompt
            result = edit(clip, config=job, video_prior=video, audio_prior=audio, progress=False)
            codec = reconstruct(prepare_clip(clip, job.media), video, audio, job.media, progress=False)
            for name, sound, rate in (
                ("aved", result.audio, result.sample_rate),
                ("codec", codec.audio, codec.sample_rate),
            ):
                found = np.asarray([t for t, _ in sound_events(sound, rate)])
                timing = onset_timing(found, truth)
                rows.setdefault((name, start), []).append((timing["onset_ms"], timing["onset_bias_ms"]))
    print(f"{len(tasks)} tasks, audio-only at --fast, one {SPAN_S:g} s window cut at each offset (ms; mean ± 95 %)")
    for name in ("aved", "codec"):
        base = np.asarray(rows[(name, offsets[0])])
        for start in offsets:
            values = np.asarray(rows[(name, start)])
            err, bias = summarize(values[:, 0]), summarize(values[:, 1])
            paired = summarize(values[:, 0] - base[:, 0])
            print(
                f"  {name:<6s} offset {start:4.2f} s (grid {start % 0.25:4.2f}): onset err. {err.text(1)}, "
                f"bias {bias.text(1)}, err. − offset 0 paired {paired.text(1)}"
            )


if __name__ == "__main__":
    main()
