"""AV-Align (Yariv et al. 2024, "Diverse and Aligned Audio-to-Video Generation via Text-to-Video Model Adaptation").

The score is the intersection over union of two sets of event times: peaks of the mean optical-flow magnitude
(video) and audio onsets. docs/design.md §3 fixes every constant; the choices it leaves open are ours:

- the flow of the frame pair (i, i+1) is placed at the time of frame i+1, (i + 1) / fps, as in the reference
  code (which prepends a copy of the first pair's flow, so that entry k belongs to the pair ending at frame k);
- the first and last points of the flow curve have only one neighbour and are never peaks;
- an audio peak matches a video peak strictly inside ±window (the reference code's `<`), and each audio peak,
  in time order, takes the earliest unused video peak in reach, which gives a maximum one-to-one matching;
- with no peaks at all (A = V = 0) the IoU is 0.0, the same value as when only one side has peaks.
"""

from __future__ import annotations

import cv2
import librosa
import numpy as np

FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
MIN_PEAK = 0.1  # mean flow magnitude (pixels per frame) below which a local maximum is not a visual event
ONSET_SR = 22050
ONSET_HOP = 512


def flow_magnitudes(frames: np.ndarray) -> np.ndarray:
    """Mean Farnebäck optical-flow magnitude of each consecutive frame pair: [T, H, W, 3] uint8 RGB → [T − 1]."""
    grey = [cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in np.asarray(frames)]
    magnitudes = np.empty(max(len(grey) - 1, 0), dtype=np.float64)
    for i, (prev, curr) in enumerate(zip(grey[:-1], grey[1:], strict=True)):
        flow = cv2.calcOpticalFlowFarneback(prev, curr, None, **FARNEBACK)
        magnitudes[i] = np.hypot(flow[..., 0], flow[..., 1]).mean(dtype=np.float64)
    return magnitudes


def video_peaks(magnitudes: np.ndarray, fps: float) -> np.ndarray:
    """Times (s) of the strict interior local maxima ≥ 0.1 of a flow curve; pair (i, i+1) is at (i + 1) / fps."""
    m = np.asarray(magnitudes, dtype=np.float64)
    i = np.arange(1, len(m) - 1)
    is_peak = (m[i] > m[i - 1]) & (m[i] > m[i + 1]) & (m[i] >= MIN_PEAK)
    return (i[is_peak] + 1) / float(fps)


def audio_peaks(waveform: np.ndarray, sr: int) -> np.ndarray:
    """Times (s) of librosa onsets of a mono waveform resampled to 22.05 kHz (hop 512, librosa's defaults)."""
    y = np.asarray(waveform, dtype=np.float32)
    if len(y) == 0:
        return np.zeros(0)
    if sr != ONSET_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=ONSET_SR)
    return librosa.onset.onset_detect(y=y, sr=ONSET_SR, hop_length=ONSET_HOP, units="time")


def match_peaks(audio: np.ndarray, video: np.ndarray, window: float) -> int:
    """Size of a maximum one-to-one matching of audio and video peak times closer than `window` seconds."""
    video = np.sort(np.asarray(video, dtype=np.float64))
    used = np.zeros(len(video), dtype=bool)
    matches = 0
    for a in np.sort(np.asarray(audio, dtype=np.float64)):
        # On a line, giving each point (in time order) the earliest free partner in reach is an optimal matching.
        free = np.flatnonzero(~used & (np.abs(video - a) < window))
        if len(free):
            used[free[0]] = True
            matches += 1
    return matches


def peak_iou(audio: np.ndarray, video: np.ndarray, window: float) -> float:
    """Matches / (A + V − matches), the AV-Align IoU of two sets of event times; 0.0 when both are empty."""
    matches = match_peaks(audio, video, window)
    union = len(audio) + len(video) - matches
    return matches / union if union else 0.0


def av_align(frames: np.ndarray, fps: float, waveform: np.ndarray, sr: int) -> float:
    """AV-Align of one clip: IoU of flow peaks and audio onsets matched within ±1/fps."""
    video = video_peaks(flow_magnitudes(frames), fps)
    return peak_iou(audio_peaks(waveform, sr), video, 1.0 / float(fps))
