"""Metrics of docs/design.md §3: AV-Align on clips with known events, the model-based metrics on tiny random models."""

import json
import re

import cv2
import numpy as np
import pytest
import torch

from aved.errors import AvedError
from aved.media.clip import Clip, read_clip
from aved.metrics import (
    METRICS,
    ClapExtractor,
    ClipExtractor,
    DinoExtractor,
    MetricModels,
    Scorer,
    audio_peaks,
    av_align,
    clap_score,
    clip_t,
    dino_similarity,
    flow_magnitudes,
    lpaps,
    match_frames,
    match_peaks,
    peak_iou,
    video_peaks,
    zero_shot_top1,
)

FPS, SR, SECONDS = 24, 16000, 4.0
EVENT_FRAMES = (12, 36, 60, 77)  # 0.5, 1.5, 2.5 and ~3.2 s at 24 fps


def _jump_frames(event_frames, count=int(FPS * SECONDS), size=64) -> np.ndarray:
    """A smooth random texture that jumps 6 px sideways at each event frame and is still in between."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2)
    texture = 255 * (texture - texture.min()) / np.ptp(texture)
    frames, shift = [], 0
    for k in range(count):
        if k in event_frames:
            shift = 6 - shift
        image = np.full((size, size), 128, np.float32)
        image[16:48, 8 + shift : 40 + shift] = texture[16:48, 8:40]
        frames.append(np.repeat(image[..., None], 3, axis=-1).astype(np.uint8))
    return np.stack(frames)


def _clicks(times, seed=1) -> np.ndarray:
    """Silence with a 50 ms decaying noise burst starting at each time."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(SECONDS * SR), np.float32)
    n = int(0.05 * SR)
    for t in times:
        start = int(round(t * SR))
        y[start : start + n] += rng.standard_normal(n).astype(np.float32) * np.exp(-np.arange(n) / (0.005 * SR))
    return y


def _clip(frames, audio, fps=FPS, sr=SR) -> Clip:
    return Clip(frames=frames, times=np.arange(len(frames)) / fps, fps=fps, audio=audio, sample_rate=sr)


# ----------------------------------------------------------------------------------------------- AV-Align


def test_flow_peaks_sit_at_the_later_frame_of_each_jump():
    magnitudes = flow_magnitudes(_jump_frames(EVENT_FRAMES))
    assert magnitudes.shape == (int(FPS * SECONDS) - 1,)
    np.testing.assert_allclose(video_peaks(magnitudes, FPS), np.array(EVENT_FRAMES) / FPS)


def test_video_peaks_are_strict_interior_maxima_of_at_least_0_1():
    m = np.array([0.9, 0.2, 0.3, 0.3, 0.1, 0.09, 0.05, 0.2, 0.0, 0.1, 0.0, 0.5])
    # 0.9 (first) and 0.5 (last) have one neighbour, 0.3 0.3 is a plateau, 0.09 is below 0.1.
    np.testing.assert_allclose(video_peaks(m, 10), [8 / 10, 10 / 10])


def test_audio_peaks_find_the_clicks():
    times = np.array(EVENT_FRAMES) / FPS
    peaks = audio_peaks(_clicks(times), SR)
    assert len(peaks) == len(times)
    assert np.all(np.abs(peaks - times) < 1 / FPS)


def test_av_align_is_one_for_aligned_events_and_drops_when_audio_is_shifted():
    frames = _jump_frames(EVENT_FRAMES)
    times = np.array(EVENT_FRAMES) / FPS
    assert av_align(frames, FPS, _clicks(times), SR) == 1.0
    assert av_align(frames, FPS, _clicks(times + 5 / FPS), SR) < 0.5


def test_iou_by_hand():
    audio, video = [0.5, 1.0, 2.0], [0.52, 1.3, 2.01, 3.0]
    assert match_peaks(audio, video, 1 / 24) == 2  # 0.5↔0.52, 2.0↔2.01; 1.0 and 1.3, 3.0 are unmatched
    assert peak_iou(audio, video, 1 / 24) == pytest.approx(2 / (3 + 4 - 2))


def test_matching_is_one_to_one_and_maximal():
    assert match_peaks([1.0, 1.01], [1.005], 1 / 24) == 1
    assert peak_iou([1.0, 1.01], [1.005], 1 / 24) == pytest.approx(1 / 2)
    # Taking the nearest peak would pair 0.0 with 0.02 and leave 0.03 alone; both can be matched.
    assert match_peaks([0.0, 0.03], [-0.03, 0.02], 0.04) == 2
    assert match_peaks([0.0], [1 / 24], 1 / 24) == 0  # the window is open, as in the reference code


