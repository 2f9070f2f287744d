"""`aved toyworld bench`: the metrics bound by the source and ground-truth rows, and a short resumable run."""

import json

import numpy as np
import pytest

from aved.codec import prepare_clip
from aved.toyworld import models
from aved.toyworld.bench import METRICS, TYPE_METRICS, paired_differences, paired_tables, score_row, verdict
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
    assert "| aved − independent |" in table and "| aved − sdedit |" in table  # the paired section
    assert table.count("| edit type | tasks | source | aved |") == len(TYPE_METRICS)  # per-edit-type tables
    assert (out / "paired.csv").read_text().count("\naved,") == 3 * len(METRICS)
    assert (out / "summary.png").stat().st_size > 0 and (out / "clips" / TASKS[0].id / "aved.mp4").exists()
    assert main(argv) == 0  # resumes: nothing left to do
    assert (out / "results.jsonl").read_text().splitlines() == records
    settings = json.loads((out / "bench.json").read_text())
    assert settings["config"]["steps"] == 2 and settings["tasks"] == 2
    assert main([*argv[:-4], "--steps", "3", "--out", str(out), *argv[-4:]]) == 2  # other settings: refused


def _records(rows: dict[str, list[float | None]], metric: str) -> list[dict]:
    return [
        {"task": f"{i:03d}", "row": row, "edit_type": "kind", metric: value}
        for row, values in rows.items()
        for i, value in enumerate(values)
    ]


def test_paired_difference_is_the_paired_t_interval():
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 12)  # tasks differ a lot; the modes differ by a small, steady amount
    better = base + 0.05 + rng.normal(0, 0.01, 12)
    records = _records({"aved": list(better), "dds": list(base)}, "av_align")
    stat = paired_differences(records, "aved", "dds")["av_align"]
    low, high = ttest_rel(better, base).confidence_interval(0.95)
    assert stat.n == 12
    assert stat.mean == pytest.approx((low + high) / 2) and stat.half == pytest.approx((high - low) / 2)
    assert verdict(stat, "av_align") == "better"
    assert verdict(paired_differences(records, "dds", "aved")["av_align"], "av_align") == "worse"
    # the same difference on a lower-is-better metric reads the other way
    lower = _records({"aved": list(better), "dds": list(base)}, "onset_ms")
    assert verdict(paired_differences(lower, "aved", "dds")["onset_ms"], "onset_ms") == "worse"


def test_paired_difference_skips_tasks_missing_a_value_and_calls_ties():
    records = _records({"aved": [0.5, None, 0.7, 0.2], "independent": [0.5, 0.9, 0.6, 0.3]}, "av_align")
    stat = paired_differences(records, "aved", "independent")["av_align"]
    assert stat.n == 3 and stat.mean == pytest.approx(0.0)
    assert verdict(stat, "av_align") == ""
    markdown, csv_text = paired_tables(records)
    assert "| aved − independent |" in markdown and "aved,independent,av_align," in csv_text
