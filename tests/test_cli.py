"""The `aved` command line: bad input gives one line and a non-zero exit; the commands write what they say."""

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import assert_one_line_failure, run_cli

from aved.media.clip import probe_clip, read_clip, write_clip


@pytest.fixture
def silent_clip(tmp_path):
    path = tmp_path / "silent.mp4"
    write_clip(path, np.zeros((8, 32, 32, 3), dtype=np.uint8), 4.0)
    return path


@pytest.fixture
def bad_files(tmp_path, example_clip):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(example_clip.read_bytes()[: example_clip.stat().st_size // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {"missing": tmp_path / "nope.mp4", "text": text, "truncated": truncated, "empty": empty}


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "empty"])
def test_info_and_reconstruct_reject_bad_files_in_one_line(kind, bad_files, tiny_models, tmp_path, capsys):
    path = bad_files[kind]
    code, _, err = run_cli(capsys, "info", path)
    assert_one_line_failure(code, err, path)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(
        capsys,
        "reconstruct",
        path,
        "-o",
        out,
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
    )
    assert_one_line_failure(code, err, path)
    assert not out.exists()


def test_clip_without_audio_is_described_but_cannot_be_reconstructed(silent_clip, tiny_models, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "info", silent_clip)
    assert code == 0 and "audio: none" in out
    code, _, err = run_cli(
        capsys,
        "reconstruct",
        silent_clip,
        "-o",
        tmp_path / "o.mp4",
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
    )
    assert_one_line_failure(code, err, silent_clip, "audio")
    code, _, err = run_cli(
        capsys,
        "edit",
        silent_clip,
        "--source",
        "a",
        "--target",
        "b",
        "--out",
        tmp_path / "e",
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
    )
    assert_one_line_failure(code, err, silent_clip, "audio")
    assert not (tmp_path / "e").exists()


def test_missing_checkpoint_is_one_line(example_clip, tmp_path, capsys):
    code, _, err = run_cli(capsys, "reconstruct", example_clip, "-o", tmp_path / "o.mp4")
    assert_one_line_failure(code, err, "stabilityai/stable-diffusion-2-1-base", "download")


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--set", "relevance.tau=0.5"], "relevance.tau"),
        (["--set", "steps=many"], "steps"),
        (["--set", "nokey"], "key=value"),
        (["--mode", "magic"], "mode"),
        (["--grid", "0"], "grid"),
        (["--config", "missing.json"], "missing.json"),
        (["--model", "dreamworld"], "toyworld"),
    ],
)
def test_bad_edit_options_are_one_line(argv, needle, example_clip, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "edit", example_clip, "--source", "a", "--target", "b", "--out", tmp_path / "o", "--dry-run", *argv
    )
    assert_one_line_failure(code, err, needle)


def test_info_describes_the_example(example_clip, capsys):
    code, out, _ = run_cli(capsys, "info", example_clip)
    assert code == 0
    assert "320x240" in out and "24" in out and "44100" in out and "5.0" in out


def test_reconstruct_writes_a_clip_of_the_processed_length(example_clip, tiny_models, tmp_path, capsys):
    out = tmp_path / "rec" / "rec.mp4"
    code, stdout, err = run_cli(
        capsys,
        "reconstruct",
        example_clip,
        "-o",
        out,
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
        "--frame-size",
        "64",
        "--duration",
        "2",
    )
    assert code == 0, err
    clip = read_clip(out)
    assert clip.frames.shape == (8, 64, 64, 3) and clip.fps == 4
    assert abs(len(clip.audio) / clip.sample_rate - 2.0) < 0.25


def test_dry_run_resolves_every_layer_of_config(example_clip, tmp_path, capsys):
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"steps": 7, "relevance": {"tau_audio": 0.6}, "weights": {"sync": 3.0}}))
    code, out, _ = run_cli(
        capsys,
        "edit",
        example_clip,
        "--source",
        "a cat",
        "--target",
        "a dog",
        "--out",
        tmp_path,
        "--config",
        config_file,
        "--steps",
        "9",
        "--set",
        "weights.sync=2",
        "--dry-run",
    )
    assert code == 0
    resolved = json.loads(out)
    assert resolved["steps"] == 9 and resolved["relevance"]["tau_audio"] == 0.6 and resolved["weights"]["sync"] == 2.0
    assert resolved["prompts"]["source"] == "a cat" and not list(tmp_path.glob("*.mp4"))