def test_iou_without_peaks_is_zero():
    assert peak_iou([], [], 1 / 24) == 0.0
    assert peak_iou([0.5], [], 1 / 24) == 0.0
    assert av_align(np.zeros((10, 32, 32, 3), np.uint8), FPS, np.zeros(SR, np.float32), SR) == 0.0


def test_av_align_of_the_bouncing_ball(example_clip):
    meta = json.loads(example_clip.with_suffix(".json").read_text())
    clip = read_clip(example_clip)
    onsets = audio_peaks(clip.audio, clip.sample_rate)
    for impact in meta["impacts_s"]:
        assert np.min(np.abs(onsets - impact)) < 1 / meta["fps"]
    # 6 matches among 9 onsets and 11 flow peaks (the ball also speeds up at the top of each hop): 6 / 14.
    assert av_align(clip.frames, clip.fps, clip.audio, clip.sample_rate) == pytest.approx(3 / 7)


# ----------------------------------------------------------------------------------------------- model-based


@pytest.fixture(scope="module")
def metric_models(tiny_metric_models):
    return tiny_metric_models


@pytest.fixture(scope="module")
def clip_model(metric_models):
    return ClipExtractor(str(metric_models["clip"]), batch_size=4)


@pytest.fixture(scope="module")
def clap_model(metric_models):
    return ClapExtractor(str(metric_models["clap"]))


@pytest.fixture(scope="module")
def dino_model(metric_models):
    return DinoExtractor(str(metric_models["dino"]), batch_size=4)


def _random_frames(n=6, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 40, 56, 3), dtype=np.uint8)


