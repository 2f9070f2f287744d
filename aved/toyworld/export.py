"""The ToyWorld task set as an AvED-Bench folder: source clips, ground-truth targets and a manifest."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tqdm.auto import tqdm

from aved.media.clip import write_clip
from aved.progress import bar_disable
from aved.toyworld.tasks import EditTask


def manifest_rows(tasks: list[EditTask]) -> list[dict[str, str]]:
    """One AvED-Bench row per task (`name, src, trg, src_category, trg_category`) plus its edit type."""
    return [
        {
            "name": task.id,
            "src": task.source_prompt,
            "trg": task.target_prompt,
            "src_category": task.source.kind,
            "trg_category": task.target.kind,
            "edit_type": task.edit_type,
        }
        for task in tasks
    ]


def manifest_text(tasks: list[EditTask]) -> str:
    """The manifest as CSV text."""
    rows = manifest_rows(tasks)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def export_tasks(tasks: list[EditTask], out_dir: str | Path, progress: bool = True) -> Path:
    """Write `videos/<id>.mp4` (source), `targets/<id>.mp4` (ground truth) and `manifest.csv`; returns the manifest."""
    from aved.folders import atomic_write

    out_dir = Path(out_dir)
    for folder in ("videos", "targets"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    for task in tqdm(tasks, desc="render tasks", disable=bar_disable(progress)):
        for folder, clip in (("videos", task.source_clip()), ("targets", task.target_clip())):
            write_clip(out_dir / folder / f"{task.id}.mp4", clip.frames, clip.fps, clip.audio, clip.sample_rate)
    manifest = out_dir / "manifest.csv"
    atomic_write(manifest, manifest_text(tasks))
    return manifest