def test_model_preset_sits_under_config_flags_and_set(example_clip, tmp_path, capsys):
    from aved.config import TOYWORLD_WEIGHTS

    argv = [
        "edit",
        example_clip,
        "--source",
        "a",
        "--target",
        "b",
        "--out",
        tmp_path,
        "--dry-run",
        "--model",
        "toyworld",
    ]
    code, out, _ = run_cli(capsys, *argv, "--frame-size", "128", "--set", "media.mel.duration=2.56")
    assert code == 0
    resolved = json.loads(out)
    assert resolved["model"]["video"] == str(TOYWORLD_WEIGHTS / "video")
    assert resolved["model"]["audio"] == str(TOYWORLD_WEIGHTS / "audio")
    assert resolved["media"]["grid"] == 2 and resolved["media"]["fps"] == 4.0
    assert resolved["media"]["frame_size"] == 128 and resolved["media"]["mel"]["duration"] == 2.56


def test_edit_end_to_end_writes_every_output(example_clip, tiny_models, tmp_path, capsys):
    out = tmp_path / "edit"
    code, stdout, err = run_cli(
        capsys,
        "edit",
        example_clip,
        "--source",
        "a red ball bouncing",
        "--target",
        "a blue bell ringing",
        "--out",
        out,
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
        "--steps",
        "3",
        "--frame-size",
        "64",
        "--duration",
        "2",
        "--set",
        "media.mel.duration=2.56",
    )
    assert code == 0, err
    expected = {
        "edited.mp4",
        "edited.wav",
        "source.mp4",
        "side_by_side.mp4",
        "config.json",
        "losses.csv",
        "losses.png",
        "relevance_video.mp4",
        "relevance_audio.png",
        "complete.json",
    }
    assert {p.name for p in out.iterdir()} == expected  # and no leftover staging folder
    for name in ("edited.mp4", "source.mp4", "side_by_side.mp4"):
        info = probe_clip(out / name)
        assert info.frame_count == 8 and abs(info.duration - 2.0) < 0.26, name
        assert abs(info.audio_duration - 2.0) < 0.26, name
    assert probe_clip(out / "relevance_video.mp4").frame_count == 8
    config = json.loads((out / "config.json").read_text())
    assert config["steps"] == 3 and config["model"]["video"] == str(tiny_models["sd"]) and "torch" in config["versions"]
    assert len((out / "losses.csv").read_text().splitlines()) == 4


