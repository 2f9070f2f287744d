"""Round trips and failure modes of aved.media.clip (small synthetic clips written into tmp_path)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from scipy import signal

from aved.errors import AvedError
from aved.media import clip as clip_module
from aved.media.clip import probe_clip, read_clip, rotate_upright, write_clip

SR = 44100
# AAC through FFmpeg's edit lists should land exactly; a couple of samples covers resampling-free rounding.
LAG_TOLERANCE = 2


def smooth_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Moving colour gradients: smooth content that H.264 at crf 18 reproduces closely."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = [
        np.stack([xx / width * 200 + 3 * i, yy / height * 200 + 20, 220 - (xx + yy) * 1.2 + 2 * i], axis=-1)
        for i in range(count)
    ]
    return np.clip(frames, 0, 255).astype(np.uint8)


def bursts(seconds: float, at: list[float], rate: int = SR, seed: int = 0) -> np.ndarray:
    """Silence with 5 ms decaying noise bursts starting at the times in `at` (sharp correlation peaks)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(round(seconds * rate), dtype=np.float32)
    length = int(0.005 * rate)
    envelope = np.exp(-np.arange(length) / (0.001 * rate))
    for t in at:
        start = round(t * rate)
        out[start : start + length] += (0.8 * envelope * rng.standard_normal(length)).astype(np.float32)
    return out


