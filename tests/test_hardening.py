"""Issue 16's classes, each where the user meets it: no traceback, no false success, no half-finished output.

Edits run on the shipped ToyWorld priors for two steps, so every case goes through the real commands."""

import errno
import json
import os
import signal
import tracemalloc
from pathlib import Path

import av
import numpy as np
import odd_media
import pytest
from cli_helpers import assert_one_line_failure, run_and_signal, run_cli, warnings_in
from odd_media import clip_with_audio, noise_frames, tone

from aved import folders
from aved.codec import prepare_clip, read_source
from aved.config import MediaConfig, MelConfig
from aved.errors import AvedError
from aved.media.clip import probe_clip, read_clip, write_clip

TOY_CLIP = Path(__file__).resolve().parent.parent / "examples" / "toyworld.mp4"
PROMPTS = ("--source", "a red ball bouncing on grass", "--target", "a yellow bell bouncing on grass")


def _edit(capsys, clip, out, *extra):
    return run_cli(capsys, "edit", clip, "--model", "toyworld", "--steps", "2", *PROMPTS, "--out", out, *extra)


@pytest.fixture
def truncated_clip(tmp_path):
    return odd_media.truncated_clip(tmp_path)


@pytest.fixture
def vfr_clip(tmp_path):
    return odd_media.vfr_clip(tmp_path)


# ----------------------------------------------------------------------------- 1. false successes


@pytest.mark.parametrize("mode", ["video-only", "aved"])
def test_a_diverging_edit_stops_at_its_step_and_writes_nothing(mode, tmp_path, capsys):
    code, _, err = _edit(capsys, TOY_CLIP, tmp_path / "out", "--mode", mode, "--set", "lr=1e30")
    assert_one_line_failure(code, err, "diverged at step", "check lr")
    assert "partial" not in err and ".mp4" not in err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option, field",
    [
        (("--set", "lr=inf"), "lr must be"),
        (("--set", "lr=-5"), "lr must be"),
        (("--set", "lr=nan"), "lr must be"),
        (("--set", "steps=inf"), "steps: expected int"),
        (("--set", "guidance_scale=nan"), "guidance_scale"),
        (("--set", "guidance_scale=inf"), "guidance_scale"),
        (("--tau-video", "2"), "relevance.tau_video"),
        (("--tau-audio", "-1"), "relevance.tau_audio"),
        (("--tau-video", "nan"), "relevance.tau_video"),
        (("--set", "weights.pres=-1"), "weights.pres"),
        (("--set", "lr_decay=0"), "lr_decay"),
        (("--steps", str(10**20)), "steps"),
        (("--set", "steps=1e20"), "steps"),
        (("--frame-size", "100000"), "media.frame_size"),
        (("--fps", "inf"), "media.fps"),
        (("--start", "-1"), "media.start"),
        (("--set", "seed=-3"), "seed"),
        (("--set", "media.mel.hop_length=0"), "media.mel.hop_length"),
        (("--device", "tpu"), "model.device"),
    ],
)
def test_every_numeric_field_is_checked_before_any_work(option, field, tmp_path, capsys, monkeypatch):
    import aved.api

    monkeypatch.setattr(aved.api, "read_source", lambda *a, **k: pytest.fail("the edit started"))
    code, _, err = _edit(capsys, TOY_CLIP, tmp_path / "out", *option)
    assert_one_line_failure(code, err, field)
    assert not (tmp_path / "out").exists()


def test_numpy_numbers_are_checked_like_python_ones():
    from aved.config import EditConfig
    from aved.errors import AvedError

    for field, value in (("steps", np.int64(10**12)), ("lr", np.float32("nan"))):
        config = EditConfig()
        setattr(config, field, value)
        with pytest.raises(AvedError, match=field):
            config.validate()


def test_a_config_file_with_nan_is_refused_and_written_configs_are_strict_json(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"guidance_scale": NaN}')
    code, _, err = _edit(capsys, TOY_CLIP, tmp_path / "out", "--config", config)
    assert_one_line_failure(code, err, "guidance_scale")
    code, _, err = _edit(capsys, TOY_CLIP, tmp_path / "ok")
    assert code == 0, err
    json.loads((tmp_path / "ok" / "config.json").read_text(), parse_constant=pytest.fail)


