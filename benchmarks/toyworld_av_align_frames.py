"""Whose frames align with the edited sound? AV-Align of one bench row's sound with several rows' frames.

Two ToyWorld bench folders on the same tasks whose sound is the same (a frames-only change, such as the motion
term) differ in AV-Align through their frames alone. For every non-identity task this pairs the first folder's
edited sound with the frames of each folder's edit, of the source and of the truth, and prints AV-Align, the
video flow peaks per clip and how the frames' flow-magnitude envelope correlates with the source's.

    python benchmarks/toyworld_av_align_frames.py FOLDER_A FOLDER_B [--row aved] [--edit-type background]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aved.bench.results import read_run_document
from aved.codec import prepare_clip
from aved.media.clip import read_clip
from aved.metrics.av_align import audio_peaks, flow_magnitudes, peak_iou, video_peaks
from aved.toyworld.models import media_config
from aved.toyworld.tasks import task_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--row", default="aved")
    parser.add_argument("--edit-type", help="only the tasks of this edit type (e.g. background)")
    args = parser.parse_args()
    media = media_config()
    run = read_run_document(args.a)["run"]
    tasks = task_set(seed=run["task_seed"], count=run["tasks"], duration=media.span())
    scores: dict[str, list[tuple[float, int, float]]] = {}
    for index, task in enumerate(tasks):
        if task.edit_type == "identity" or args.edit_type not in (None, task.edit_type):
            continue
        name = f"{index:03d}-{task.edit_type}"
        edits = {
            f: prepare_clip(read_clip(Path(f) / "clips" / name / f"{args.row}.mp4"), media) for f in (args.a, args.b)
        }
        sound = edits[args.a]
        onsets = audio_peaks(sound.audio, sound.sample_rate)
        source = prepare_clip(task.source_clip(), media)
        source_flow = flow_magnitudes(source.frames)
        clips = {**edits, "source": source, "truth": prepare_clip(task.target_clip(), media)}
        for label, clip in clips.items():
            flow = flow_magnitudes(clip.frames)
            peaks = video_peaks(flow, clip.fps)
            corr = float(np.corrcoef(flow, source_flow)[0, 1]) if flow.std() and source_flow.std() else np.nan
            scores.setdefault(label, []).append((peak_iou(onsets, peaks, 1 / clip.fps), len(peaks), corr))
    print(f"{len(scores['source'])} tasks; the sound of {args.a}'s `{args.row}` with each row's frames:")
    for label, values in scores.items():
        v = np.asarray(values, dtype=float)
        print(
            f"  {label:<40s} AV-Align {v[:, 0].mean():.3f}  video peaks/clip {v[:, 1].mean():.2f}  "
            f"flow envelope corr. with the source's {np.nanmean(v[:, 2]):.3f}"
        )


if __name__ == "__main__":
    main()