def lag_of(decoded: np.ndarray, original: np.ndarray, max_lag: int = 500) -> int:
    """Samples by which `decoded` is late relative to `original` (cross-correlation peak)."""
    n = min(len(decoded), len(original))
    corr = signal.correlate(decoded[:n], original[:n], mode="full", method="fft")
    lags = signal.correlation_lags(n, n, mode="full")
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(corr[keep])])


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_one_line_error(excinfo: pytest.ExceptionInfo, path: Path) -> None:
    message = str(excinfo.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message, message


def write_with_pyav(path: Path, frames: np.ndarray, pts_ms: list[int], rotation: int = 0) -> None:
    """H.264 in MP4 with frame timestamps given in milliseconds (for VFR and display-matrix tests)."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for image, pts in zip(frames, pts_ms, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


# ----------------------------------------------------------------------------------------- round trips


def test_round_trip_frames_fps_and_audio_alignment(tmp_path: Path) -> None:
    frames = smooth_frames(24)
    audio = bursts(1.0, [0.1, 0.37, 0.62, 0.9])
    path = tmp_path / "clip.mp4"
    write_clip(path, frames, 24, audio, SR)

    clip = read_clip(path)
    assert clip.frames.shape == frames.shape and clip.frames.dtype == np.uint8
    assert clip.fps == pytest.approx(24.0)
    assert clip.duration == pytest.approx(1.0)
    np.testing.assert_allclose(clip.times, np.arange(24) / 24, atol=1e-4)
    assert mean_abs_error(clip.frames, frames) < 8
    assert clip.sample_rate == SR and clip.audio.dtype == np.float32
    # Priming and final-frame padding are trimmed: the length is the written one, well inside one frame.
    assert abs(len(clip.audio) - clip.duration * SR) <= SR / 24
    assert len(clip.audio) == SR
    assert abs(lag_of(clip.audio, audio)) <= LAG_TOLERANCE

    info = probe_clip(path)
    assert (info.width, info.height, info.frame_count, info.rotation) == (64, 48, 24, 0)
    assert info.fps == pytest.approx(24.0) and info.duration == pytest.approx(1.0, abs=0.05)
    assert (info.video_codec, info.audio_codec, info.sample_rate, info.channels) == ("h264", "aac", SR, 1)
    assert info.audio_duration == pytest.approx(1.0, abs=1e-3)
    assert all(": " in line for line in info.lines())


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_round_trip_other_containers(tmp_path: Path, suffix: str) -> None:
    frames = smooth_frames(12)
    audio = bursts(0.5, [0.2])
    path = tmp_path / f"clip{suffix}"
    write_clip(path, frames, 24, audio, SR)
    clip = read_clip(path)
    assert len(clip.frames) == 12 and mean_abs_error(clip.frames, frames) < 8
    assert abs(lag_of(clip.audio, audio)) <= LAG_TOLERANCE
    assert abs(len(clip.audio) - 0.5 * SR) <= SR / 24
    assert probe_clip(path).frame_count == 12


def test_webm_with_opus_priming(tmp_path: Path) -> None:
    # Opus has 312 samples of encoder delay at 48 kHz; they must not shift the waveform.
    rate, frames = 48000, smooth_frames(12)
    audio = bursts(0.5, [0.1, 0.3], rate=rate)
    path = tmp_path / "clip.webm"
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libvpx", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("libopus", rate=rate)
        sound.layout = "mono"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for start in range(0, len(audio), 960):
            chunk = np.zeros((1, 960), np.float32)
            piece = audio[start : start + 960]
            chunk[0, : len(piece)] = piece
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    clip = read_clip(path)
    assert len(clip.frames) == 12 and clip.sample_rate == rate
    assert abs(lag_of(clip.audio, audio)) <= LAG_TOLERANCE


def test_window_matches_full_read(tmp_path: Path) -> None:
    frames = smooth_frames(48)
    audio = bursts(2.0, [0.3, 0.8, 1.05, 1.6])
    path = tmp_path / "clip.mp4"
    write_clip(path, frames, 24, audio, SR)
    full = read_clip(path)

    start, duration = 0.75, 0.5  # frames 18..29, audio samples 33075..55125
    window = read_clip(path, start=start, duration=duration)
    assert len(window.frames) == 12
    np.testing.assert_array_equal(window.frames, full.frames[18:30])
    np.testing.assert_allclose(window.times, full.times[18:30] - start, atol=1e-6)
    assert len(window.audio) == round(duration * SR)
    first = round(start * SR)
    # Decoding restarts a quarter second early, so the AAC overlap state is rebuilt exactly.
    np.testing.assert_allclose(window.audio, full.audio[first : first + len(window.audio)], atol=1e-4)

    tail = read_clip(path, start=1.5)
    np.testing.assert_array_equal(tail.frames, full.frames[36:])
    assert len(tail.audio) == len(full.audio) - round(1.5 * SR)


def test_stereo_is_downmixed_by_averaging(tmp_path: Path) -> None:
    t = np.arange(SR // 2) / SR
    left = 0.6 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "stereo.mp4"
    write_clip(path, smooth_frames(12), 24, np.stack([left, right], axis=1).astype(np.float32), SR)
    clip = read_clip(path)
    expected = (left + right) / 2
    inner = slice(2048, len(expected) - 2048)  # away from the codec's start/end transients
    residual = clip.audio[inner] - expected[inner]
    assert np.sqrt(np.mean(residual**2)) < 0.05 * np.sqrt(np.mean(expected[inner] ** 2))
    assert probe_clip(path).channels == 2


def test_odd_dimensions_are_padded_by_repeating_the_edge(tmp_path: Path) -> None:
    frames = smooth_frames(6, height=47, width=63)
    path = tmp_path / "odd.mp4"
    write_clip(path, frames, 24)
    clip = read_clip(path)
    assert clip.frames.shape == (6, 48, 64, 3)
    assert mean_abs_error(clip.frames[:, :47, :63], frames) < 8
    assert mean_abs_error(clip.frames[:, 47, :63], frames[:, 46]) < 8
    assert mean_abs_error(clip.frames[:, :47, 63], frames[:, :, 62]) < 8


def test_non_integer_fps(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    write_clip(path, smooth_frames(30), 29.97, bursts(1.0, [0.5]), SR)
    clip = read_clip(path)
    assert len(clip.frames) == 30
    assert clip.fps == pytest.approx(29.97, abs=1e-3)
    np.testing.assert_allclose(clip.times, np.arange(30) / 29.97, atol=1e-4)
    assert abs(len(clip.audio) - round(30 / 29.97 * SR)) <= 1


def test_variable_frame_rate_times_are_real_timestamps(tmp_path: Path) -> None:
    pts_ms = [0, 40, 100, 130, 250, 260, 400, 520, 530, 700]
    path = tmp_path / "vfr.mp4"
    write_with_pyav(path, smooth_frames(len(pts_ms)), pts_ms)
    clip = read_clip(path)
    np.testing.assert_allclose(clip.times, np.array(pts_ms) / 1000, atol=1e-6)
    assert clip.audio is None
    window = read_clip(path, start=0.1, duration=0.3)
    np.testing.assert_allclose(window.times, np.array([0, 30, 150, 160]) / 1000, atol=1e-6)


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    frames[:, :16, :16] = 255  # white block at the top-left of the stored picture
    path = tmp_path / "rotated.mp4"
    write_with_pyav(path, frames, [0, 40, 80], rotation=90)
    clip = read_clip(path)
    # A 90 degree counter-clockwise turn carries the top-left corner to the bottom-left.
    assert clip.frames.shape == (3, 64, 48, 3)
    assert clip.frames[:, -16:, :16].mean() > 200 and clip.frames[:, :16, :16].mean() < 50
    info = probe_clip(path)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)


def test_rotate_upright_helper() -> None:
    image = np.arange(6).reshape(2, 3, 1)
    assert rotate_upright(image, 0) is image
    np.testing.assert_array_equal(rotate_upright(image, 90)[..., 0], [[2, 5], [1, 4], [0, 3]])
    np.testing.assert_array_equal(rotate_upright(image, -90), rotate_upright(image, 270))
    np.testing.assert_array_equal(rotate_upright(image, 180)[..., 0], [[5, 4, 3], [2, 1, 0]])


def test_no_audio_track(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    write_clip(path, smooth_frames(4), 24)
    clip = read_clip(path)
    assert clip.audio is None and clip.sample_rate is None
    with pytest.raises(AvedError, match="has no audio track, and this command needs one") as excinfo:
        read_clip(path, require_audio=True)
    assert_one_line_error(excinfo, path)
    assert probe_clip(path).audio_codec is None


# -------------------------------------------------------------------------------------------- bad input


def _truncated(tmp_path: Path, faststart: bool) -> Path:
    good = tmp_path / "good.mp4"
    if faststart:
        # Index first, media data second: the half file still opens, decoding then runs out of data.
        with av.open(str(good), mode="w", options={"movflags": "faststart"}) as out:
            stream = out.add_stream("libx264", rate=24)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i, image in enumerate(smooth_frames(24)):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    else:
        write_clip(good, smooth_frames(24), 24, bursts(1.0, [0.5]), SR)
    data = good.read_bytes()
    bad = tmp_path / ("truncated_faststart.mp4" if faststart else "truncated.mp4")
    bad.write_bytes(data[: len(data) // 2])
    return bad


def _bad_input(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 20)
    elif kind == "truncated":
        path = _truncated(tmp_path, faststart=False)
    elif kind == "truncated_faststart":
        path = _truncated(tmp_path, faststart=True)
    elif kind == "wav":
        path = tmp_path / "sound.wav"
        soundfile.write(path, bursts(0.2, [0.1]), SR)
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("text", "not a readable video file"),
        ("truncated", "not a readable video file"),
        ("truncated_faststart", "damaged or truncated"),
        ("wav", "has no video stream"),
        ("folder", "not a regular file"),
    ],
)
def test_bad_inputs_raise_one_line_errors(tmp_path: Path, kind: str, reason: str) -> None:
    path = _bad_input(tmp_path, kind)
    with pytest.raises(AvedError, match=reason) as excinfo:
        read_clip(path)
    assert_one_line_error(excinfo, path)
    if kind != "truncated_faststart":  # probing decodes only the first frame, which is still intact
        with pytest.raises(AvedError, match=reason) as excinfo:
            probe_clip(path)
        assert_one_line_error(excinfo, path)


def test_audio_only_m4a_has_no_video(tmp_path: Path) -> None:
    path = tmp_path / "song.m4a"
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("aac", rate=SR)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = SR, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(AvedError, match="has no video stream") as excinfo:
        read_clip(path)
    assert_one_line_error(excinfo, path)


def test_bad_windows(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_clip(path, smooth_frames(6), 24)
    for kwargs in ({"start": -1.0}, {"duration": 0.0}, {"start": 5.0}):
        with pytest.raises(AvedError) as excinfo:
            read_clip(path, **kwargs)
        assert_one_line_error(excinfo, path)


# ---------------------------------------------------------------------------------------------- writing


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    "frames",
    [
        smooth_frames(3).astype(np.float32),
        smooth_frames(3)[..., :2],
        smooth_frames(3)[0],
        np.zeros((0, 48, 64, 3), np.uint8),
    ],
)
def test_write_rejects_bad_frames_and_leaves_nothing(tmp_path: Path, frames: np.ndarray) -> None:
    path = tmp_path / "out.mp4"
    with pytest.raises(AvedError) as excinfo:
        write_clip(path, frames, 24)
    assert_one_line_error(excinfo, path)
    assert _leftovers(tmp_path) == []


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    frames = smooth_frames(3)
    cases = [
        (tmp_path / "out.mp4", {"fps": 0}),
        (tmp_path / "out.mp4", {"fps": 24, "audio": np.zeros(100, np.float32)}),  # no sample rate
        (tmp_path / "out.mp4", {"fps": 24, "audio": np.zeros(100, np.float32), "sample_rate": 12345}),
        (tmp_path / "out.avi", {"fps": 24}),
        (tmp_path / "missing" / "out.mp4", {"fps": 24}),
    ]
    for path, kwargs in cases:
        with pytest.raises(AvedError) as excinfo:
            write_clip(path, frames, **kwargs)
        assert_one_line_error(excinfo, path)
    assert _leftovers(tmp_path) == []


def test_failure_midway_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous contents")
    real = clip_module._video_frame

    def failing(image: np.ndarray, index: int, rate: Fraction) -> av.VideoFrame:
        if index == 5:
            raise RuntimeError("simulated failure while encoding")
        return real(image, index, rate)

    monkeypatch.setattr(clip_module, "_video_frame", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        write_clip(path, smooth_frames(10), 24, bursts(10 / 24, [0.1]), SR)
    assert _leftovers(tmp_path) == ["out.mp4"]
    assert path.read_bytes() == b"previous contents"


def test_audio_is_fitted_to_video_length(tmp_path: Path) -> None:
    # Too long (2 s of int16 stereo) for 12 frames at 24 fps: cut to exactly 0.5 s.
    audio = (bursts(2.0, [0.25]) * 32767).astype(np.int16)
    path = tmp_path / "fit.mp4"
    write_clip(path, smooth_frames(12), 24, np.stack([audio, audio], axis=1), SR)
    clip = read_clip(path)
    assert len(clip.audio) == SR // 2
    assert abs(lag_of(clip.audio, audio[: SR // 2] / 32767)) <= LAG_TOLERANCE
