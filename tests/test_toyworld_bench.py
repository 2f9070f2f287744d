"""`aved toyworld bench`: the metrics bound by the source and ground-truth rows, and a short resumable run."""

import json

import numpy as np
import pytest

from aved.bench.tables import adjusted_p_values, paired_p_value
from aved.bench.tables import paired_differences as _paired_differences
from aved.bench.tables import verdict as _verdict
from aved.codec import prepare_clip
from aved.toyworld import models
from aved.toyworld.metrics import BOUNDARY_METRICS, boundary_metrics, score_row
from aved.toyworld.metrics import TOYWORLD_METRICS as METRICS
from aved.toyworld.report import TYPE_METRICS, paired_tables
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
    for name in ("sound_recall", "sound_precision", "sound_f1", "bounce_recall", "bounce_precision", "bounce_f1"):
        assert np.mean([r[name] for r in rows]) >= 0.97, name
    assert np.mean([r["sound_extra"] for r in rows]) <= 0.1


def test_source_scores_as_no_edit(prepared):
    mel = models.media_config().mel
    for task, source, truth in prepared:
        row = score_row(task, source, truth, source, mel)
        assert row["trajectory_px"] == 0.0
        if "background" in task.changed:  # comparing with a background that should have changed means nothing
            assert np.isnan(row["background_psnr"])
        else:
            assert row["background_psnr"] == 100.0
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
        "toyworld", "bench", "--modes", "aved-no-motion,aved,independent,sdedit,video-only,aved-no-pres",
        "--tasks", "2", "--steps", "2",
        "--out", str(out), "--video-model", str(tiny_models["sd"]), "--audio-model", str(tiny_models["audioldm2"]),
    ]  # fmt: skip
    assert main(argv) == 0
    records = (out / "results.0.jsonl").read_text().splitlines()
    assert len(records) == 2 * 10  # source, truth, both through the VAEs, four modes and two ablations per task
    table = (out / "table.md").read_text()
    rows = ("| source |", "| source via VAEs |", "| aved |", "| sdedit |", "| truth via VAEs |", "| ground truth |")
    for row in rows:
        assert row in table
    by_row = {(r["task"], r["row"]): r for r in map(json.loads, records)}
    for task in TASKS[:2]:  # video-only = the independent edit's frames + the source's sound
        half, both, source = (by_row[task.id, row] for row in ("video-only", "independent", "source"))
        assert half["seconds"] is None and half["gt_psnr"] == both["gt_psnr"]
        assert half["gt_mel_l1"] == source["gt_mel_l1"] and half["sound_target_acc"] == source["sound_target_acc"]
    short = {m: t for m, t in METRICS.items() if m not in BOUNDARY_METRICS}  # a 2 s clip is one sound window
    assert all(title in table for title in short.values()) and "near window boundaries" not in table
    assert "| aved − independent |" in table and "| aved − sdedit |" in table  # the paired section
    assert table.count("| edit type | tasks | source | source via VAEs | aved |") == len(TYPE_METRICS)  # per edit type
    assert (out / "paired.csv").read_text().count("\naved,") == 5 * len(short)
    for task in TASKS[:2]:  # the ablation is aved with the anchor off, an edit of its own on aved's draws: in two
        # steps the frames' anchor is below the records' rounding, the sound's is not
        ablated, full = by_row[task.id, "aved-no-pres"], by_row[task.id, "aved"]
        assert ablated["seconds"] is not None and ablated["gt_mel_l1"] != full["gt_mel_l1"]
    for task in TASKS[:2]:  # aved without motion: independent's frames and aved's sound (asked for first, made last)
        no_motion, full, both = (by_row[task.id, row] for row in ("aved-no-motion", "aved", "independent"))
        assert no_motion["seconds"] is None and no_motion["gt_psnr"] == both["gt_psnr"] != full["gt_psnr"]
        assert no_motion["gt_mel_l1"] == full["gt_mel_l1"] != both["gt_mel_l1"]
    assert (out / "summary.png").stat().st_size > 0 and (out / "clips" / TASKS[0].id / "aved.mp4").exists()
    assert main(argv) == 0  # resumes: nothing left to do
    assert (out / "results.0.jsonl").read_text().splitlines() == records
    settings = json.loads((out / "config.json").read_text())
    assert settings["steps"] == 2 and settings["run"]["tasks"] == 2
    assert main([*argv[:-4], "--steps", "3", "--out", str(out), *argv[-4:]]) == 2  # other settings: refused


