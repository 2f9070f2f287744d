"""Writing an edit's outputs: one folder, published whole (aved.folders) when every file in it is complete."""

from __future__ import annotations

import csv
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import soundfile as sf

from aved.config import EditConfig
from aved.folders import staged_folder
from aved.media.clip import write_clip
from aved.media.mel import waveform_to_mel
from aved.result import EditResult


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide an edit's numbers."""
    out = {}
    for name in ("aved", "torch", "diffusers", "transformers", "numpy", "av", "librosa"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def heatmap_overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a jet-coloured [F, h, w] map in [0, 1] over [F, s, s, 3] frames."""
    out = np.empty_like(frames)
    size = frames.shape[2], frames.shape[1]
    for i, (frame, heat) in enumerate(zip(frames, maps, strict=True)):
        heat = cv2.resize(np.clip(heat, 0, 1).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        colour = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        out[i] = (frame * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    return out


def plot_edit_losses(history: dict[str, list[float]], path: Path) -> None:
    """One panel per loss term of an edit over its steps (a `Figure` of its own: pyplot's state and backend are
    left alone)."""
    from matplotlib.figure import Figure

    keys = [k for k in history if k not in ("t", "lr")]
    fig = Figure(figsize=(7, 1.6 * len(keys) + 0.6))
    axes = fig.subplots(len(keys), 1, sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        ax.plot(history[key], lw=1)
        ax.set_ylabel(key, rotation=0, ha="right", va="center")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_audio_relevance(result: EditResult, config: EditConfig, path: Path) -> None:
    """The source log-mel with the audio relevance map drawn over it."""
    from matplotlib.figure import Figure

    source = result.source
    mel, _ = waveform_to_mel(source.audio, source.sample_rate, config.media.mel)
    mel = mel[0, 0].numpy()
    seconds = config.media.mel.duration
    relevance = cv2.resize(result.relevance_audio.astype(np.float32), (mel.shape[1], mel.shape[0]))
    frames = int(round(source.duration / seconds * mel.shape[0]))
    extent = (0, frames / mel.shape[0] * seconds, 0, mel.shape[1])
    fig = Figure(figsize=(9, 5))
    axes = fig.subplots(2, 1, sharex=True)
    axes[0].imshow(mel[:frames].T, origin="lower", aspect="auto", extent=extent, cmap="magma")
    axes[0].set_title("source log-mel")
    axes[1].imshow(mel[:frames].T, origin="lower", aspect="auto", extent=extent, cmap="gray")
    axes[1].imshow(
        relevance[:frames].T, origin="lower", aspect="auto", extent=extent, cmap="jet", alpha=0.5, vmin=0, vmax=1
    )
    axes[1].set_title(f"audio relevance (τ = {config.relevance.tau_audio}, {config.relevance.method})")
    axes[1].set_xlabel("time (s)")
    for ax in axes:
        ax.set_ylabel("mel bin")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_losses_csv(history: dict[str, list[float]], path: Path) -> None:
    """step, then one column per recorded term."""
    keys = list(history)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", *keys])
        for step in range(len(history[keys[0]]) if keys else 0):
            writer.writerow([step, *(history[k][step] for k in keys)])


def write_edit_outputs(
    result: EditResult, config: EditConfig, out_dir: str | Path, run: dict[str, Any], replace: bool = False
) -> list[str]:
    """edited.mp4/.wav, source.mp4, side_by_side.mp4, config.json, losses.csv/.png and relevance maps, published
    as one folder (`replace`: a finished `out_dir` is replaced whole)."""
    source = result.source
    written = []
    with staged_folder(out_dir, replace) as stage:
        write_clip(stage / "edited.mp4", result.frames, result.fps, result.audio, result.sample_rate)
        if result.audio is not None:
            sf.write(stage / "edited.wav", result.audio, result.sample_rate, subtype="FLOAT")
        write_clip(stage / "source.mp4", source.frames, source.fps, source.audio, source.sample_rate)
        side = np.concatenate([source.frames, result.frames], axis=2)
        write_clip(stage / "side_by_side.mp4", side, result.fps, result.audio, result.sample_rate)
        if result.history:
            write_losses_csv(result.history, stage / "losses.csv")
            plot_edit_losses(result.history, stage / "losses.png")
        if result.relevance_video is not None:
            overlay = heatmap_overlay(source.frames, result.relevance_video)
            write_clip(stage / "relevance_video.mp4", overlay, source.fps)
        if result.relevance_audio is not None:
            plot_audio_relevance(result, config, stage / "relevance_audio.png")
        document = {**config.to_dict(), "versions": package_versions(), "models": result.models, "run": run}
        (stage / "config.json").write_text(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        written = sorted(p.name for p in stage.iterdir())
    return written