def _noise(seconds=2.0, seed=0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_tiny_metric_models_are_plain_safetensors_folders(metric_models):
    for name in ("clip", "clap", "dino"):
        files = {p.name for p in metric_models[name].iterdir()}
        assert "model.safetensors" in files and "preprocessor_config.json" in files
        assert not any(f.endswith((".bin", ".pt")) for f in files)
        assert not any(p.name.startswith(".") for p in metric_models[name].parent.iterdir())


def test_clip_features_are_unit_rows_and_independent_of_batching(clip_model):
    frames = _random_frames()
    feats = clip_model.image_features(frames)  # batches of 4 and 2
    assert feats.shape[0] == len(frames)
    torch.testing.assert_close(feats.norm(dim=-1), torch.ones(len(frames)))
    torch.testing.assert_close(feats[4:], clip_model.image_features(frames[4:]), rtol=1e-5, atol=1e-5)
    text = clip_model.text_features(["a photo of a cat", "a dog barking"])
    assert text.shape == (2, feats.shape[1])
    assert -1.0 <= clip_t(text[0], feats) <= 1.0


def test_dino_of_a_clip_with_itself_is_one(dino_model):
    feats = dino_model.image_features(_random_frames())
    assert dino_similarity(feats, feats) == pytest.approx(1.0, abs=1e-5)
    assert dino_similarity(feats, dino_model.image_features(_random_frames(seed=1))) < 1.0


def test_clap_and_lpaps(clap_model):
    a, b = _noise(seed=0), _noise(3.0, seed=1)
    text = clap_model.text_features(["the sound of a dog barking"])
    assert -1.0 <= clap_score(text, clap_model.audio_features([a], SR)) <= 1.0
    layers_a, layers_b = clap_model.audio_layers([a], SR), clap_model.audio_layers([b], SR)
    assert len(layers_a) == 4  # the four HTSAT stages
    assert lpaps(layers_a, layers_a) == 0.0
    distance = lpaps(layers_a, layers_b)
    assert 0.0 < distance <= 4 * len(layers_a)
    assert lpaps(layers_b, layers_a) == pytest.approx(distance)


def test_clap_audio_is_deterministic_and_resampled(clap_model):
    a = _noise(12.0)  # longer than CLAP's 10 s window, which the extractor would crop at random
    torch.testing.assert_close(clap_model.audio_features([a], SR), clap_model.audio_features([a], SR))
    assert clap_model.sample_rate == 48000


def test_zero_shot_top1():
    labels = np.eye(3)
    categories = ["cat", "dog", "car"]
    query = np.array([[0.1, 0.9, 0.2], [0.3, 0.5, 0.1]])  # both rows closest to "dog"
    assert zero_shot_top1(query, labels, categories, "dog") == 1.0
    assert zero_shot_top1(query, labels, categories, "cat") == 0.0


def test_match_frames_takes_the_nearest_earlier_source_frame():
    np.testing.assert_array_equal(match_frames(96, 24, 16, 4), np.arange(16) * 6)
    np.testing.assert_array_equal(match_frames(10, 24, 3, 10), [0, 2, 4])  # 0, 0.1, 0.2 s → 0, 2.4, 4.8
    np.testing.assert_array_equal(match_frames(5, 10, 4, 1), [0, 4, 4, 4])  # past the source's end: last frame


def test_a_missing_model_is_a_one_line_error_naming_it(tmp_path):
    with pytest.raises(AvedError) as info:
        ClipExtractor("aved-tests/no-such-clip-model")
    message = str(info.value)
    assert "'aved-tests/no-such-clip-model'" in message and "`hf download aved-tests/no-such-clip-model`" in message
    assert "MetricModels(clip=PATH)" in message and "\n" not in message and info.value.__suppress_context__
    for folder, what in ((tmp_path / "missing", "(no such folder)"), (tmp_path, "(folder: ")):
        with pytest.raises(AvedError, match=re.escape(f"cannot load the CLAP metric model '{folder}' {what}")) as info:
            ClapExtractor(str(folder))
        assert "\n" not in str(info.value) and "MetricModels(clap=PATH)" in str(info.value)


# ----------------------------------------------------------------------------------------------- Scorer


def test_scorer_loads_only_what_its_metrics_need(metric_models):
    scorer = Scorer(["av_align"], MetricModels(clip="/nowhere", clap="/nowhere", dino="/nowhere"))
    assert (scorer.clip, scorer.clap, scorer.dino) == (None, None, None)
    scorer = Scorer(["dino"], MetricModels(clip="/nowhere", clap="/nowhere", dino=str(metric_models["dino"])))
    assert scorer.clip is None and scorer.clap is None and scorer.dino is not None


def test_scorer_rejects_unknown_metrics():
    with pytest.raises(AvedError, match="choose from av_align, clip_t, clap, dino, lpaps, obj_v, obj_a"):
        Scorer(["av_align", "fid"])


def test_scorer_scores_an_edit(metric_models):
    models = MetricModels(**{k: str(v) for k, v in metric_models.items()}, device="cpu")
    scorer = Scorer(models=models)
    frames, times = _jump_frames(EVENT_FRAMES), np.array(EVENT_FRAMES) / FPS
    source = _clip(frames, _clicks(times))
    # A 4 fps edit of the same clip: DINO compares each edited frame with the source frame shown at its time.
    edited = _clip(frames[::6], _clicks(times, seed=2), fps=4)
    scores = scorer.score(source, edited, "a cat meowing", "a dog barking")
    assert tuple(scores) == ("av_align", "clip_t", "clap", "dino", "lpaps")  # no categories: objects left out
    assert scores["dino"] == pytest.approx(1.0, abs=1e-5)
    assert -1 <= scores["clip_t"] <= 1 and -1 <= scores["clap"] <= 1 and scores["lpaps"] > 0
    categories = ["cat meowing", "dog barking", "car engine"]
    scores = scorer.score(source, edited, "a cat meowing", "a dog barking", categories, "dog barking")
    assert tuple(scores) == METRICS
    assert scores["obj_v"] in (0.0, 1.0) and scores["obj_a"] in (0.0, 1.0)
    with pytest.raises(AvedError, match="not one of the 3 category names"):
        scorer.score(source, edited, "a cat", "a dog", categories, "piano")


def test_scorer_asked_for_objects_needs_categories(metric_models):
    scorer = Scorer(["obj_v"], MetricModels(clip=str(metric_models["clip"]), device="cpu"))
    clip = _clip(_random_frames(), None)
    with pytest.raises(AvedError, match="obj_v needs the category names"):
        scorer.score(clip, clip, "a cat", "a dog")
    assert set(scorer.score(clip, clip, "a cat", "a dog", ["cat", "dog"], "dog")) == {"obj_v"}


def test_audio_metrics_need_audio():
    with pytest.raises(AvedError, match="needs audio"):
        Scorer(["av_align"]).score(*[_clip(_random_frames(), None)] * 2, "a cat", "a dog")