def test_every_ablation_is_aved_with_one_setting_changed_and_no_mode_of_its_own():
    from aved.config import EditConfig, apply_overrides, apply_preset
    from aved.modes import ABLATIONS, DEFAULT_ABLATIONS, MODES

    assert set(DEFAULT_ABLATIONS) <= set(ABLATIONS) and not set(ABLATIONS) & set(MODES)
    # The bench's own base: the ToyWorld preset, which sets some of what an ablation turns off (frame_regions).
    default = apply_preset(EditConfig(), "toyworld").to_dict()
    for name, overrides in ABLATIONS.items():
        ablated = apply_overrides(apply_preset(EditConfig(), "toyworld"), overrides).validate().to_dict()
        changed = {k for k in default if ablated[k] != default[k]}
        assert len(changed) == 1, f"{name} changes {sorted(changed) or 'nothing'} of the bench's aved, not one section"


def paired_differences(records, mode, other):
    return _paired_differences(records, METRICS, mode, other)


def verdict(stat, metric, p):
    return _verdict(stat, METRICS[metric], p)


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
    assert paired_p_value(stat) == pytest.approx(ttest_rel(better, base).pvalue)
    assert verdict(stat, "av_align", paired_p_value(stat)) == "better"
    reverse = paired_differences(records, "dds", "aved")["av_align"]
    assert verdict(reverse, "av_align", paired_p_value(reverse)) == "worse"
    # the same difference on a lower-is-better metric reads the other way; onset bias has no better side
    lower = paired_differences(_records({"aved": list(better), "dds": list(base)}, "onset_ms"), "aved", "dds")
    assert verdict(lower["onset_ms"], "onset_ms", paired_p_value(lower["onset_ms"])) == "worse"
    assert verdict(stat, "onset_bias_ms", 0.0) == ""
    assert verdict(type(stat)(3e-6, 0.0, 12), "av_align", 0.0) == ""  # below the records' 5 decimals: a tie


def test_paired_marks_control_the_false_discovery_rate():
    """Benjamini–Hochberg over the table: a weak effect marked alone (p < 0.05) loses its mark among nulls."""
    from scipy.stats import false_discovery_control, ttest_rel

    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 20)
    rows = {"aved": list(base + 0.5 + rng.normal(0, 0.05, 20)), "dds": list(base)}
    records = _records(rows, "av_align")
    # differences with exactly the given mean and sd 0.05: sound_f1's t is 2.27 (p ≈ 0.035), the nulls' exactly 0
    for metric, shift in (("sound_f1", 0.0254), *((m, 0.0) for m in ("frame_leak", "gt_psnr", "trajectory_px"))):
        z = rng.normal(0, 1, 20)
        noise = 0.05 * (z - z.mean()) / z.std(ddof=1)
        for record, value in zip(records[:20], base + shift + noise, strict=True):
            record[metric] = float(value)
        for record, value in zip(records[20:], base, strict=True):
            record[metric] = float(value)
    stats = {("dds", m): s for m, s in paired_differences(records, "aved", "dds").items()}
    adjusted = adjusted_p_values(stats, METRICS)
    tested = [k for k in stats if stats[k].n >= 2]
    by_aved = {r["task"]: r for r in records if r["row"] == "aved"}
    by_dds = {r["task"]: r for r in records if r["row"] == "dds"}
    raw = [ttest_rel([by_aved[t][k[1]] for t in sorted(by_aved)], [by_dds[t][k[1]] for t in sorted(by_dds)]).pvalue
           for k in tested]  # fmt: skip
    assert [adjusted[k] for k in tested] == pytest.approx(list(false_discovery_control(raw, method="bh")))
    assert verdict(stats["dds", "av_align"], "av_align", adjusted["dds", "av_align"]) == "better"
    weak = tested.index(("dds", "sound_f1"))
    assert raw[weak] < 0.05 <= adjusted["dds", "sound_f1"]  # significant alone, not among the table's tests
    assert verdict(stats["dds", "sound_f1"], "sound_f1", adjusted["dds", "sound_f1"]) == ""
    marked = [k for k in tested if verdict(stats[k], k[1], adjusted[k])]
    assert all(adjusted[k] >= p for k, p in zip(tested, raw, strict=True))  # adjusting never adds a mark
    assert len(marked) <= 2