def test_console_script_help_runs_without_loading_models():
    result = subprocess.run(
        [sys.executable, "-m", "aved", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0 and "reconstruct" in result.stdout and "edit" in result.stdout


def test_metrics_command_prints_a_table_and_writes_json(example_clip, tiny_metric_models, tmp_path, capsys):
    clip = read_clip(example_clip, duration=2.0)
    edited = tmp_path / "edited.mp4"
    write_clip(edited, clip.frames[:, ::-1].copy(), clip.fps, clip.audio[::-1].copy(), clip.sample_rate)
    models = [
        "--clip-model",
        tiny_metric_models["clip"],
        "--clap-model",
        tiny_metric_models["clap"],
        "--dino-model",
        tiny_metric_models["dino"],
    ]
    code, out, err = run_cli(
        capsys,
        "metrics",
        example_clip,
        edited,
        "--source-prompt",
        "a red ball",
        "--target-prompt",
        "a blue bell",
        "--categories",
        "ball,bell,drum",
        "--target-category",
        "bell",
        *models,
    )
    assert code == 0, err
    scores = json.loads((tmp_path / "edited_metrics.json").read_text())["metrics"]
    assert set(scores) == {"av_align", "clip_t", "clap", "dino", "lpaps", "obj_v", "obj_a"}
    assert all(name in out for name in scores)
    assert 0 <= scores["av_align"] <= 1 and scores["lpaps"] > 0 and scores["obj_v"] in (0.0, 1.0)
    code, _, err = run_cli(
        capsys, "metrics", example_clip, tmp_path / "gone.mp4", "--source-prompt", "a", "--target-prompt", "b", *models
    )
    assert_one_line_failure(code, err, "gone.mp4")


def test_bench_run_resumes_and_report_writes_tables(example_clip, tiny_models, tmp_path, capsys):
    videos = tmp_path / "videos"
    clip = read_clip(example_clip, duration=1.0)
    videos.mkdir()
    write_clip(videos / "ball.mp4", clip.frames, clip.fps, clip.audio, clip.sample_rate)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "name,src,trg,src_category,trg_category\n"
        "ball,a red ball,a blue bell,ball,bell\nghost,a red ball,a drum,ball,drum\n"
    )
    argv = [
        "bench",
        "run",
        manifest,
        "--videos",
        videos,
        "--out",
        tmp_path / "out",
        "--mode",
        "aved",
        "--steps",
        "2",
        "--metrics",
        "av_align",
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
        "--set",
        "media.frame_size=64",
        "--set",
        "media.duration=1",
        "--set",
        "media.mel.duration=2.56",
    ]
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_failure(code, err, "1 of 2 clips failed", exit_code=1)
    assert "1 edited, 0 already done, 1 failed" in out and "ghost" in out
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [(r["name"], r["status"]) for r in records] == [("ball", "ok"), ("ghost", "error")]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 1 and "0 edited, 1 already done, 1 failed" in out
    code, out, _ = run_cli(capsys, "bench", "report", tmp_path / "out")
    assert code == 0
    report = (tmp_path / "out" / "report" / "report.md").read_text()
    assert "AV-Align" in report and "| aved |" in report


def test_bench_run_in_two_processes_equals_one_process(example_clip, tiny_models, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    names = []
    for i, start in enumerate((0.0, 1.0, 2.0)):
        clip = read_clip(example_clip, start=start, duration=1.0)
        write_clip(videos / f"clip{i}.mp4", clip.frames, clip.fps, clip.audio, clip.sample_rate)
        names.append(f"clip{i}")
    manifest = tmp_path / "manifest.csv"
    rows = "".join(f"{n},a red ball,a blue bell,ball,bell\n" for n in names)
    manifest.write_text("name,src,trg,src_category,trg_category\n" + rows)
    common = [
        "bench",
        "run",
        str(manifest),
        "--videos",
        str(videos),
        "--steps",
        "2",
        "--metrics",
        "av_align",
        "--video-model",
        str(tiny_models["sd"]),
        "--audio-model",
        str(tiny_models["audioldm2"]),
        "--set",
        "media.frame_size=64",
        "--set",
        "media.duration=1",
        "--set",
        "media.mel.duration=2.56",
    ]
    code, _, err = run_cli(capsys, *common, "--out", tmp_path / "one")
    assert code == 0, err
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "aved"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [*launcher, *common, "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "two" / "results.0.jsonl").exists() and (tmp_path / "two" / "results.1.jsonl").exists()
    one = [json.loads(line) for line in (tmp_path / "one" / "results.jsonl").read_text().splitlines()]
    two = [json.loads(line) for line in (tmp_path / "two" / "results.jsonl").read_text().splitlines()]
    assert [r["name"] for r in one] == [r["name"] for r in two] == names
    assert sorted({r["process_index"] for r in two}) == [0, 1]
    for a, b in zip(one, two, strict=True):
        assert a["status"] == b["status"] == "ok"
        assert abs(a["metrics"]["av_align"] - b["metrics"]["av_align"]) <= 1e-6
        wav_one = sf.read(tmp_path / "one" / "clips" / a["name"] / "edited.wav")[0]
        wav_two = sf.read(tmp_path / "two" / "clips" / b["name"] / "edited.wav")[0]
        assert np.abs(wav_one - wav_two).max() < 1e-4  # the same edit, whichever process made it


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--frame-size", "60"], "frame size 60"),
        (["--grid", "3", "--frame-size", "72"], "multiple of 16"),
        (["--set", "media.mel.duration=2.5"], "250 mel frames"),
    ],
)
def test_shapes_the_models_cannot_take_are_one_line(argv, needle, example_clip, tiny_models, tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "edit",
        example_clip,
        "--source",
        "a",
        "--target",
        "b",
        "--out",
        tmp_path / "o",
        "--video-model",
        tiny_models["sd"],
        "--audio-model",
        tiny_models["audioldm2"],
        "--steps",
        "1",
        "--duration",
        "2",
        "--frame-size",
        "64",
        "--set",
        "media.mel.duration=2.56",
        *argv,
    )
    assert_one_line_failure(code, err, needle)
    assert not (tmp_path / "o").exists()


def test_toyworld_export_is_a_bench_folder(tmp_path, capsys):
    from aved.bench.manifest import read_manifest

    code, out, err = run_cli(capsys, "toyworld", "export", tmp_path / "toy", "--tasks", "3")
    assert code == 0, err
    rows = read_manifest(tmp_path / "toy" / "manifest.csv")
    assert [r.name for r in rows] == sorted(p.stem for p in (tmp_path / "toy" / "videos").glob("*.mp4"))
    for row in rows:
        source = probe_clip(tmp_path / "toy" / "videos" / f"{row.name}.mp4")
        target = probe_clip(tmp_path / "toy" / "targets" / f"{row.name}.mp4")
        assert source.frame_count == target.frame_count and source.audio_duration == target.audio_duration
        assert row.src != row.trg


@pytest.mark.parametrize("command", [("toyworld", "export"), ("toyworld", "bench", "--out")])
def test_toyworld_refuses_no_tasks_before_writing(command, tmp_path, capsys):
    code, _, err = run_cli(capsys, *command, tmp_path / "toy", "--tasks", "0")
    assert_one_line_failure(code, err, "--tasks", "0")
    assert not (tmp_path / "toy").exists()


# ----------------------------------------------------------------------------- conventions (issue 20, 4 and 6)


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    from aved.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"aved {version('aved')}\n"


def test_info_json_is_one_object_with_the_clips_fields(example_clip, silent_clip, capsys):
    code, out, err = run_cli(capsys, "info", example_clip, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["fps"] == 24 and (info["width"], info["height"]) == (320, 240) and info["sample_rate"] == 44100
    assert info["frame_count"] == 120 and info["path"] == str(example_clip)
    assert info["duration"] == pytest.approx(5.0, abs=0.05) and info["audio_codec"] == "aac"
    code, out, _ = run_cli(capsys, "info", silent_clip, "--json")
    assert code == 0 and json.loads(out)["audio_codec"] is None


def test_metrics_json_prints_the_document_it_writes_and_quiet_leaves_stderr_empty(
    example_clip, tiny_metric_models, tmp_path, capsys
):
    clip = read_clip(example_clip, duration=2.0)  # 2 s against the 5 s source: dino warns
    edited = tmp_path / "edited.mp4"
    write_clip(edited, clip.frames[:, ::-1].copy(), clip.fps, clip.audio[::-1].copy(), clip.sample_rate)
    scores = tmp_path / "scores.json"
    argv = ["metrics", example_clip, edited, "--source-prompt", "a", "--target-prompt", "b"]
    argv += ["--metrics", "av_align,dino", "--dino-model", tiny_metric_models["dino"]]
    code, out, err = run_cli(capsys, *argv, "--json", "--out", scores)
    assert code == 0, err
    document = json.loads(out)  # stdout is the document alone
    assert document == json.loads(scores.read_text()) and set(document["metrics"]) == {"av_align", "dino"}
    assert "aved: warning: " in err and f"aved: wrote {scores}" in err
    code, out, err = run_cli(capsys, "-q", *argv, "--json", "--out", scores)
    assert code == 0 and json.loads(out) == document and err == ""
    code, out, err = run_cli(capsys, *argv, "--out", scores, "--quiet")  # the table, and -q after the command
    assert code == 0 and err == "" and "dino" in out and f"wrote {scores}" in out
    assert not logging.getLogger("aved").handlers  # the command's log handler went with it


def test_quiet_hides_the_progress_bars_a_log_would_force(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AVED_PROGRESS", "1")  # capsys is no terminal: force the bars, as a CI log may
    code, _, err = run_cli(capsys, "toyworld", "export", tmp_path / "a", "--tasks", "2")
    assert code == 0 and "render tasks" in err
    code, out, err = run_cli(capsys, "-q", "toyworld", "export", tmp_path / "b", "--tasks", "2")
    assert code == 0 and err == "" and "wrote 2 tasks" in out
    monkeypatch.delenv("AVED_PROGRESS")
    code, _, err = run_cli(capsys, "toyworld", "export", tmp_path / "c", "--tasks", "2")
    assert code == 0 and "render tasks" not in err  # not a terminal: the bar switched itself off


def test_quiet_and_verbose_go_before_or_after_the_command_but_not_together(example_clip, capsys):
    from aved.cli import main

    for argv in (["-q", "info", example_clip], ["info", example_clip, "-q"], ["-v", "info", example_clip]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 0 and "fps" in out and err == "", argv
    for argv in (["-q", "info", example_clip, "-v"], ["info", example_clip, "-q", "--verbose"]):
        with pytest.raises(SystemExit) as done:
            main([str(a) for a in argv])
        assert_one_line_failure(done.value.code, capsys.readouterr().err, "--quiet", "--verbose")


@pytest.fixture
def library_logging():
    """The model libraries' verbosity and bars, put back as they were after the test."""
    import diffusers.utils.logging as diffusers_logging
    import huggingface_hub.utils as hub_utils
    import transformers.utils.logging as transformers_logging

    libraries = (diffusers_logging, transformers_logging)
    saved = [(lib.get_verbosity(), lib.is_progress_bar_enabled()) for lib in libraries]
    hub_disabled = hub_utils.are_progress_bars_disabled()
    yield diffusers_logging, transformers_logging, hub_utils
    for lib, (level, bars) in zip(libraries, saved, strict=True):
        lib.set_verbosity(level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if bars:
                lib.enable_progress_bar()
            else:
                lib.disable_progress_bar()
    if hub_disabled:
        hub_utils.disable_progress_bars()
    elif not hub_env_disables_bars():
        hub_utils.enable_progress_bars()


def hub_env_disables_bars() -> bool:
    import huggingface_hub.constants

    return huggingface_hub.constants.HF_HUB_DISABLE_PROGRESS_BARS is True


def test_each_verbosity_gives_the_model_libraries_their_share(library_logging):
    from aved.cli import DEFAULT, QUIET, VERBOSE, _configure_libraries

    diffusers_logging, transformers_logging, hub_utils = library_logging
    libraries = (diffusers_logging, transformers_logging)
    for verbosity, level, bars, advice_shown in (
        (DEFAULT, logging.ERROR, False, False),
        (VERBOSE, logging.INFO, True, True),
    ):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            _configure_libraries(verbosity)
            warnings.warn("advice", FutureWarning, stacklevel=1)
        assert bool(seen) is advice_shown, verbosity
        assert [lib.get_verbosity() for lib in libraries] == [level, level], verbosity
        assert [lib.is_progress_bar_enabled() for lib in libraries] == [bars, bars], verbosity
        # the hub's download bars stay on (a first multi-GB download shows) unless its environment says otherwise
        assert hub_utils.are_progress_bars_disabled() is hub_env_disables_bars(), verbosity
    with warnings.catch_warnings():
        _configure_libraries(QUIET)
    assert hub_utils.are_progress_bars_disabled() and not transformers_logging.is_progress_bar_enabled()


def test_help_defaults_come_from_the_config_and_name_what_a_preset_changes():
    from aved.cli import CONFIG_OPTIONS, build_parser
    from aved.config import DTYPES, MODEL_PRESETS

    commands = build_parser()._subparsers._group_actions[0].choices
    edit_help = {action.dest: action for action in commands["edit"]._actions}
    for dest, key in CONFIG_OPTIONS.items():
        value = MODEL_PRESETS["toyworld"].get(key)
        if isinstance(value, int | float) and dest in edit_help:
            assert (
                f"--model toyworld: {value:g}" in edit_help[dest].help or f"default {value:g}" in edit_help[dest].help
            )
    # ⌊10.24·4⌋/4 and ⌊2.08·4⌋/4: the whole frames of each preset's audio window
    assert "up to one audio window: 10 s; --model toyworld: 2 s" in edit_help["duration"].help
    assert "default 200; --fast: 25" in edit_help["steps"].help
    assert tuple(edit_help["dtype"].choices) == DTYPES


def test_every_config_option_lands_in_its_field(example_clip, tmp_path, capsys):
    from aved.cli import CONFIG_OPTIONS

    given = {
        "prompts.source": ("--source", "s"),
        "prompts.target": ("--target", "t"),
        "prompts.video_source": ("--video-source", "vs"),
        "prompts.video_target": ("--video-target", "vt"),
        "prompts.audio_source": ("--audio-source", "as"),
        "prompts.audio_target": ("--audio-target", "at"),
        "mode": ("--mode", "dds"),
        "steps": ("--steps", 7),
        "seed": ("--seed", 3),
        "relevance.tau_video": ("--tau-video", 0.6),
        "relevance.tau_audio": ("--tau-audio", 0.7),
        "relevance.method": ("--relevance", "otsu"),
        "media.fps": ("--fps", 2.0),
        "media.grid": ("--grid", 1),
        "media.frame_size": ("--frame-size", 128),
        "media.start": ("--start", 0.5),
        "media.duration": ("--duration", 2.0),
        "model.video": ("--video-model", "v"),
        "model.audio": ("--audio-model", "a"),
        "model.device": ("--device", "cpu"),
        "model.dtype": ("--dtype", "bfloat16"),
    }
    assert set(given) | {"model.compile"} == set(CONFIG_OPTIONS.values())
    flags = [str(part) for option, value in given.values() for part in (option, value)]
    code, out, err = run_cli(capsys, "edit", example_clip, "--out", tmp_path / "o", "--dry-run", "--compile", *flags)
    assert code == 0, err
    resolved = json.loads(out)

    def field(key):
        value = resolved
        for part in key.split("."):
            value = value[part]
        return value

    assert {key: field(key) for key in given} == {key: value for key, (_, value) in given.items()}
    assert field("model.compile") is True
