"""`aved toyworld bench`: the metrics bound by the source and ground-truth rows, and a short resumable run."""

import json

import numpy as np
import pytest

from aved.codec import prepare_clip
from aved.toyworld import models
from aved.toyworld.bench import METRICS, score_row
from aved.toyworld.tasks import task_set

TASKS = task_set(seed=0, count=16, duration=2.0)


@pytest.fixture(scope="module")
def prepared():
    media = models.media_config()
    return [(t, prepare_clip(t.source_clip(), media), prepare_clip(t.target_clip(), media)) for t in TASKS]


def test_ground_truth_scores_as_a_perfect_edit(prepared):
    mel = models.media_config().mel
    rows = [score_row(task, source, truth, truth, mel) for task, source, truth in prepared]
    assert np.mean([r["frame_target_acc"] for r in rows]) >= 0.97
    assert np.nanmean([r["frame_leak"] for r in rows]) <= 0.03
    assert np.mean([r["sound_target_acc"] for r in rows]) >= 0.97
    assert all(r["gt_psnr"] == 100.0 and r["gt_mel_l1"] == 0.0 for r in rows)
    assert np.nanmean([r["trajectory_px"] for r in rows]) < 1.0  # same motion, other looks
    assert np.nanmean([r["onset_ms"] for r in rows]) < 10.0


def test_source_scores_as_no_edit(prepared):
    mel = models.media_config().mel
    for task, source, truth in prepared:
        row = score_row(task, source, truth, source, mel)
        assert row["trajectory_px"] == 0.0 and row["background_psnr"] == 100.0
        if task.edit_type == "identity":
            assert row["gt_psnr"] == 100.0
        elif "kind" not in task.changed:
            assert row["gt_mel_l1"] < 1e-6  # colour and background edits keep the sound bit for bit
        if "colour" in task.changed:
            assert row["frame_target_acc"] < 1.0  # the source does not have the target colour
    assert {t.edit_type for t in TASKS} >= {"kind", "colour", "background", "identity"}


def test_short_bench_run_writes_its_table_and_resumes(tiny_models, tmp_path):
    from aved.cli import main

    out = tmp_path / "bench"
    argv = [
        "toyworld", "bench", "--modes", "aved,independent,sdedit,video-only", "--tasks", "2", "--steps", "2",
        "--out", str(out), "--video-model", str(tiny_models["sd"]), "--audio-model", str(tiny_models["audioldm2"]),
    ]  # fmt: skip
    assert main(argv) == 0
    records = (out / "results.jsonl").read_text().splitlines()
    assert len(records) == 2 * 6  # source, ground truth and the four modes for each task
    table = (out / "table.md").read_text()
    for row in ("| source |", "| aved |", "| independent |", "| sdedit |", "| video-only |", "| ground truth |"):
        assert row in table
    by_row = {(r["task"], r["row"]): r for r in map(json.loads, records)}
    for task in TASKS[:2]:  # video-only = the independent edit's frames + the source's sound
        half, both, source = (by_row[task.id, row] for row in ("video-only", "independent", "source"))
        assert half["seconds"] is None and half["gt_psnr"] == both["gt_psnr"]
        assert half["gt_mel_l1"] == source["gt_mel_l1"] and half["sound_target_acc"] == source["sound_target_acc"]
    assert all(title in table for title in METRICS.values())
    assert (out / "summary.png").stat().st_size > 0 and (out / "clips" / TASKS[0].id / "aved.mp4").exists()
    assert main(argv) == 0  # resumes: nothing left to do
    assert (out / "results.jsonl").read_text().splitlines() == records
    settings = json.loads((out / "bench.json").read_text())
    assert settings["config"]["steps"] == 2 and settings["tasks"] == 2
    assert main([*argv[:-4], "--steps", "3", "--out", str(out), *argv[-4:]]) == 2  # other settings: refused