def test_paired_difference_skips_tasks_missing_a_value_and_calls_ties():
    records = _records({"aved": [0.5, None, 0.7, 0.2], "independent": [0.5, 0.9, 0.6, 0.3]}, "av_align")
    stat = paired_differences(records, "aved", "independent")["av_align"]
    assert stat.n == 3 and stat.mean == pytest.approx(0.0)
    assert verdict(stat, "av_align", paired_p_value(stat)) == ""
    markdown, csv_text = paired_tables(records)
    assert "| aved − independent |" in markdown and "aved,independent,av_align," in csv_text


# ----------------------------------------------------------------------------------------------- events


def test_an_added_and_a_removed_sound_event_move_recall_and_precision_by_one_event(prepared):
    from aved.toyworld.render import impact_sound, trajectory
    from aved.toyworld.scorers import event_scores, sound_events

    task, _, truth = next(p for p in prepared if len(trajectory(p[0].target).impacts) >= 2)
    impacts = trajectory(task.target).impacts
    found = lambda audio: np.asarray([t for t, _ in sound_events(audio, truth.sample_rate)])  # noqa: E731
    assert event_scores(found(truth.audio), impacts) == {"recall": 1.0, "precision": 1.0, "f1": 1.0}
    n, rate = len(impacts), truth.sample_rate
    gaps = np.diff(np.concatenate([[0.0], impacts, [truth.duration]]))
    extra_at = float(np.concatenate([[0.0], impacts])[np.argmax(gaps)] + gaps.max() / 2)  # mid-way in the widest gap
    added = truth.audio.copy()
    sound = 0.5 * impact_sound(task.target.kind, rate, np.random.default_rng(0))
    start = round(extra_at * rate)
    added[start : start + len(sound)] += sound[: len(added) - start]
    scores = event_scores(found(added), impacts)
    assert scores["recall"] == 1.0 and scores["precision"] == pytest.approx(n / (n + 1))
    removed = truth.audio.copy()
    cut = round(impacts[0] * rate)
    removed[cut : round(impacts[1] * rate) - 1] = 0.0  # up to the next impact: no tail left to trigger
    scores = event_scores(found(removed), impacts)
    assert scores["recall"] == pytest.approx((n - 1) / n) and scores["precision"] == 1.0
    assert scores["f1"] == pytest.approx(2 * (n - 1) / (2 * n - 1))


def test_a_removed_bounce_moves_bounce_recall_by_one_impact(prepared):
    from aved.toyworld.render import trajectory
    from aved.toyworld.scorers import bounce_times, event_scores, visible_impacts

    for task, _, truth in prepared:
        impacts = visible_impacts(trajectory(task.target).impacts, len(truth.frames), truth.fps)
        found = bounce_times(truth.frames, truth.fps)
        assert event_scores(found, impacts)["f1"] == 1.0, task.id
    task, _, truth = next(p for p in prepared if len(visible_impacts(trajectory(p[0].target).impacts, 8, 4.0)) >= 2)
    impacts = visible_impacts(trajectory(task.target).impacts, len(truth.frames), truth.fps)
    frames = truth.frames.copy()
    k = round(impacts[0] * truth.fps)
    frames[k] = frames[k - 1]  # the object stays in the air where it should touch the ground
    scores = event_scores(bounce_times(frames, truth.fps), impacts)
    assert scores["recall"] == pytest.approx((len(impacts) - 1) / len(impacts)) and scores["precision"] == 1.0
    assert event_scores(np.zeros(0), np.zeros(0)) == {"recall": 1.0, "precision": 1.0, "f1": 1.0}


