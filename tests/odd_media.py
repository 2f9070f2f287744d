"""Odd media for the hardening tests and benchmarks/hardening_cases.py: variable frame rates, cut files, silence."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from aved.media.clip import write_clip


def noise_frames(count, size=64, seed=0):
    """[count, size, size, 3] uint8 noise: every frame differs from the next."""
    return np.random.default_rng(seed).integers(0, 255, (count, size, size, 3), dtype=np.uint8)


def tone(seconds, rate=16000, amplitude=0.3):
    """A steady sine of `seconds` at `rate`."""
    return (amplitude * np.sin(np.arange(round(seconds * rate)) * 0.05)).astype(np.float32)


def write_stamped(path, images, stamps_ms, audio=None, rate=16000, faststart=False):
    """An mp4 whose frames sit at the given millisecond timestamps (a variable frame rate)."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=30)
        video.width = video.height = images.shape[1]
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        audio_stream = None
        if audio is not None:
            audio_stream = out.add_stream("aac", rate=rate)
            audio_stream.layout = "mono"
        for image, stamp in zip(images, stamps_ms, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio_stream is not None:
            for start in range(0, len(audio), 1024):
                chunk = av.AudioFrame.from_ndarray(audio[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = rate, start
                for packet in audio_stream.encode(chunk):
                    out.mux(packet)
            for packet in audio_stream.encode(None):
                out.mux(packet)
    return path


def clip_with_audio(path, seconds, audio, fps=16.0):
    """A clip of flat grey frames, one shade per frame, with the given sound."""
    frames = np.asarray([np.full((64, 64, 3), 40 + 5 * i, np.uint8) for i in range(max(1, round(seconds * fps)))])
    write_clip(path, frames, fps, audio, 16000)
    return path


def truncated_clip(folder: Path) -> Path:
    """A 2 s mp4 with its index at the front, cut in half: the container still declares 2 s."""
    whole = write_stamped(
        folder / "whole.mp4", noise_frames(16), [i * 125 for i in range(16)], tone(2.0), faststart=True
    )
    cut = folder / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def vfr_clip(folder: Path) -> Path:
    """2 s: one frame held for the first second, then 30 fps."""
    stamps = [0] + [1000 + round(i * 1000 / 30) for i in range(30)]
    return write_stamped(folder / "vfr.mp4", noise_frames(len(stamps)), stamps, tone(2.0))


def slow_start_clip(folder: Path) -> Path:
    """4 s: the first frame held for 3 s, then 30 fps; a 2 s window from 0 holds one frame, on screen throughout."""
    stamps = [0] + [3000 + round(i * 1000 / 30) for i in range(30)]
    return write_stamped(folder / "slow_start.mp4", noise_frames(len(stamps)), stamps, tone(4.0))
