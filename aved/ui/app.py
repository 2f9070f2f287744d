"""`aved ui`: a local Gradio app over the library (docs/design.md §7). Upload or pick a clip, set the prompts, mode,
steps, seed, τ, relevance rule and the `--fast` preset; Run shows a progress bar that follows the steps and Cancel stops
the edit; the result is source | edit with the edited sound, the relevance maps, the loss curves, the resolved
config and the edit folder as a zip. One edit runs at a time per model set; other tabs wait in the queue (shown).

The app is thin: `aved.api.edit` edits, `aved.outputs.write_edit_outputs` writes the folder it shows.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from aved import folders
from aved.bench.run import PriorCache
from aved.config import FAST_PRESET, RELEVANCE_METHODS, EditConfig, apply_overrides
from aved.errors import AvedError
from aved.modes import MODES

logger = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
# The README's ToyWorld edit, offered as the example to start from when the ToyWorld priors are loaded.
# The clip to start from, per model set: the README's ToyWorld edit on the ToyWorld priors, the bouncing ball (a
# thud at each bounce) on real checkpoints.
EXAMPLE_EDITS = {
    "toyworld": ("toyworld.mp4", "a red ball bouncing on grass", "a yellow bell bouncing on grass"),
    None: ("bounce.mp4", "a white ball bouncing with a thud", "a basketball bouncing with a thump"),
}
MAX_UI_STEPS = 1000  # the slider's end; the config allows more, the page need not
DEFAULT_UI_STEPS = 25  # the --fast preset's length: an answer in seconds on the ToyWorld priors


@dataclass
class UiSettings:
    """What `aved ui` was started with: the config every edit starts from (the model set, its preset), where the
    edit folders go, and the examples offered as (clip, source prompt, target prompt)."""

    base: EditConfig = field(default_factory=EditConfig)
    outputs: Path = Path("out/ui")
    examples: list[tuple[str, str, str]] = field(default_factory=list)

    def base_config(self) -> EditConfig:
        """A fresh copy of the base config."""
        return copy.deepcopy(self.base).validate()


def examples_for(preset: str | None) -> list[tuple[str, str, str]]:
    """The example edit for a model preset (None: real checkpoints), where the repository's examples/ is there."""
    name, source, target = EXAMPLE_EDITS.get(preset, EXAMPLE_EDITS[None])
    clip = EXAMPLES / name
    return [(str(clip), source, target)] if clip.is_file() else []


@dataclass(frozen=True)
class EditRequest:
    """One Run press: the page's fields."""

    clip: str | None
    source: str
    target: str
    video_source: str = ""
    video_target: str = ""
    audio_source: str = ""
    audio_target: str = ""
    mode: str = "aved"
    steps: int = DEFAULT_UI_STEPS
    seed: int = 0
    tau: float = 0.5
    relevance: str = "delta"
    fast: bool = True


class EditService:
    """The priors (loaded once per model set) and the cancel flags of the browser sessions; runs one edit."""

    def __init__(self, settings: UiSettings):
        self.settings = settings
        self.priors = PriorCache()
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def config_for(self, request: EditRequest) -> EditConfig:
        """The edit's config: the app's base, then --fast, then the page's fields; validated."""
        config = self.settings.base_config()
        if request.fast:
            apply_overrides(config, FAST_PRESET)
        prompts = {
            "source": request.source or "",
            "target": request.target or "",
            **{
                name: (getattr(request, name) or "").strip() or None
                for name in ("video_source", "video_target", "audio_source", "audio_target")
            },
        }
        apply_overrides(
            config,
            {
                "mode": request.mode,
                "steps": int(request.steps),
                "seed": int(request.seed),
                "relevance.method": request.relevance,
                "relevance.tau_video": float(request.tau),
                "relevance.tau_audio": float(request.tau),
            },
        )
        for name, value in prompts.items():
            setattr(config.prompts, name, value)
        return config.validate()

    def cancel_flag(self, session: str) -> threading.Event:
        """This browser session's cancel flag (a fresh one is clear)."""
        with self._lock:
            return self._cancels.setdefault(session, threading.Event())

    def cancel(self, session: str) -> None:
        """Ask this session's running edit to stop after its current step (nothing to do when none runs)."""
        with self._lock:
            flag = self._cancels.get(session)
        if flag is not None:
            flag.set()

    def run(self, request: EditRequest, session: str, on_step=None) -> Path:
        """Edit, write the edit folder and its zip; return the folder. Raises AvedError (bad input, or cancelled:
        then nothing is written)."""
        from aved.api import edit
        from aved.outputs import write_edit_outputs

        if not request.clip:
            raise AvedError("no clip: upload one or pick an example")
        config = self.config_for(request)
        stop = self.cancel_flag(session)

        done = [0]

        def step_end(step: int, record: dict[str, float]) -> bool:
            done[0] = step + 1
            if on_step is not None:
                on_step(step, config.steps)
            return stop.is_set()

        started = time.perf_counter()
        try:
            priors = self.priors.get(config)
            result = edit(request.clip, config=config, callback_on_step_end=step_end, progress=False, **priors)
        finally:
            with self._lock:
                self._cancels.pop(session, None)  # a later Run starts clear; the table does not grow
        if stop.is_set():
            logger.info("edit cancelled after step %d of %d: nothing written", done[0], config.steps)
            raise AvedError("cancelled: the edit was stopped and nothing was written")
        seconds = round(time.perf_counter() - started, 2)
        name = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        out = self.settings.outputs / name
        write_edit_outputs(result, config, out, {"clip": str(request.clip), "seconds": seconds, "ui": True})
        folders.atomic_write(out.parent / f"{name}.zip", zip_folder(out))
        logger.info("edit %s: %s steps in %.1f s", out, config.steps, seconds)
        return out