class _FailingPriors:
    """A PriorCache whose priors load for the run's check, then fail on every row (an out-of-memory GPU, say)."""

    def __init__(self):
        from aved.bench.run import PriorCache

        self.cache, self.calls = PriorCache(), 0

    def get(self, config):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("CUDA out of memory")
        return self.cache.get(config)


def test_a_failed_row_is_recorded_and_only_it_is_redone_through_the_shared_bench_layer(tiny_models, tmp_path):
    """Both benches share one folder layer: config.json claimed once, per-shard results, the same resume."""
    from aved.bench.results import claim_folder, latest_records
    from aved.bench.run import PriorCache
    from aved.config import EditConfig, apply_overrides
    from aved.errors import AvedError
    from aved.toyworld.bench import run_bench, run_document

    config = EditConfig(steps=1)
    apply_overrides(config, {"model.video": str(tiny_models["sd"]), "model.audio": str(tiny_models["audioldm2"])})
    config.media = models.media_config()
    out = tmp_path / "bench"
    failed = run_bench(out, config, ["aved"], count=1, progress=False, priors=_FailingPriors())
    assert (failed.ok, failed.failed) == (2, 3)  # source and truth need no prior; the VAE rows and the edit do
    assert all("CUDA out of memory" in e for e in failed.errors)
    first = latest_records(out)
    assert {r["row"] for r in first.values() if r["status"] == "error"} == {"source via VAEs", "truth via VAEs", "aved"}
    again = run_bench(out, config, ["aved"], count=1, progress=False, priors=PriorCache())
    assert (again.ok, again.failed) == (3, 0)
    lines = (out / "results.0.jsonl").read_text().splitlines()
    assert len(lines) == 5 + 3  # only the failed rows were redone
    assert run_bench(out, config, ["aved"], count=1, progress=False).skipped == 1  # the task is whole now
    config.steps = 2
    with pytest.raises(AvedError, match=r"holds a run with another config \(steps: 1 → 2\)"):
        claim_folder(out, run_document(config, 1, 0))  # the AvED-Bench runner's claim, on a ToyWorld folder


def test_priors_that_cannot_load_stop_the_run_before_it_claims_the_folder(tmp_path):
    from aved.config import EditConfig, apply_overrides
    from aved.errors import AvedError
    from aved.toyworld.bench import run_bench

    config = apply_overrides(EditConfig(steps=1), {"model.video": str(tmp_path / "nowhere"), "model.audio": "x"})
    with pytest.raises(AvedError, match="nowhere"):
        run_bench(tmp_path / "bench", config, ["aved"], count=1, progress=False)
    assert not (tmp_path / "bench" / "config.json").exists()  # nothing claimed: the right path may run there next


def test_a_bench_folder_of_an_older_aved_is_refused_not_mixed(tmp_path):
    from aved.bench.results import claim_folder
    from aved.config import EditConfig
    from aved.errors import AvedError
    from aved.toyworld.bench import run_document

    old = tmp_path / "old"
    old.mkdir()
    (old / "bench.json").write_text("{}")
    (old / "results.0of2.jsonl").write_text("")
    with pytest.raises(AvedError, match="older aved"):
        claim_folder(old, run_document(EditConfig(), 1, 0))
    assert not (old / "config.json").exists()


