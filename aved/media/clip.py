"""Probe, read and write video clips (RGB frames plus a mono waveform) through PyAV."""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from aved import folders
from aved.errors import AvedError
from aved.media.frames import NEAREST_TOLERANCE, TIME_EPS, resize_center_crop, sample_times

# Libx264 first: it is in the PyPI wheels and gives the best quality per bit; the rest are hardware
# encoders that only open on machines that have the hardware, so each is tried before it is used.
_H264_ENCODERS = (
    "libx264",
    "h264_videotoolbox",
    "h264_nvenc",
    "h264_qsv",
    "h264_amf",
    "h264_vaapi",
    "h264_mf",
    "libopenh264",
    "h264_v4l2m2m",
)
_AAC_RATES = frozenset({7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000})
_AAC_FRAME = 1024
_CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_LAYOUTS = ("mono", "stereo", "2.1", "4.0", "5.0", "5.1", "6.1", "7.1")
# A stream that stops this much (or this many frames) before its declared end is cut, not merely rounded.
TRUNCATION_SLACK_S = 0.1
TRUNCATION_SLACK_FRAMES = 2
# Transform codecs (AAC, Opus) need the previous frame to rebuild the first samples after a seek.
_AUDIO_PREROLL_S = 0.25
_BT709 = 1
_TV_RANGE = 1


@dataclass(frozen=True)
class Clip:
    """Decoded frames and audio of a clip (or of a window of it), time 0 being the window start."""

    frames: np.ndarray  # [T, H, W, 3] uint8 RGB, display rotation already applied
    times: np.ndarray  # [T] float64 seconds, presentation time of each frame relative to the window start
    fps: float  # nominal (average) frame rate of the video stream
    audio: np.ndarray | None  # [N] float32 mono, None if the file has no audio track
    sample_rate: int | None
    length: float | None = None  # seconds by the timestamps (the last frame's end); None: len(frames) / fps

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps if self.length is None else self.length


@dataclass(frozen=True)
class ClipInfo:
    """What `aved info` shows about a file; width/height are those of the upright frames read_clip returns."""

    path: str
    container: str
    duration: float  # where the video data stops, by its timestamps
    declared_duration: float  # what the container says
    width: int
    height: int
    fps: float
    frame_count: int
    rotation: int  # counter-clockwise degrees applied to make frames upright (FFmpeg display-matrix sense)
    video_codec: str
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None
    audio_duration: float | None

    def lines(self) -> list[str]:
        out = [
            f"path: {self.path}",
            f"container: {self.container}",
            f"duration: {self.duration:.3f} s" + self._declared(),
            f"video: {self.video_codec}, {self.width}x{self.height}, {self.fps:.3f} fps, {self.frame_count} frames",
            f"rotation: {self.rotation} deg",
        ]
        if self.audio_codec is None:
            out.append("audio: none")
        else:
            length = "unknown length" if self.audio_duration is None else f"{self.audio_duration:.3f} s"
            out.append(f"audio: {self.audio_codec}, {self.sample_rate} Hz, {self.channels} ch, {length}")
        return out

    def _declared(self) -> str:
        if self.duration >= self.declared_duration - truncation_slack(self.fps):
            return ""
        return f" (the file declares {self.declared_duration:.3f} s: truncated or damaged)"


# ----------------------------------------------------------------------------------------------- reading


def probe_clip(path: str | os.PathLike) -> ClipInfo:
    """Describe a video file by its timestamps: the first frame is decoded, the video packets are read, not decoded."""
    with _open_input(path) as container:
        vstream = _video_stream(container, path)
        astream = _audio_stream(container)
        rotation, height, width = _first_frame_geometry(container, vstream, path)
        end, packets = _packet_end(container, vstream, path)
        frame_count = packets or vstream.frames
        fps = _nominal_fps(vstream, frame_count, _stream_seconds(vstream))
        measured = None if end is None else end - _stream_start_seconds(vstream)
        # The video stream's own declared length (the container's is the longest stream's, often the audio's).
        declared = _stream_seconds(vstream) or measured or _container_seconds(container) or frame_count / fps
        duration = declared if measured is None else measured
        video_codec = vstream.codec_context.name
        audio = _audio_summary(container, astream)
        container_name = container.format.name
    return ClipInfo(
        path=str(path),
        container=container_name,
        duration=float(duration),
        declared_duration=float(declared),
        width=width,
        height=height,
        fps=fps,
        frame_count=int(frame_count),
        rotation=rotation,
        video_codec=video_codec,
        **audio,
    )


