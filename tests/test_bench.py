"""AvED-Bench runner: manifests, resumable runs that record failures, sharding, sweeps and the report."""

import copy
import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from aved.api import edit as api_edit
from aved.bench.manifest import categories, read_manifest
from aved.bench.report import write_report
from aved.bench.results import latest_records, merge_results, read_records
from aved.bench.run import PriorCache, run_benchmark, run_command, run_sweep, shard_from_accelerate
from aved.bench.sweep import expand_sweep, setting_name
from aved.bench.tables import summarize
from aved.codec import prepare_clip, read_source
from aved.config import EditConfig, apply_overrides
from aved.errors import AvedError
from aved.media.clip import write_clip
from aved.result import EditResult

HEADER = "name,src,trg,src_category,trg_category\n"
# Tiny settings: 4 frames of 64 px, one 2×2 grid, 2 steps.
TINY = {"media.frame_size": "64", "media.duration": "1", "media.mel.duration": "2.56", "steps": "2"}


class FakeScorer:
    """The `aved.metrics.Scorer` interface with cheap numbers that still depend on the edit."""

    metrics = ("av_align", "clip_t", "dino")

    def score(self, source, edited, source_prompt, target_prompt, categories=None, target_category=None):
        assert target_category in categories and source.frames.shape == edited.frames.shape
        diff = np.abs(source.frames.astype(np.float64) - edited.frames).mean() / 255
        return {"av_align": float(np.abs(edited.audio).mean()), "clip_t": edited.frames.mean() / 255, "dino": 1 - diff}


class CountingEdit:
    """Wraps an edit function and remembers which clips it was asked to edit."""

    def __init__(self, fn):
        self.fn, self.names = fn, []

    def __call__(self, path, *args, **kwargs):
        self.names.append(Path(path).stem)
        return self.fn(path, *args, **kwargs)


def fake_edit(path, source, target, config, **_):
    """Reads and prepares the clip like `edit` does, then inverts the frames and halves the sound."""
    clip = read_source(path, config.media)
    prepared = prepare_clip(clip, config.media)
    return EditResult(
        prepared, 255 - prepared.frames, prepared.audio * 0.5, prepared.sample_rate, prepared.fps, None, None
    )


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The edits here are tiny: on shared CPUs, OpenMP threads spin-waiting on each other made them 5–10× slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Four distinct 1 s clips with sound, and a corrupt one."""
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for i, name in enumerate(["a", "b", "c", "d"]):
        frames = np.zeros((8, 48, 48, 3), dtype=np.uint8)
        for t in range(8):
            frames[t, 8 + 3 * t : 20 + 3 * t, 6 * i : 6 * i + 12] = (40 * i + 30, 200, 255 - 40 * i)
        t = np.arange(16000) / 16000
        audio = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) + 0.01 * rng.standard_normal(16000)
        write_clip(folder / f"{name}.mp4", frames, 8.0, audio.astype(np.float32), 16000)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return folder


@pytest.fixture(scope="module")
def config(tiny_models) -> EditConfig:
    models = {
        "model.video": str(tiny_models["sd"]),
        "model.audio": str(tiny_models["audioldm2"]),
        "model.device": "cpu",
    }
    return apply_overrides(EditConfig(), {**TINY, **models})


@pytest.fixture(scope="module")
def priors() -> PriorCache:
    """Tiny priors loaded once for this file's runs (a real run loads them once per process)."""
    return PriorCache()


def write_manifest(path: Path, names: list[str], trg_categories: list[str] | None = None) -> Path:
    trg_categories = trg_categories or ["dog"] * len(names)
    lines = [f"{n},a ball bouncing,a bell ringing,ball,{c}\n" for n, c in zip(names, trg_categories, strict=True)]
    path.write_text(HEADER + "".join(lines))
    return path


# ----------------------------------------------------------------------------------------- manifest


def test_manifest_is_read_unchanged_with_optional_columns(tmp_path):
    path = tmp_path / "bench.csv"
    path.write_text(
        "\ufeffname,src,trg,src_category,trg_category,video_trg,notes\n"
        'x1,"a cat, meowing",a dog barking,cat,dog,a dog,\n'
        "\n"
        "x2,a car,a train,car,train,,kept\n",
        encoding="utf-8",
    )
    rows = read_manifest(path)
    assert [r.name for r in rows] == ["x1", "x2"] and [r.index for r in rows] == [0, 1]
    assert rows[0].src == "a cat, meowing" and rows[0].prompts()["video_target"] == "a dog"
    assert rows[1].prompts() == {"source": "a car", "target": "a train"}
    assert rows[0].clip_path("/v") == Path("/v/x1.mp4")
    assert categories(rows) == ["car", "cat", "dog", "train"]
    config = rows[0].apply_to(EditConfig())
    assert config.prompts.video() == ("a cat, meowing", "a dog") and config.prompts.audio()[1] == "a dog barking"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty"),
        (HEADER, "no rows"),
        ("name,src,trg,trg_category\nx,a,b,c\n", "missing column(s) src_category"),
        (HEADER + "x,a,b,c,d\ny,a,b,c,d\nx,a,b,c,d\n", "duplicate name 'x' on lines 2 and 4"),
        (HEADER + "x,a cat, meowing,b,c,d\n", "line 2 has 6 fields"),
        (HEADER + "../x,a,b,c,d\n", "path separator"),
    ],
)
def test_bad_manifests_are_one_line_errors_naming_the_file(tmp_path, text, needle):
    path = tmp_path / "bench.csv"
    path.write_text(text)
    with pytest.raises(AvedError) as info:
        read_manifest(path)
    message = str(info.value)
    assert str(path) in message and needle in message and "\n" not in message