def test_a_truncated_file_is_refused_and_info_says_so(truncated_clip, tmp_path, capsys):
    code, _, err = _edit(capsys, truncated_clip, tmp_path / "out")
    assert_one_line_failure(code, err, "cut.mp4", "truncated")
    code, out, _ = run_cli(capsys, "info", truncated_clip)
    assert code == 0 and "truncated or damaged" in out
    assert probe_clip(truncated_clip).duration < 1.5


@pytest.mark.parametrize("suffix", [".webm", ".mkv"])
def test_a_whole_file_shorter_than_the_window_is_not_truncated(suffix, tmp_path):
    path = tmp_path / f"short{suffix}"
    with av.open(str(path), "w") as out:  # Matroska stores no stream durations
        video = out.add_stream("libvpx-vp9" if suffix == ".webm" else "libx264", rate=8)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        for i, image in enumerate(noise_frames(24)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    clip = read_source(path, MediaConfig(fps=4, duration=10.0, frame_size=64), need_audio=False)
    assert clip.duration == pytest.approx(3.0, abs=0.01) and len(clip.frames) == 12


def test_a_sound_longer_than_the_picture_is_not_a_truncated_picture(tmp_path):
    path = tmp_path / "long_sound.mp4"
    odd_media.write_stamped(path, noise_frames(16), [i * 125 for i in range(16)], tone(2.6))
    info = probe_clip(path)
    assert "truncated" not in "\n".join(info.lines())
    # the last frame is stamped at 1.875 s and lasts one tick of the stream's nominal 30 fps
    assert info.duration == pytest.approx(1.875 + 1 / 30, abs=1e-3)
    assert read_clip(path).duration == pytest.approx(info.duration, abs=1e-3)


@pytest.mark.parametrize("start", [0.0, 0.3, 1.1])
def test_the_streaming_reader_keeps_the_frames_the_whole_read_would_pick(start, vfr_clip):
    media = MediaConfig(fps=4, start=start, duration=0.8, frame_size=32)
    streamed = prepare_clip(read_source(vfr_clip, media), media)
    whole = prepare_clip(read_clip(vfr_clip, start=start, duration=0.8), media)
    assert np.array_equal(streamed.frames, whole.frames) and np.array_equal(streamed.audio, whole.audio)


def test_a_window_on_one_held_frame_lasts_the_window(tmp_path):
    media = MediaConfig(fps=4, duration=2.0, frame_size=64)
    clip = read_source(odd_media.slow_start_clip(tmp_path), media)
    assert clip.duration == pytest.approx(2.0)  # by the timestamps, not 1 frame / the average rate
    prepared = prepare_clip(clip, media)
    assert len(prepared.frames) == 8 and all(np.array_equal(prepared.frames[0], f) for f in prepared.frames)


def test_a_duration_past_the_clips_end_is_refused_and_an_unset_one_takes_what_the_clip_has(vfr_clip):
    def frames(media):
        return len(prepare_clip(read_source(vfr_clip, media, need_audio=False), media, need_audio=False).frames)

    with pytest.raises(AvedError, match=r"media.duration \(--duration\): 3 s asked from 0 s, but the clip has 2.00 s"):
        frames(MediaConfig(fps=4, duration=3.0, frame_size=32))
    assert frames(MediaConfig(fps=4, frame_size=32)) == 8  # all 2 s: less than one 10.24 s audio window
    assert frames(MediaConfig(fps=4, frame_size=32, mel=MelConfig(duration=1.1))) == 4  # the window caps it
    assert frames(MediaConfig(fps=4, duration=0.0, frame_size=32)) == 8  # 0: the whole clip, past any window


def test_variable_frame_rate_is_judged_by_timestamps(vfr_clip, tmp_path, capsys):
    media = MediaConfig(fps=4, duration=2.0, frame_size=64)
    clip = read_clip(vfr_clip)
    assert clip.duration == pytest.approx(2.0, abs=0.04)
    prepared = prepare_clip(read_source(vfr_clip, media), media)
    assert len(prepared.frames) == 8
    # the frame held for the first second fills the first four samples; then each sample is a new frame
    assert all(np.array_equal(prepared.frames[0], prepared.frames[k]) for k in range(4))
    assert not np.array_equal(prepared.frames[3], prepared.frames[4])
    code, out, err = run_cli(capsys, "reconstruct", vfr_clip, "-o", tmp_path / "rec.mp4", "--model", "toyworld")
    assert code == 0, err
    assert read_clip(tmp_path / "rec.mp4").duration == pytest.approx(2.0)


def test_a_silent_soundtrack_is_refused_unless_only_the_frames_are_edited(tmp_path, capsys):
    clip = clip_with_audio(tmp_path / "quiet.mp4", 2.0, np.full(32000, 7e-11, np.float32))
    code, _, err = _edit(capsys, clip, tmp_path / "out")
    assert_one_line_failure(code, err, "silent", "video-only")
    code, _, err = _edit(capsys, clip, tmp_path / "frames", "--mode", "video-only")
    assert code == 0, err


def test_equal_prompts_and_a_clip_shorter_than_a_frame_are_warned_about(tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "edit",
        TOY_CLIP,
        "--model",
        "toyworld",
        "--steps",
        "2",
        "--source",
        "a drum",
        "--target",
        "a drum",
        "--out",
        tmp_path / "same",
    )
    assert code == 0 and any("prompts are the same" in w for w in warnings_in(err)), err
    short = clip_with_audio(tmp_path / "short.mp4", 0.0625, tone(0.06))
    code, _, err = _edit(capsys, short, tmp_path / "short")
    assert code == 0 and any("less than one frame" in w for w in warnings_in(err)), err


def test_metrics_warn_when_the_clips_do_not_line_up(tiny_metric_models, tmp_path, capsys):
    source = clip_with_audio(tmp_path / "a.mp4", 2.0, tone(2.0))
    other = clip_with_audio(tmp_path / "b.mp4", 1.0, tone(1.0), fps=8.0)
    models = ["--clip-model", tiny_metric_models["clip"], "--clap-model", tiny_metric_models["clap"]]
    models += ["--dino-model", tiny_metric_models["dino"]]
    code, _, err = run_cli(
        capsys, "metrics", source, other, "--source-prompt", "a", "--target-prompt", "b", "--metrics", "dino", *models
    )
    assert code == 0 and any("differ" in w and "2.00 s vs 1.00 s" in w for w in warnings_in(err)), err
    code, _, err = run_cli(
        capsys,
        "metrics",
        source,
        source,
        "--source-prompt",
        "a",
        "--target-prompt",
        "b",
        "--metrics",
        "dino",
        *models,
        "--out",
        tmp_path / "same.json",
    )
    assert code == 0 and warnings_in(err) == []


# ----------------------------------------------------------------------------- 2. one line, before any work


def test_an_out_that_is_a_file_or_under_one_is_refused_before_the_edit(tmp_path, capsys, monkeypatch):
    import aved.api

    monkeypatch.setattr(aved.api, "read_source", lambda *a, **k: pytest.fail("the edit started"))
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    for out in (blocker, blocker / "inside"):
        code, _, err = _edit(capsys, TOY_CLIP, out)
        assert_one_line_failure(code, err, "taken", "file")


def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import aved.outputs

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(aved.outputs, "plot_edit_losses", full)
    code, _, err = _edit(capsys, TOY_CLIP, tmp_path / "out")
    assert_one_line_failure(code, err, "No space left on device", "nothing was kept")
    assert list(tmp_path.iterdir()) == []


def test_metrics_out_into_a_folder_is_refused_before_scoring(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "metrics", TOY_CLIP, TOY_CLIP, "--source-prompt", "a", "--target-prompt", "b", "--out", tmp_path
    )
    assert_one_line_failure(code, err, "folder")


# ----------------------------------------------------------------------------- 3. outputs


def test_a_finished_out_is_refused_and_replaced_whole_with_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    assert _edit(capsys, TOY_CLIP, out)[0] == 0
    assert folders.is_complete(out)
    (out / "notes.txt").write_text("from the first run")
    code, _, err = _edit(capsys, TOY_CLIP, out)
    assert_one_line_failure(code, err, "finished output", "--overwrite")
    code, _, err = _edit(capsys, TOY_CLIP, out, "--overwrite", "--mode", "video-only")
    assert code == 0, err
    assert not (out / "notes.txt").exists() and not (out / "relevance_audio.png").exists()
    assert json.loads((out / "config.json").read_text())["mode"] == "video-only"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_folder_that_is_not_a_finished_output_is_never_written_into(tmp_path, capsys):
    out = tmp_path / "half"
    out.mkdir()
    (out / "edited.mp4").write_bytes(b"left by a killed run")  # no completion marker
    for extra in ((), ("--overwrite",)):
        code, _, err = _edit(capsys, TOY_CLIP, out, *extra)
        assert_one_line_failure(code, err, "holds other files")


def test_a_killed_runs_staging_folder_is_cleared_and_a_live_ones_kept(tmp_path, capsys):
    stages = {}
    for token in ("dead", "live"):
        stages[token] = tmp_path / f".out.partial-{token}"
        stages[token].mkdir()
        (stages[token] / "edited.mp4").write_bytes(b"half")
        (tmp_path / f".out.lock-{token}").touch()
    with folders.folder_lock(tmp_path, ".out.lock-live"):  # a run still writing holds its lock
        assert _edit(capsys, TOY_CLIP, tmp_path / "out")[0] == 0
    assert not stages["dead"].exists() and stages["live"].exists()


def test_a_finished_output_moved_aside_by_a_killed_replace_comes_back(tmp_path):
    aside = tmp_path / ".out.replaced-gone"
    aside.mkdir()
    (aside / folders.COMPLETE).write_text("{}")
    (tmp_path / ".out.lock-gone").touch()
    folders.remove_stale_stages(tmp_path / "out")
    assert folders.is_complete(tmp_path / "out") and not aside.exists()


def test_publishing_never_replaces_a_folder_filled_during_the_run(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(AvedError, match="filled by someone else"):
        with folders.staged_folder(out) as stage:
            (stage / "a.txt").write_text("mine")
            out.mkdir()
            (out / "theirs.txt").write_text("theirs")
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_that_cannot_be_renamed_onto_is_filled_in_place_marker_last(tmp_path, monkeypatch):
    out = tmp_path / "mount"
    out.mkdir()
    monkeypatch.setattr(folders, "_stages_inside", lambda folder: True)
    for replace in (False, True):
        with folders.staged_folder(out, replace=replace) as stage:
            assert stage.parent == out and folders.is_complete(out) == replace
            (stage / f"run{int(replace)}.txt").write_text("x")
        assert sorted(p.name for p in out.iterdir()) == [folders.COMPLETE, f"run{int(replace)}.txt"]


def test_a_symlinked_out_is_published_at_its_target(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    with folders.staged_folder(tmp_path / "link") as stage:
        (stage / "a.txt").write_text("x")
    assert (tmp_path / "link").is_symlink() and folders.is_complete(target)


# ----------------------------------------------------------------------------- 4. memory


def test_reading_keeps_only_the_sampled_frames(tmp_path):
    big = tmp_path / "big.mp4"
    write_clip(big, noise_frames(60, size=480), 30.0, tone(2.0), 16000)
    media = MediaConfig(fps=4, duration=2.0, frame_size=64)
    frame_bytes = 480 * 480 * 3
    tracemalloc.start()
    try:
        clip = read_source(big, media)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert clip.frames.shape == (8, 64, 64, 3)
    assert peak < 6 * frame_bytes, peak / frame_bytes  # the whole source would be 60 frames
    whole = prepare_clip(read_clip(big, duration=2.0), media)
    assert np.array_equal(prepare_clip(clip, media).frames, whole.frames)


# ----------------------------------------------------------------------------- 5. modes and messages


def test_video_only_needs_no_audio_track(tmp_path, capsys):
    clip = tmp_path / "mute.mp4"
    write_clip(clip, read_clip(TOY_CLIP).frames, 16.0)
    code, _, err = _edit(capsys, clip, tmp_path / "out", "--mode", "video-only")
    assert code == 0, err
    assert (tmp_path / "out" / "edited.mp4").is_file() and not (tmp_path / "out" / "edited.wav").exists()
    code, _, err = _edit(capsys, clip, tmp_path / "both")
    assert_one_line_failure(code, err, "mute.mp4", "no audio track")


def test_links_that_lead_nowhere_are_named_as_such(tmp_path, capsys):
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    code, _, err = run_cli(capsys, "info", loop)
    assert_one_line_failure(code, err, "loop.mp4", "symbolic link loop")
    broken = tmp_path / "broken.mp4"
    broken.symlink_to(tmp_path / "gone.mp4")
    code, _, err = run_cli(capsys, "info", broken)
    assert_one_line_failure(code, err, "broken symbolic link", "gone.mp4")


def test_model_folders_with_missing_parts_or_pickle_weights_say_which(tiny_models, tmp_path, capsys):
    import shutil

    no_vae = tmp_path / "no_vae"
    shutil.copytree(tiny_models["sd"], no_vae)
    shutil.rmtree(no_vae / "vae")
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_models["sd"], pickled)
    for weights in (pickled / "unet").glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    for folder, needles in ((no_vae, ("no vae/ folder",)), (pickled, ("unet/", "pickle"))):
        code, _, err = run_cli(
            capsys,
            "reconstruct",
            TOY_CLIP,
            "-o",
            tmp_path / "r.mp4",
            "--video-model",
            folder,
            "--audio-model",
            tiny_models["audioldm2"],
            "--frame-size",
            "64",
            "--duration",
            "2",
        )
        assert_one_line_failure(code, err, str(folder), *needles)
        assert "hf download" not in err


def test_metric_messages_name_the_file_and_the_option(tiny_metric_models, tmp_path, capsys):
    mute = tmp_path / "mute.mp4"
    write_clip(mute, read_clip(TOY_CLIP).frames, 16.0)
    code, _, err = run_cli(
        capsys,
        "metrics",
        mute,
        TOY_CLIP,
        "--source-prompt",
        "a",
        "--target-prompt",
        "b",
        "--metrics",
        "lpaps",
        "--clap-model",
        tiny_metric_models["clap"],
    )
    assert_one_line_failure(code, err, "mute.mp4", "no audio track")
    code, _, err = run_cli(
        capsys,
        "metrics",
        TOY_CLIP,
        TOY_CLIP,
        "--source-prompt",
        "a",
        "--target-prompt",
        "b",
        "--metrics",
        "clip_t",
        "--clip-model",
        tmp_path / "no-such-model",
    )
    assert_one_line_failure(code, err, "--clip-model PATH")


# ----------------------------------------------------------------------------- 3b. benchmark folders


@pytest.fixture
def bench_inputs(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "ball.mp4").write_bytes(TOY_CLIP.read_bytes())
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "name,src,trg,src_category,trg_category\n"
        "ball,a red ball bouncing on grass,a yellow bell bouncing on grass,ball,bell\n"
    )
    return manifest, videos


def _bench(capsys, manifest, videos, out):
    return run_cli(
        capsys,
        "bench",
        "run",
        manifest,
        "--videos",
        videos,
        "--out",
        out,
        "--model",
        "toyworld",
        "--steps",
        "2",
        "--metrics",
        "av_align",
    )


def test_bench_inputs_and_outputs_are_checked_before_any_work(bench_inputs, tmp_path, capsys):
    manifest, videos = bench_inputs
    code, _, err = _bench(capsys, manifest, tmp_path / "no-videos", tmp_path / "out")
    assert_one_line_failure(code, err, "no-videos", "no such videos folder")
    code, _, err = _bench(capsys, manifest, videos, manifest)
    assert_one_line_failure(code, err, "manifest.csv", "is a file")
    assert not (tmp_path / "out").exists()


def test_a_second_bench_run_on_a_held_folder_is_refused_naming_the_holder(bench_inputs, tmp_path, capsys):
    manifest, videos = bench_inputs
    out = tmp_path / "out"
    with folders.folder_lock(out, ".lock.0of1"):
        code, _, err = _bench(capsys, manifest, videos, out)
    assert_one_line_failure(code, err, "in use by", f"pid {os.getpid()}")
    assert not (out / "clips").exists()
    code, _, err = _bench(capsys, manifest, videos, out)  # once released, the folder is free
    assert code == 0, err


def test_a_clip_folder_without_its_completion_marker_is_done_again(bench_inputs, tmp_path, capsys):
    manifest, videos = bench_inputs
    out = tmp_path / "out"
    assert _bench(capsys, manifest, videos, out)[0] == 0
    (out / "clips" / "ball" / folders.COMPLETE).unlink()  # as if killed between the last file and the marker
    code, stdout, err = _bench(capsys, manifest, videos, out)
    assert code == 0 and "1 edited, 0 already done" in stdout, err
    assert folders.is_complete(out / "clips" / "ball")
    code, stdout, _ = _bench(capsys, manifest, videos, out)
    assert code == 0 and "0 edited, 1 already done" in stdout


def test_a_toyworld_bench_shard_has_one_writer_and_one_layout(tmp_path, capsys):
    out = tmp_path / "toy"
    with folders.shard_lock(out, 0, 2):
        code, _, err = run_cli(capsys, "toyworld", "bench", "--out", out, "--tasks", "1", "--shard", "0/2")
        assert_one_line_failure(code, err, "in use by")
        code, _, err = run_cli(capsys, "toyworld", "bench", "--out", out, "--tasks", "1")
        assert_one_line_failure(code, err, "split into 2 shards")


@pytest.mark.parametrize(
    "signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_ends_an_edit_with_nothing_half_written(signum, code, word, tmp_path):
    argv = ["edit", TOY_CLIP, "--model", "toyworld", *PROMPTS, "--out", tmp_path / "out", "--steps", "5000"]
    returned, _, err, _ = run_and_signal(argv, signum)
    assert returned == code, err
    assert f"aved: {word}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_working_folder_as_out_is_filled_in_place(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with folders.staged_folder(".") as stage:
        assert stage.parent == here
        (stage / "a.txt").write_text("x")
    assert Path.cwd() == here and folders.is_complete(here) and (here / "a.txt").is_file()


def test_in_place_publishing_never_mixes_with_files_that_appeared_during_the_run(tmp_path, monkeypatch):
    out = tmp_path / "mount"
    out.mkdir()
    monkeypatch.setattr(folders, "_stages_inside", lambda folder: True)
    with pytest.raises(AvedError, match="filled by someone else"):
        with folders.staged_folder(out) as stage:
            (stage / "mine.txt").write_text("x")
            (out / "theirs.txt").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]


def test_a_model_folder_replaced_whole_comes_back_when_the_swap_fails(tmp_path, monkeypatch):
    import os

    target = tmp_path / "models"
    target.mkdir()
    (target / "weights.bin").write_text("old")
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst) == str(target) and ".tmp-" in str(src):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(folders.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"), folders.replaced_folder(target) as stage:
        (stage / "weights.bin").write_text("new")
    assert (target / "weights.bin").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no stage, no retired copy left


def test_an_edits_config_json_runs_again_with_config(tmp_path, capsys):
    out = tmp_path / "first"
    code, _, err = _edit(capsys, TOY_CLIP, out)
    assert code == 0, err
    again = tmp_path / "again"
    code, _, err = run_cli(
        capsys, "edit", TOY_CLIP, "--model", "toyworld", "--config", out / "config.json", "--steps", "2", "--out", again
    )
    assert code == 0, err
    assert (again / "losses.csv").read_text() == (out / "losses.csv").read_text()