def _packet_end(
    container: av.container.InputContainer, stream: av.VideoStream, path: str | os.PathLike
) -> tuple[float | None, int]:
    """(end of the last video packet in s, number of packets): where the video data really stops."""
    end, count = None, 0
    with _media_errors(path, "not a readable video file"):
        container.seek(0)
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None or packet.time_base is None:
                continue
            count += 1
            stop = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = stop if end is None else max(end, stop)
    return end, count


def read_clip(
    path: str | os.PathLike,
    *,
    start: float = 0.0,
    duration: float | None = None,
    require_audio: bool = False,
    fps: float | None = None,
    size: int | None = None,
) -> Clip:
    """Decode [start, start + duration) of a video file (all of it by default) to RGB frames and mono audio.

    Time 0 is the first video frame's presentation time, so audio and video stay in sync even when a
    stream starts late, and the length is the last frame's end by the timestamps (variable frame rates
    included). Only the window is decoded: the reader seeks to the keyframe before `start`. With `fps`, only the
    frame on screen at each k/fps is kept (as `sample_times` and `nearest_frames` pick it), with `size` each
    kept frame is square-cropped to size×size as it is decoded: memory grows with the frames kept, not the source.
    A stream that ends before its declared length is an error (a truncated file).
    """
    _check_window(path, start, duration)
    with _open_input(path) as container:
        vstream = _video_stream(container, path)
        origin = _stream_start_seconds(vstream)
        has_audio = _audio_stream(container) is not None
        if require_audio and not has_audio:
            raise AvedError(f"{path}: has no audio track, and this command needs one")
        frames, times, length = _decode_video(container, vstream, path, origin + start, duration, fps, size)
        nominal = fps or _nominal_fps(vstream, len(frames), _stream_seconds(vstream))
    audio, sample_rate = None, None
    if has_audio:
        # A second demuxer keeps the audio pass independent of where the video pass left the file.
        with _open_input(path) as container:
            astream = _audio_stream(container)
            audio, sample_rate = _decode_audio(container, astream, path, origin + start, duration)
    return Clip(frames=frames, times=times, fps=nominal, audio=audio, sample_rate=sample_rate, length=length)


def _check_window(path: str | os.PathLike, start: float, duration: float | None) -> None:
    if not (math.isfinite(start) and start >= 0):
        raise AvedError(f"{path}: start must be a time >= 0 s, got {start}")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise AvedError(f"{path}: duration must be > 0 s, got {duration}")


def _one_line(exc: BaseException) -> str:
    # FFmpeg errors carry "[Errno N] message: 'file'"; strerror is the readable part.
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