def zip_folder(folder: Path) -> bytes:
    """The folder's files as a zip archive, in memory (written atomically by the caller)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def result_views(out: Path) -> dict[str, Any]:
    """What the page shows of an edit folder: file paths (None where the mode wrote no such file) and the config."""

    def maybe(name: str) -> str | None:
        return str(out / name) if (out / name).is_file() else None

    return {
        "side_by_side": maybe("side_by_side.mp4"),
        "sound": maybe("edited.wav"),
        "relevance_video": maybe("relevance_video.mp4"),
        "relevance_audio": maybe("relevance_audio.png"),
        "losses": maybe("losses.png"),
        "zip": str(out.parent / f"{out.name}.zip"),
        "config": json.loads((out / "config.json").read_text()),
    }


def _span_text(media) -> str:
    """What of an uploaded clip is edited, in words."""
    span = media.span()
    return f"up to {span:g} s of each clip" if span else "the whole clip"


def build_app(settings: UiSettings):
    """The Gradio Blocks of the page (not launched)."""
    service = EditService(settings)
    base = settings.base_config()
    with gr.Blocks(title="aved") as app:
        gr.Markdown(
            "# aved: edit a clip's picture and sound from text\n"
            f"Priors: `{base.model.video}` (frames) and `{base.model.audio}` (sound); "
            f"{_span_text(base.media)} at {base.media.fps:g} fps. One edit runs at a time; others wait in the queue."
        )
        with gr.Row():
            with gr.Column():
                clip = gr.Video(label="clip", sources=["upload"], elem_id="clip")
                source = gr.Textbox(label="source prompt", elem_id="source")
                target = gr.Textbox(label="target prompt", elem_id="target")
                with gr.Accordion("per-modality prompts (optional)", open=False):
                    video_source = gr.Textbox(label="video source")
                    video_target = gr.Textbox(label="video target")
                    audio_source = gr.Textbox(label="audio source")
                    audio_target = gr.Textbox(label="audio target")
                with gr.Row():
                    mode = gr.Dropdown(list(MODES), value="aved", label="mode", elem_id="mode")
                    fast = gr.Checkbox(value=True, label="--fast (25 annealed steps)", elem_id="fast")
                with gr.Row():
                    steps = gr.Slider(1, MAX_UI_STEPS, value=DEFAULT_UI_STEPS, step=1, label="steps", elem_id="steps")
                    seed = gr.Number(value=0, precision=0, label="seed")
                with gr.Row():
                    tau = gr.Slider(0.05, 1.0, value=base.relevance.tau_video, step=0.05, label="τ (relevance)")
                    relevance = gr.Dropdown(list(RELEVANCE_METHODS), value=base.relevance.method, label="relevance")
                with gr.Row():
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    stop = gr.Button("Cancel", elem_id="cancel")
            with gr.Column():
                side_by_side = gr.Video(label="source | edit", interactive=False, elem_id="side_by_side")
                sound = gr.Audio(label="edited sound", type="filepath", interactive=False, elem_id="sound")
                with gr.Row():
                    relevance_video = gr.Video(label="relevance (frames)", interactive=False)
                    relevance_audio = gr.Image(label="relevance (sound)", type="filepath", interactive=False)
                losses = gr.Image(label="loss curves", type="filepath", interactive=False)
                download = gr.File(label="edit folder (zip)", interactive=False, elem_id="download")
                resolved = gr.Code(label="config.json", language="json", interactive=False, elem_id="config")
        if settings.examples:
            gr.Examples([list(e) for e in settings.examples], inputs=[clip, source, target])

        fields = [clip, source, target, video_source, video_target, audio_source, audio_target]
        fields += [mode, steps, seed, tau, relevance, fast]

        def on_run(
            clip, source, target, video_source, video_target, audio_source, audio_target,
            mode, steps, seed, tau, relevance, fast,
            request: gr.Request,
            progress=gr.Progress(),  # noqa: B008 (Gradio injects the request and the progress tracker by signature)
        ):  # fmt: skip
            edit_request = EditRequest(
                clip, source, target, video_source, video_target, audio_source, audio_target,
                mode, steps, seed, tau, relevance, fast,
            )  # fmt: skip
            session = request.session_hash or "local"
            progress((0, int(edit_request.steps)), desc="editing")
            try:
                out = service.run(edit_request, session, lambda k, n: progress((k + 1, n), desc="editing"))
            except AvedError as err:
                raise gr.Error(str(err)) from None
            views = result_views(out)
            return (
                views["side_by_side"],
                views["sound"],
                views["relevance_video"],
                views["relevance_audio"],
                views["losses"],
                views["zip"],
                json.dumps(views["config"], indent=2, ensure_ascii=False),
            )

        def on_cancel(request: gr.Request) -> None:
            service.cancel(request.session_hash or "local")
            gr.Info("cancelling after the current step")

        outputs = [side_by_side, sound, relevance_video, relevance_audio, losses, download, resolved]
        running = run.click(on_run, inputs=fields, outputs=outputs, concurrency_limit=1, concurrency_id="edit")
        # A queued Run is dropped by Gradio (`cancels`); a running one stops after its step (the session's flag).
        stop.click(on_cancel, inputs=None, outputs=None, queue=False, cancels=[running])
    return app


def launch(settings: UiSettings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Build the app and serve it until interrupted."""
    settings.outputs.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, allowed_paths=[str(settings.outputs.resolve())], show_error=True)