def test_missing_manifest_is_one_line_error(tmp_path):
    with pytest.raises(AvedError, match="no such manifest"):
        read_manifest(tmp_path / "nope.csv")


# ----------------------------------------------------------------------------------------- running and resuming


def test_failures_are_recorded_and_finished_clips_are_not_redone(tmp_path, videos, config, priors):
    manifest = write_manifest(tmp_path / "bench.csv", ["missing", "corrupt", "a"])
    out = tmp_path / "out"
    edit = CountingEdit(api_edit)
    summary = run_benchmark(manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=edit, priors=priors)
    assert (summary.total, summary.ok, summary.failed, summary.skipped) == (3, 1, 2, 0)
    records = {r["name"]: r for r in read_records(out / "results.0.jsonl")}
    assert records["missing"]["status"] == "error" and "no such video" in records["missing"]["error"]
    assert records["missing"]["stage"] == "read"
    assert records["corrupt"]["status"] == "error" and records["corrupt"]["stage"] == "edit"
    assert "corrupt.mp4" in records["corrupt"]["error"]
    good = records["a"]
    assert good["status"] == "ok" and good["error"] is None and good["mode"] == "aved"
    assert set(good["metrics"]) == {"av_align", "clip_t", "dino"} and all(
        math.isfinite(v) for v in good["metrics"].values()
    )
    assert good["prompts"] == {"source": "a ball bouncing", "target": "a bell ringing"} and good["seconds"] > 0
    assert {"edited.mp4", "edited.wav", "source.mp4", "config.json"} <= set(good["files"])
    assert not (out / "clips" / "missing").exists() and not (out / "clips" / "corrupt").exists()
    saved = json.loads((out / "config.json").read_text())
    assert saved["steps"] == 2 and saved["run"]["metrics"] == ["av_align", "clip_t", "dino"]
    assert saved["run"]["config_hash"] == good["config_hash"]
    edited = out / "clips" / "a" / "edited.mp4"
    stamp = edited.stat().st_mtime_ns

    again = CountingEdit(edit.fn)
    summary = run_benchmark(manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=again, priors=priors)
    assert again.names == ["corrupt"]  # the failed ones are retried; a missing file never reaches edit
    assert (summary.skipped, summary.ok, summary.failed) == (1, 0, 2) and edited.stat().st_mtime_ns == stamp
    merged = [json.loads(line) for line in merge_results(out).read_text().splitlines()]
    assert [r["name"] for r in merged] == ["missing", "corrupt", "a"]
    assert [r["status"] for r in merged] == ["error", "error", "ok"]


def test_interrupted_clips_are_redone(tmp_path, videos, config, priors):
    manifest = write_manifest(tmp_path / "bench.csv", ["a", "b", "c"])
    out = tmp_path / "out"
    run_benchmark(manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=fake_edit, priors=priors)
    results = out / "results.0.jsonl"
    # a: a file lost, and a staging folder left by a killed writer; b: its line never written, and the
    # last line cut short by the kill.
    (out / "clips" / "a" / "edited.wav").unlink()
    (out / "clips" / "a" / ".aved-partial-x").mkdir()
    lines = [line for line in results.read_text().splitlines() if json.loads(line)["name"] != "b"]
    results.write_text("\n".join(lines) + '\n{"name": "c", "stat')
    stamp = (out / "clips" / "c" / "edited.mp4").stat().st_mtime_ns

    edit = CountingEdit(fake_edit)
    summary = run_benchmark(manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=edit, priors=priors)
    assert sorted(edit.names) == ["a", "b"] and (summary.skipped, summary.ok) == (1, 2)
    assert (out / "clips" / "a" / "edited.wav").is_file() and not (out / "clips" / "a" / ".aved-partial-x").exists()
    assert (out / "clips" / "c" / "edited.mp4").stat().st_mtime_ns == stamp
    merged = [json.loads(line) for line in merge_results(out).read_text().splitlines()]
    assert [(r["name"], r["status"]) for r in merged] == [("a", "ok"), ("b", "ok"), ("c", "ok")]


