"""Long sounds as overlapping windows of the audio prior's length (docs/design.md §6): the layout covers the sound,
the cross-fade weights are a partition of unity, and an edit of a long clip is one edit of one long latent."""

import numpy as np
import pytest
import torch

from aved.codec import PreparedClip, audio_windows, encode_audio
from aved.config import EditConfig, apply_overrides
from aved.editor import Editor
from aved.media.windows import merge_windows, split_windows, window_layout, window_weights

SMALL = {"steps": 2, "media.frame_size": 32, "media.mel.duration": 2.56, "media.fps": 4.0, "media.duration": 0.0}


@pytest.mark.parametrize("total, length, overlap, step", [(100, 26, 0.25, 1), (64, 16, 0.5, 4), (16, 16, 0.25, 1)])
def test_the_windows_cover_the_axis_with_at_least_the_overlap(total, length, overlap, step):
    layout = window_layout(total, length, overlap, step)
    assert layout.starts[0] == 0 and layout.starts[-1] + length == total
    assert all(s % step == 0 for s in layout.starts)
    gaps = [b - a for a, b in zip(layout.starts, layout.starts[1:], strict=False)]
    assert all(0 < g <= length * (1 - overlap) for g in gaps)  # every overlap at least `overlap` of a window
    assert (layout.count == 1) == (total == length)


def test_the_cross_fade_weights_sum_to_one_and_merge_undoes_split():
    layout = window_layout(100, 26, 0.25)
    weights = window_weights(layout)
    coverage = merge_windows(torch.ones(layout.count, 1, 26, 3), layout)
    torch.testing.assert_close(coverage, torch.ones(1, 1, 100, 3))
    assert float(weights.diff(dim=1).abs().max()) <= 1 / 6 + 1e-6  # no jump: ramps over ≥ 6 overlapping frames
    x = torch.randn(1, 4, 100, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(merge_windows(split_windows(x, layout), layout), x)


def _long_source(seconds: float) -> PreparedClip:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (int(seconds * 4), 32, 32, 3), dtype=np.uint8)
    audio = np.zeros(int(seconds * 16000), dtype=np.float32)
    audio[::4000] = 1.0
    return PreparedClip(frames, 4.0, audio, 16000)


def _config(**overrides) -> EditConfig:
    prompts = {"prompts.source": "a red ball bouncing", "prompts.target": "a blue bell ringing"}
    return apply_overrides(EditConfig(), {**SMALL, **prompts, **overrides})


def test_a_long_sound_is_one_latent_edited_through_its_windows(video_prior, audio_prior):
    source = _long_source(7.0)
    windows = audio_windows(audio_prior, _config().media, 7.0)
    assert windows.count >= 3
    z_src, _ = encode_audio(audio_prior, source.audio, source.sample_rate, _config().media)
    assert z_src.shape[-2] == windows.total  # one long latent, not a row of windows
    result = Editor(video_prior, audio_prior, _config()).run(source, torch.Generator().manual_seed(0), progress=False)
    assert result.z_audio.shape == z_src.shape and len(result.audio) == round(7.0 * result.sample_rate)
    assert result.relevance_audio.shape[0] == windows.total
    assert not torch.equal(result.z_audio, z_src)  # the edit moved it, overlaps included


def test_equal_prompts_leave_a_long_sound_exactly_as_it_was(video_prior, audio_prior):
    """Every window's δ is 0 at equal prompts with shared noise, so the merged step is 0 on every frame."""
    source = _long_source(7.0)
    config = _config(**{"prompts.target": "a red ball bouncing"})
    result = Editor(video_prior, audio_prior, config).run(source, torch.Generator().manual_seed(0), progress=False)
    z_src, _ = encode_audio(audio_prior, source.audio, source.sample_rate, config.media)
    assert torch.equal(result.z_audio, z_src)


def test_the_v1_feature_terms_refuse_a_long_sound(video_prior, audio_prior):
    from aved.errors import AvedError

    config = _config(**{"sync.form": "infonce"})
    with pytest.raises(AvedError, match="take one audio window"):
        Editor(video_prior, audio_prior, config).run(_long_source(7.0), torch.Generator().manual_seed(0))


def test_a_minute_long_clip_edits_end_to_end_from_the_command_line(tiny_models, tmp_path, capsys):
    from cli_helpers import run_cli

    from aved.media.clip import probe_clip, write_clip

    seconds, rate = 60.0, 44100
    t = np.arange(int(seconds * rate)) / rate
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32) * 0.3
    frames = np.random.default_rng(0).integers(0, 256, (int(seconds * 12), 48, 64, 3), dtype=np.uint8)
    clip = tmp_path / "minute.mp4"
    write_clip(clip, frames, 12.0, stereo, rate)
    out = tmp_path / "edit"
    code, _, err = run_cli(
        capsys, "edit", clip, "--source", "a hum", "--target", "a bell", "--duration", "all", "--steps", "1",
        "--frame-size", "32", "--set", "media.mel.duration=2.56", "--out", out,
        "--video-model", tiny_models["sd"], "--audio-model", tiny_models["audioldm2"],
    )  # fmt: skip
    assert code == 0, err
    edited = probe_clip(out / "edited.mp4")
    assert abs(edited.duration - seconds) < 0.5 and abs(edited.audio_duration - seconds) < 0.5


def test_a_long_sounds_relevance_is_each_windows_own_as_the_prior_sees_it():
    """A loud edit in one window must not make a quieter one elsewhere look irrelevant (min–max per window)."""
    from aved.relevance import delta_relevance, windowed_delta_relevance

    layout = window_layout(100, 26, 0.25)
    magnitude = torch.rand(1, 4, 100, 8, generator=torch.Generator().manual_seed(0))
    magnitude[..., :26, :] *= 100  # the first window's δ is a hundred times the rest
    relevance = windowed_delta_relevance(magnitude, layout, tau=0.5, reach=0)
    last = slice(layout.starts[-1], 100)
    alone = delta_relevance(magnitude[..., last, :], 1, 0.5, 0)
    own = slice(layout.starts[-2] + 26, 100)  # the part of the last window no other window covers
    torch.testing.assert_close(relevance[:, own], alone[:, own.start - layout.starts[-1] :])
    assert float(relevance[:, own].mean()) > 5 * float(delta_relevance(magnitude, 1, 0.5, 0)[:, own].mean())