@contextmanager
def _media_errors(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Turn decoder/demuxer failures (corrupt or truncated data) into a one-line AvedError."""
    try:
        yield
    except AvedError:
        raise
    except (av.error.FFmpegError, OSError, EOFError, ValueError) as exc:
        raise AvedError(f"{path}: {what} ({_one_line(exc)})") from exc


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    file = Path(path)
    try:
        file.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AvedError(f"{path}: a symbolic link loop (the link leads back to itself)") from None
        if file.is_symlink():
            raise AvedError(f"{path}: a broken symbolic link (to {os.readlink(file)}, which does not exist)") from None
        if exc.errno == errno.ENOENT:
            raise AvedError(f"{path}: no such file") from None
        raise AvedError(f"{path}: cannot be read ({_one_line(exc)})") from None
    if not file.is_file():
        raise AvedError(f"{path}: not a regular file")
    if file.stat().st_size == 0:
        raise AvedError(f"{path}: empty file, not a readable video file")
    try:
        return av.open(str(file), mode="r")
    except av.error.InvalidDataError as exc:
        # FFmpeg says only "Invalid data found"; name the usual causes (e.g. an MP4 cut before its index).
        raise AvedError(f"{path}: not a readable video file (damaged, truncated or not a media file)") from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AvedError(f"{path}: not a readable video file ({_one_line(exc)})") from exc


def _video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.VideoStream:
    for stream in container.streams.video:
        # Cover art in audio files shows up as a one-picture "video" stream; it is not a video.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise AvedError(f"{path}: has no video stream (is it an audio-only file?)")


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    return container.streams.audio[0] if container.streams.audio else None


def _stream_start_seconds(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _stream_seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base) or None


def _container_seconds(container: av.container.InputContainer) -> float | None:
    return container.duration / av.time_base if container.duration else None


def _nominal_fps(stream: av.VideoStream, frame_count: int, seconds: float | None) -> float:
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    if seconds and frame_count:
        return frame_count / seconds
    return 1.0  # a single still frame with no timing at all; any positive rate keeps duration finite


def _rotation(frame: av.VideoFrame, stream: av.VideoStream) -> int:
    """Counter-clockwise degrees (a multiple of 90) that make `frame` upright."""
    degrees = float(frame.rotation)
    if degrees == 0 and "rotate" in stream.metadata:
        # Old muxers wrote a clockwise `rotate` tag instead of a display matrix.
        try:
            degrees = -float(stream.metadata["rotate"])
        except ValueError:
            degrees = 0.0
    return int(round(degrees / 90.0)) % 4 * 90


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an [H, W, C] image counter-clockwise by `rotation` degrees (snapped to a multiple of 90)."""
    quarter_turns = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image


def _first_frame_geometry(
    container: av.container.InputContainer, stream: av.VideoStream, path: str | os.PathLike
) -> tuple[int, int, int]:
    """(rotation, upright height, upright width) of the first decodable frame."""
    with _media_errors(path, "video stream cannot be decoded"):
        for frame in container.decode(stream):
            rotation = _rotation(frame, stream)
            height, width = frame.height, frame.width
            return (rotation, width, height) if rotation % 180 else (rotation, height, width)
    raise AvedError(f"{path}: video stream has no decodable frames")


def _audio_summary(container: av.container.InputContainer, stream: av.AudioStream | None) -> dict:
    if stream is None:
        return dict(audio_codec=None, sample_rate=None, channels=None, audio_duration=None)
    ctx = stream.codec_context
    return dict(
        audio_codec=ctx.name,
        sample_rate=int(ctx.sample_rate),
        channels=int(ctx.layout.nb_channels),
        audio_duration=_stream_seconds(stream) or _container_seconds(container),
    )


def _seek(container: av.container.InputContainer, stream: av.stream.Stream, seconds: float) -> None:
    # Seeking with backward=True lands on the keyframe at or before `seconds`; decoding goes on from there.
    container.seek(max(0, int(seconds / stream.time_base)), stream=stream, backward=True)


def _decode_video(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    path: str | os.PathLike,
    t_start: float,
    duration: float | None,
    fps: float | None = None,
    size: int | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Frames, their times from t_start, and the window's length by the timestamps (see `read_clip`)."""
    t_stop = math.inf if duration is None else t_start + duration
    stream.thread_type = "AUTO"
    picker = _FramePicker(stream, fps, size)
    end = None
    with _media_errors(path, "video stream is damaged or truncated"):
        if t_start > _stream_start_seconds(stream) + TIME_EPS:
            _seek(container, stream, t_start)
        for frame in container.decode(stream):
            t = _frame_seconds(frame, stream, picker.decoded, t_start)
            if t < t_start - TIME_EPS:
                continue
            if t >= t_stop - TIME_EPS:
                break
            picker.add(frame, t - t_start)
            end = t + _frame_duration(frame, stream)
    if end is None:
        whole = t_start <= _stream_start_seconds(stream) + TIME_EPS
        where = "" if whole else f" at or after {t_start:.3f} s"
        raise AvedError(f"{path}: no video frames could be decoded{where}")
    end = min(end, t_stop)
    declared = _declared_end(stream)
    if declared is not None:
        _check_not_truncated(path, "video", end, min(t_stop, declared), _nominal_fps(stream, 0, None))
    frames, times = picker.finish(end - t_start)
    return frames, times, end - t_start


class _FramePicker:
    """Keeps every decoded frame, or (with `fps`) only the one on screen at each k/fps; upright, optionally
    square-cropped as it comes, so no full-size frame outlives the next one."""

    def __init__(self, stream: av.VideoStream, fps: float | None, size: int | None):
        self.stream, self.fps, self.size = stream, fps, size
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.decoded = 0
        self.previous: av.VideoFrame | None = None
        self.previous_image: np.ndarray | None = None

    def _image(self, frame: av.VideoFrame) -> np.ndarray:
        image = rotate_upright(frame.to_ndarray(format="rgb24"), _rotation(frame, self.stream))
        return image if self.size is None else resize_center_crop(image[None], self.size)[0]

    def _emit_previous(self) -> None:
        if self.previous_image is None:
            self.previous_image = self._image(self.previous)
        self.frames.append(self.previous_image)
        self.times.append(len(self.times) / self.fps)

    def add(self, frame: av.VideoFrame, t: float) -> None:
        self.decoded += 1
        if self.fps is None:
            self.frames.append(self._image(frame))
            self.times.append(t)
            return
        # The previous frame is on screen at every wanted time before this one starts (`nearest_frames`' rule).
        while self.previous is not None and len(self.times) / self.fps < t - NEAREST_TOLERANCE:
            self._emit_previous()
        self.previous, self.previous_image = frame, None

    def finish(self, length: float) -> tuple[np.ndarray, np.ndarray]:
        if self.fps is not None:
            count = len(sample_times(length, self.fps))
            while len(self.times) < count:
                self._emit_previous()
            del self.frames[count:], self.times[count:]
        return np.stack(self.frames), np.asarray(self.times, dtype=np.float64)


def _frame_duration(frame: av.VideoFrame, stream: av.VideoStream) -> float:
    """How long `frame` stays on screen: its own duration where the container stores one, else 1 / nominal fps."""
    if frame.duration and frame.time_base is not None:
        return float(frame.duration * frame.time_base)
    return 1.0 / _nominal_fps(stream, 0, None)


def _declared_end(stream: av.stream.Stream) -> float | None:
    """Where the stream says it ends (its own duration, not the container's, which is the longest stream's)."""
    seconds = _stream_seconds(stream)
    return None if seconds is None else _stream_start_seconds(stream) + seconds


def truncation_slack(fps: float | None) -> float:
    """How far short of its declared end a stream may stop and still be whole (rounding, a last frame's length)."""
    return TRUNCATION_SLACK_S if fps is None else max(TRUNCATION_SLACK_S, TRUNCATION_SLACK_FRAMES / fps)


def _check_not_truncated(path, what: str, end: float, declared: float, fps: float | None) -> None:
    """A stream whose data stops well before the end it declares is a cut file: refuse it rather than edit less."""
    if end < declared - truncation_slack(fps):
        raise AvedError(
            f"{path}: the {what} stream stops at {end:.2f} s but declares {declared:.2f} s "
            "(a truncated or damaged file); re-encode or re-download it"
        )


def _frame_seconds(frame: av.VideoFrame, stream: av.VideoStream, index: int, t_start: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    # Raw streams without timestamps: assume a constant rate from the window start.
    return t_start + index / float(stream.average_rate or stream.guessed_rate or 1)


def _decode_audio(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    path: str | os.PathLike,
    t_start: float,
    duration: float | None,
) -> tuple[np.ndarray, int]:
    """Mono float32 samples of [t_start, t_start + duration), placed by timestamp.

    Encoder priming (samples before time 0) and the padding that fills the last codec frame (samples after
    the stream's declared end) are cut, so the waveform lines up with the video and has the stream's real
    length.
    """
    rate = int(stream.codec_context.sample_rate)
    t_stop = math.inf if duration is None else t_start + duration
    declared_end = _declared_end(stream)
    if declared_end is not None:
        t_stop = min(t_stop, declared_end)
    limit = max(0, round((t_stop - t_start) * rate)) if math.isfinite(t_stop) else None
    # Timestamps in coarse time bases (Matroska uses ms) jitter by up to one tick around contiguous audio.
    slack = max(2, math.ceil(rate * float(stream.time_base or 0)) + 1)
    resampler = av.AudioResampler(format="fltp", rate=rate)  # keep the channels: we average them ourselves
    pieces: list[tuple[int, np.ndarray]] = []
    cursor: int | None = None
    with _media_errors(path, "audio stream is damaged or truncated"):
        if t_start > TIME_EPS:
            _seek(container, stream, t_start - _AUDIO_PREROLL_S)
        for frame in container.decode(stream):
            for chunk in resampler.resample(frame):
                cursor = _place(pieces, chunk, cursor, t_start, rate, slack)
            if limit is not None and cursor is not None and cursor >= limit:
                break
        else:
            for chunk in resampler.resample(None):
                cursor = _place(pieces, chunk, cursor, t_start, rate, slack)
    if declared_end is not None and limit is not None:
        _check_not_truncated(path, "audio", t_start + (cursor or 0) / rate, t_stop, None)
    return _assemble(pieces, limit), rate


def _place(
    pieces: list[tuple[int, np.ndarray]],
    chunk: av.AudioFrame,
    cursor: int | None,
    t_start: float,
    rate: int,
    slack: int,
) -> int:
    """Append `chunk` (downmixed) at its sample offset from t_start; return the offset just after it."""
    mono = chunk.to_ndarray().astype(np.float32, copy=False).mean(axis=0, dtype=np.float32)
    offset = cursor
    if chunk.pts is not None and chunk.time_base is not None:
        stamped = round((float(chunk.pts * chunk.time_base) - t_start) * rate)
        # Trust the running count for contiguous audio, the timestamp when there is a real gap or jump.
        if cursor is None or abs(stamped - cursor) > slack:
            offset = stamped
    offset = 0 if offset is None else offset
    pieces.append((offset, mono))
    return offset + len(mono)


def _assemble(pieces: list[tuple[int, np.ndarray]], limit: int | None) -> np.ndarray:
    end = max((offset + len(samples) for offset, samples in pieces), default=0)
    length = max(0, end if limit is None else min(end, limit))
    out = np.zeros(length, dtype=np.float32)
    for offset, samples in pieces:
        lo, hi = max(offset, 0), min(offset + len(samples), length)
        if hi > lo:
            out[lo:hi] = samples[lo - offset : hi - offset]
    return out


# ----------------------------------------------------------------------------------------------- writing


def write_clip(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
) -> None:
    """Write H.264 (yuv420p, BT.709) video plus AAC audio, atomically (aved.folders.atomic_file).

    `audio` is [N] or [N, C] float in [-1, 1] (or integer PCM); it is padded or cut to exactly
    len(frames) / fps seconds so both tracks end together. Odd sizes are padded to even by repeating the
    last row/column.
    """
    frames = _check_frames(path, frames)
    rate = _frame_rate(path, fps)
    target = Path(path)
    container_format = _CONTAINER_FORMATS.get(target.suffix.lower())
    if container_format is None:
        raise AvedError(f"{path}: unsupported output type, use one of {', '.join(_CONTAINER_FORMATS)}")
    samples = None
    if audio is not None:
        samples = _prepare_audio(path, audio, sample_rate, len(frames) / rate)
    if not target.parent.is_dir():
        raise AvedError(f"{path}: output folder {target.parent} does not exist")
    encoder = _h264_encoder(path)
    try:
        with folders.atomic_file(target) as temp, _media_errors(path, "encoding failed"):
            _encode(str(temp), container_format, encoder, frames, rate, samples, sample_rate)
    except OSError as exc:
        raise AvedError(f"{path}: cannot write the file ({_one_line(exc)})") from exc


def _check_frames(path: str | os.PathLike, frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or 0 in frames.shape:
        raise AvedError(
            f"{path}: frames must be a non-empty uint8 array [T, H, W, 3], got {frames.dtype} {list(frames.shape)}"
        )
    return frames


def _frame_rate(path: str | os.PathLike, fps: float) -> Fraction:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise AvedError(f"{path}: fps must be a number, got {fps!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise AvedError(f"{path}: fps must be > 0, got {fps}")
    # 29.97 -> 2997/100 and 30000/1001 -> itself: exact rationals give drift-free timestamps.
    return fps if isinstance(fps, Fraction) else Fraction(value).limit_denominator(10000)


def _prepare_audio(
    path: str | os.PathLike, audio: np.ndarray, sample_rate: int | None, seconds: Fraction
) -> np.ndarray:
    """Float32 [C, N] samples covering exactly `seconds` at `sample_rate`."""
    if sample_rate is None:
        raise AvedError(f"{path}: audio was given without a sample_rate")
    if int(sample_rate) not in _AAC_RATES:
        rates = ", ".join(str(r) for r in sorted(_AAC_RATES))
        raise AvedError(f"{path}: AAC cannot store {sample_rate} Hz audio, resample to one of {rates}")
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or not 1 <= audio.shape[1] <= len(_LAYOUTS):
        raise AvedError(f"{path}: audio must be [N] or [N, C] with 1..8 channels, got {list(audio.shape)}")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio / float(np.iinfo(audio.dtype).max)
    elif not np.issubdtype(audio.dtype, np.floating):
        raise AvedError(f"{path}: audio must be float or integer PCM, got {audio.dtype}")
    if not np.all(np.isfinite(audio)):
        raise AvedError(f"{path}: audio contains NaN or infinite samples")
    wanted = round(seconds * int(sample_rate))
    planar = np.zeros((audio.shape[1], wanted), dtype=np.float32)
    kept = min(wanted, audio.shape[0])
    planar[:, :kept] = np.clip(audio[:kept].T, -1.0, 1.0)
    return planar


def _h264_encoder(path: str | os.PathLike) -> str:
    available = av.codec.codecs_available
    if "libx264" in available:
        return "libx264"
    tried = [name for name in _H264_ENCODERS if name in available]
    for name in tried:
        if _encoder_opens(name):
            return name
    names = ", ".join(tried) or "none present"
    raise AvedError(
        f"{path}: this PyAV build has no working H.264 encoder (tried: {names}); "
        "install the PyPI `av` wheel, which includes libx264"
    )


def _encoder_opens(name: str) -> bool:
    try:
        ctx = av.CodecContext.create(name, "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 64, "yuv420p", Fraction(1, 25)
        ctx.open()
    except (av.error.FFmpegError, OSError, ValueError):
        return False
    return True


def _encode(
    tmp: str,
    container_format: str,
    encoder: str,
    frames: np.ndarray,
    rate: Fraction,
    samples: np.ndarray | None,
    sample_rate: int | None,
) -> None:
    with av.open(tmp, mode="w", format=container_format) as out:
        vstream = _add_video_stream(out, encoder, rate, frames.shape[1], frames.shape[2])
        astream = None if samples is None else _add_audio_stream(out, samples.shape[0], int(sample_rate))
        sent = 0
        for index, image in enumerate(frames):
            _mux(out, vstream.encode(_video_frame(image, index, rate)))
            if astream is not None:
                # Interleave: push the audio up to the end of this video frame.
                upto = round((index + 1) / rate * int(sample_rate))
                sent = _send_audio(out, astream, samples, sent, upto, int(sample_rate))
        _mux(out, vstream.encode(None))
        if astream is not None:
            _send_audio(out, astream, samples, sent, samples.shape[1], int(sample_rate))
            _mux(out, astream.encode(None))


def _add_video_stream(
    out: av.container.OutputContainer, encoder: str, rate: Fraction, height: int, width: int
) -> av.VideoStream:
    stream = out.add_stream(encoder, rate=rate)
    stream.width, stream.height = _even(width), _even(height)
    stream.pix_fmt = "yuv420p"
    if encoder == "libx264":
        stream.options = {"crf": "18", "preset": "medium"}
    else:
        stream.bit_rate = max(1_000_000, 8 * stream.width * stream.height)
    ctx = stream.codec_context
    ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = _BT709, _BT709, _BT709, _TV_RANGE
    return stream


def _add_audio_stream(out: av.container.OutputContainer, channels: int, sample_rate: int) -> av.AudioStream:
    stream = out.add_stream("aac", rate=sample_rate)
    stream.layout = _LAYOUTS[channels - 1]
    stream.bit_rate = max(128_000, 96_000 * channels)
    return stream


def _even(n: int) -> int:
    return n + n % 2


def _video_frame(image: np.ndarray, index: int, rate: Fraction) -> av.VideoFrame:
    height, width = image.shape[:2]
    if height % 2 or width % 2:
        # yuv420p needs even sizes; repeating the edge keeps the padding invisible after cropping.
        image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace=_BT709, dst_color_range=_TV_RANGE)
    frame.colorspace, frame.color_range = _BT709, _TV_RANGE
    frame.pts, frame.time_base = index, 1 / rate
    return frame


def _send_audio(
    out: av.container.OutputContainer,
    stream: av.AudioStream,
    samples: np.ndarray,
    sent: int,
    upto: int,
    sample_rate: int,
) -> int:
    """Encode samples[:, sent:upto] in codec-sized frames (the last may be short); return the new `sent`."""
    upto = min(upto, samples.shape[1])
    while sent < upto:
        # Only the final frame of the stream may be short: hold partial frames until the end.
        size = min(_AAC_FRAME, samples.shape[1] - sent)
        if sent + size > upto and upto < samples.shape[1]:
            break
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, sent : sent + size]), format="fltp", layout=stream.layout.name
        )
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, sent, Fraction(1, sample_rate)
        _mux(out, stream.encode(frame))
        sent += size
    return sent


def _mux(out: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    for packet in packets:
        out.mux(packet)