def test_nan_and_out_of_memory_are_recorded_and_bugs_stop_the_run(tmp_path, videos, config, priors):
    def flaky_edit(path, *args, **kwargs):
        result = fake_edit(path, *args, **kwargs)
        if Path(path).stem == "a":
            result.audio[3] = np.nan
        if Path(path).stem == "b":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if Path(path).stem == "d":
            raise TypeError("a bug")
        return result

    manifest = write_manifest(tmp_path / "bench.csv", ["a", "b", "c"])
    out = tmp_path / "out"
    summary = run_benchmark(
        manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=flaky_edit, priors=priors
    )
    records = latest_records(out)
    assert records["a"]["status"] == "error" and "NaN" in records["a"]["error"]
    assert records["b"]["error"].startswith("OutOfMemoryError: CUDA out of memory")
    assert records["c"]["status"] == "ok" and summary.failed == 2 and len(summary.errors) == 2
    with pytest.raises(TypeError):
        run_benchmark(write_manifest(tmp_path / "d.csv", ["d"]), videos, tmp_path / "d", config, edit_fn=flaky_edit)


def test_a_different_config_into_the_same_folder_is_refused(tmp_path, videos, config, priors):
    manifest = write_manifest(tmp_path / "bench.csv", ["a"])
    out = tmp_path / "out"
    run_benchmark(manifest, videos, out, config, FakeScorer(), progress=False, edit_fn=fake_edit, priors=priors)
    other = copy.deepcopy(config)
    other.steps = 3
    with pytest.raises(AvedError, match=r"steps: 2 → 3.*fresh --out") as info:
        run_benchmark(manifest, videos, out, other, FakeScorer(), progress=False, edit_fn=fake_edit)
    assert "\n" not in str(info.value)
    # The device is where a process runs, not what it computes: another device resumes the same run.
    moved = copy.deepcopy(config)
    moved.model.device = "auto"
    edit = CountingEdit(fake_edit)
    summary = run_benchmark(manifest, videos, out, moved, FakeScorer(), progress=False, edit_fn=edit, priors=priors)
    assert summary.skipped == 1 and edit.names == []


# ----------------------------------------------------------------------------------------- sharding


def test_two_process_sharded_run_equals_the_single_process_run(tmp_path, videos, config):
    # Two clips: in one process b is edited after a with the same priors; sharded, b comes first.
    manifest = write_manifest(tmp_path / "bench.csv", ["a", "b"], ["dog", "bell"])
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    run_benchmark(manifest, videos, single, config, FakeScorer(), progress=False, edit_fn=api_edit, priors=PriorCache())
    # Each "process" loads its own priors, as separate processes would.
    for index in (0, 1):
        run_benchmark(
            manifest,
            videos,
            sharded,
            config,
            FakeScorer(),
            process_index=index,
            num_processes=2,
            progress=False,
            edit_fn=api_edit,
            priors=PriorCache(),
        )
    assert [r["name"] for r in read_records(sharded / "results.0.jsonl")] == ["a"]
    assert [r["name"] for r in read_records(sharded / "results.1.jsonl")] == ["b"]
    ones = [json.loads(line) for line in merge_results(single).read_text().splitlines()]
    twos = [json.loads(line) for line in merge_results(sharded).read_text().splitlines()]
    assert [r["name"] for r in ones] == [r["name"] for r in twos] == ["a", "b"]
    for one, two in zip(ones, twos, strict=True):
        assert one["status"] == two["status"] == "ok" and one["config_hash"] == two["config_hash"]
        assert one["metrics"].keys() == two["metrics"].keys()
        for name, value in one["metrics"].items():
            assert abs(value - two["metrics"][name]) <= 1e-6, (one["name"], name)


def test_run_command_in_one_process_runs_everything_and_merges(tmp_path, videos, config):
    pytest.importorskip("aved.metrics")
    assert shard_from_accelerate() == (0, 1)
    manifest = write_manifest(tmp_path / "bench.csv", ["a", "missing"])
    out = tmp_path / "out"
    summaries = run_command(manifest, videos, out, config, ["av_align"], progress=False)
    assert [s.out_dir for s in summaries] == [out] and summaries[0].ok == 1
    merged = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["name"], r["status"]) for r in merged] == [("a", "ok"), ("missing", "error")]
    assert list(merged[0]["metrics"]) == ["av_align"] and 0 <= merged[0]["metrics"]["av_align"] <= 1


# ----------------------------------------------------------------------------------------- sweeps and report