def test_two_runs_claiming_a_fresh_folder_at_once_never_both_win(tmp_path):
    import threading

    from aved.bench.results import claim_folder
    from aved.config import EditConfig
    from aved.errors import AvedError
    from aved.toyworld.bench import run_document

    for attempt in range(5):
        out = tmp_path / f"race{attempt}"
        outcomes, barrier = [], threading.Barrier(2)

        def claim(steps, out=out, outcomes=outcomes, barrier=barrier):
            barrier.wait()
            try:
                claim_folder(out, run_document(EditConfig(steps=steps), 1, 0))
                outcomes.append("won")
            except AvedError:
                outcomes.append("refused")

        threads = [threading.Thread(target=claim, args=(s,)) for s in (2, 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["refused", "won"]


def test_the_boundary_scores_see_a_hit_lost_at_a_boundary_and_a_level_jump_there():
    from aved.toyworld.render import trajectory

    task = next(
        t
        for t in task_set(seed=0, count=32, duration=8.0)
        if t.target.kind == "bell" and len(trajectory(t.source).impacts) >= 3
    )
    clip = task.target_clip()
    impacts = trajectory(task.source).impacts
    impacts = impacts[impacts < 8.0]
    rate, truth = clip.sample_rate, clip.audio
    assert np.min(np.diff(impacts)) >= 0.25
    boundary = float(impacts[1]) + 0.1  # a window boundary in the second hit's ringing, 100 ms past its onset
    whole = boundary_metrics(task, truth, rate, truth, rate, impacts, [boundary - 0.01])
    assert whole["sound_recall_near"] == 1.0
    whole = boundary_metrics(task, truth, rate, truth, rate, impacts, [boundary + 0.01])
    assert whole["boundary_jump_db"] == pytest.approx(0.0, abs=0.3)  # the bell's own decay is no jump
    louder = truth.copy()
    louder[round((boundary + 0.01) * rate) :] *= 2.0
    jumped = boundary_metrics(task, louder, rate, truth, rate, impacts, [boundary + 0.01])
    assert jumped["boundary_jump_db"] == pytest.approx(20 * np.log10(2.0), abs=0.3)  # the whole +6 dB
    cut = truth.copy()
    start = round((impacts[1] - 0.02) * rate)
    cut[start : start + round(0.3 * rate)] = 0.0  # the hit at the boundary is gone
    lost = boundary_metrics(task, cut, rate, truth, rate, impacts, [boundary - 0.01])
    assert lost["sound_recall_near"] == 0.0 and lost["sound_recall_far"] == whole["sound_recall_far"]
    assert np.isnan(lost["boundary_jump_db"])  # a lost hit is not a seam: recall counts it, the level does not
    onset = boundary_metrics(task, truth, rate, truth, rate, impacts, [float(impacts[1]) + 0.05])
    assert np.isnan(onset["boundary_jump_db"])  # an onset inside the windows would make timing look like level
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)).astype(np.float32)
    tone[: rate // 4] = 0.0  # one event from 0.25 s on, audible to the end
    louder = tone.copy()
    louder[rate:] *= 2.0  # +6 dB from a boundary at 1 s on
    stepped = boundary_metrics(task, louder, rate, tone, rate, np.asarray([0.25]), [1.0])
    assert stepped["boundary_jump_db"] == pytest.approx(20 * np.log10(2.0), abs=0.05)
    assert stepped["control_jump_db"] == pytest.approx(0.0, abs=0.05)  # midway (0.5 s, 1.5 s): no step, no seam
    assert all(np.isnan(v) for v in boundary_metrics(task, truth, rate, truth, rate, impacts, []).values())


def test_aved_without_compositing_is_decoded_from_aveds_latents_as_its_own_edit_would_be(tiny_models, tmp_path):
    from aved.bench.results import latest_records
    from aved.bench.run import PriorCache
    from aved.config import EditConfig, apply_overrides
    from aved.toyworld.bench import run_bench

    config = EditConfig(steps=2)
    apply_overrides(config, {"model.video": str(tiny_models["sd"]), "model.audio": str(tiny_models["audioldm2"])})
    config.media = models.media_config()
    priors = PriorCache()
    run_bench(tmp_path / "both", config, ["aved", "aved-no-composite"], count=1, progress=False, priors=priors)
    run_bench(tmp_path / "alone", config, ["aved-no-composite"], count=1, progress=False, priors=priors)
    both, alone = ({r["row"]: r for r in latest_records(tmp_path / f).values()} for f in ("both", "alone"))
    derived, edited = both["aved-no-composite"], alone["aved-no-composite"]
    assert derived["seconds"] is None and edited["seconds"] > 0  # a decode, not an edit of its own
    metrics = [k for k in METRICS if k in edited]
    assert {k: derived[k] for k in metrics} == {k: edited[k] for k in metrics}
    assert derived["gt_psnr"] != both["aved"]["gt_psnr"]  # the compositing changed aved's frames
    assert derived["gt_mel_l1"] == both["aved"]["gt_mel_l1"]