def test_expand_sweep_is_the_grid_product():
    grid = expand_sweep(["relevance.tau_video=0.5,0.6,0.7", "media.grid=2, 3"])
    assert len(grid) == 6 and grid[0] == {"relevance.tau_video": "0.5", "media.grid": "2"}
    assert grid[1] == {"relevance.tau_video": "0.5", "media.grid": "3"} and grid[-1]["relevance.tau_video"] == "0.7"
    assert expand_sweep([]) == [] and expand_sweep(["mode=aved,video-only"])[1] == {"mode": "video-only"}
    assert setting_name(grid[0]) == "relevance.tau_video=0.5__media.grid=2"
    assert setting_name({"model.video": "/m/sd 2"}) == "model.video=_m_sd_2"


@pytest.mark.parametrize(
    "specs, needle",
    [
        (["relevance.tau_video"], "expected key=value1,value2"),
        (["=1,2"], "expected key=value1,value2"),
        (["steps=1,,2"], "empty value"),
        (["steps=1,1"], "listed twice"),
        (["relevance.tau=0.5,0.6"], "unknown config field 'relevance.tau'"),
        (["media.grid=two,3"], "media.grid: expected int"),
        (["steps=1,2", "steps=3"], "more than once"),
    ],
)
def test_bad_sweep_specs_are_one_line_errors(specs, needle):
    with pytest.raises(AvedError, match=None) as info:
        expand_sweep(specs)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_sweep_folders_and_report(tmp_path, videos, config, priors):
    manifest = write_manifest(tmp_path / "bench.csv", ["a", "b", "missing"], ["dog", "bell", "dog"])
    out = tmp_path / "sweep"
    summaries = run_sweep(
        manifest,
        videos,
        out,
        config,
        FakeScorer(),
        ["relevance.tau_video=0.5,0.7"],
        progress=False,
        edit_fn=fake_edit,
        priors=priors,
    )
    dirs = [s.out_dir for s in summaries]
    assert [d.name for d in dirs] == ["relevance.tau_video=0.5", "relevance.tau_video=0.7"]
    taus = [json.loads((d / "config.json").read_text())["relevance"]["tau_video"] for d in dirs]
    assert taus == [0.5, 0.7] and all(s.ok == 2 and s.failed == 1 for s in summaries)

    written = write_report([out])  # the sweep's parent folder stands for its settings
    names = {p.name for p in written}
    assert {"report.md", "report.csv", "report_by_category.csv"} <= names
    assert "report_sweep_relevance.tau_video.png" in names and "report_clip_t_vs_dino.png" in names
    assert all(p.parent == out / "report" and p.stat().st_size > 0 for p in written)
    with open(out / "report" / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == ["aved · relevance.tau_video=0.5", "aved · relevance.tau_video=0.7"]
    assert [(r["n_ok"], r["n_failed"]) for r in rows] == [("2", "1"), ("2", "1")]
    for metric in ("av_align", "clip_t", "dino"):
        assert {f"{metric}_mean", f"{metric}_ci95", f"{metric}_n"} <= rows[0].keys()
    assert float(rows[0]["av_align_paper"]) == 0.42 and float(rows[0]["dino_paper"]) == 0.956
    records = latest_records(dirs[0])
    expected = np.mean([records[n]["metrics"]["dino"] for n in ("a", "b")])
    assert abs(float(rows[0]["dino_mean"]) - expected) < 1e-9
    with open(out / "report" / "report_by_category.csv", newline="") as handle:
        by_category = [(r["label"], r["trg_category"], r["n_ok"]) for r in csv.DictReader(handle)]
    assert by_category[:2] == [
        ("aved · relevance.tau_video=0.5", "bell", "1"),
        ("aved · relevance.tau_video=0.5", "dog", "1"),
    ]
    markdown = (out / "report" / "report.md").read_text()
    assert "| run | n ok | n failed |" in markdown and "AV-Align 0.42, DINO 0.956" in markdown
    assert "TokenFlow" in markdown and "no such video" in markdown and "t(0.975, n−1)" in markdown

    # One folder, report named by its markdown path.
    written = write_report([dirs[0]], tmp_path / "r" / "tau.md")
    assert {p.name for p in written} >= {"tau.md", "tau.csv", "tau_clip_t_vs_dino.png"}
    with pytest.raises(AvedError, match="not a benchmark folder"):
        write_report([tmp_path / "r"])


def test_summary_statistics_use_the_t_interval():
    stat = summarize([1.0, 2.0, 3.0, None, float("nan")])
    assert stat.n == 3 and stat.mean == 2.0 and abs(stat.half - 4.302652729749464 / math.sqrt(3)) < 1e-9
    assert math.isnan(summarize([0.5]).half) and summarize([]).n == 0 and summarize([]).text() == "—"


def test_report_imports_without_torch():
    import subprocess
    import sys

    code = "import sys, aved.bench.report; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == 0
