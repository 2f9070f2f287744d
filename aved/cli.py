"""The `aved` command line: a thin layer over the library that reads arguments and writes files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aved.config import DTYPES, FAST_PRESET, MODEL_PRESETS, RELEVANCE_METHODS, EditConfig
from aved.errors import AvedError, AvedWarning, RunFailed
from aved.modes import ABLATIONS, DEFAULT_ABLATIONS, MODES

_PYTHON_SHOWWARNING = warnings.showwarning
log = logging.getLogger("aved.cli")

# Every option that sets a config field, by its argparse dest: the one map from flags to dotted config keys. Each
# subcommand's options are the ones it declares; resolve_config reads those of them this table names.
CONFIG_OPTIONS: dict[str, str] = {
    "source": "prompts.source",
    "target": "prompts.target",
    "video_source": "prompts.video_source",
    "video_target": "prompts.video_target",
    "audio_source": "prompts.audio_source",
    "audio_target": "prompts.audio_target",
    "mode": "mode",
    "steps": "steps",
    "seed": "seed",
    "tau_video": "relevance.tau_video",
    "tau_audio": "relevance.tau_audio",
    "relevance": "relevance.method",
    "fps": "media.fps",
    "grid": "media.grid",
    "frame_size": "media.frame_size",
    "start": "media.start",
    "duration": "media.duration",
    "video_model": "model.video",
    "audio_model": "model.audio",
    "device": "model.device",
    "dtype": "model.dtype",
    "compile": "model.compile",
}


def package_version() -> str:
    """The installed distribution's version (aved.__version__ when run from a tree that is not installed)."""
    try:
        return version("aved")
    except PackageNotFoundError:
        from aved import __version__

        return __version__


def cmd_info(args: argparse.Namespace) -> None:
    from aved.media.clip import probe_clip

    info = probe_clip(args.clip)
    if args.json:
        print(json.dumps(dataclasses.asdict(info), indent=2, ensure_ascii=False))
        return
    for line in info.lines():
        print(line)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from aved.codec import prepare_clip, read_source, reconstruct
    from aved.folders import check_output_file
    from aved.media.clip import write_clip

    config = resolve_config(args)
    media, model = config.media, config.model
    out = check_output_file(args.output, ".mp4")
    source = prepare_clip(read_source(args.clip, media), media)
    from aved.priors.load import load_audio_prior, load_video_prior

    video, audio = load_video_prior(model), load_audio_prior(model)
    started = time.perf_counter()
    result = reconstruct(source, video, audio, media, progress=_progress(args))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_clip(out, result.frames, result.fps, result.audio, result.sample_rate)
    print(
        f"wrote {out}: {len(result.frames)} frames at {result.fps:g} fps, {result.duration:.2f} s, "
        f"{media.frame_size}px, grid {media.grid}×{media.grid} ({time.perf_counter() - started:.1f} s)"
    )


def config_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the command line set: every CONFIG_OPTIONS option this subcommand has and was given."""
    values = {key: getattr(args, dest, None) for dest, key in CONFIG_OPTIONS.items()}
    return {key: value for key, value in values.items() if value is not None}


def resolve_config(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> EditConfig:
    """defaults < --model preset < --fast < --config FILE < explicit flags (config_flags, then `extra`) <
    --set key=value, validated."""
    from aved.config import apply_overrides, apply_preset, load_config_file, parse_set

    config = apply_preset(EditConfig(), getattr(args, "model", None))
    if getattr(args, "fast", False):
        apply_overrides(config, FAST_PRESET)
    if getattr(args, "config", None):
        apply_overrides(config, load_config_file(args.config))
    apply_overrides(config, config_flags(args))
    apply_overrides(config, {k: v for k, v in (extra or {}).items() if v is not None})
    apply_overrides(config, parse_set(getattr(args, "set", None) or []))
    return config.validate()


def _progress(args: argparse.Namespace) -> bool:
    """Whether the library may show its progress bars (it still hides them where stderr is not a terminal)."""
    return not getattr(args, "quiet", False)


def cmd_edit(args: argparse.Namespace) -> None:
    config = resolve_config(args)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))
        return
    from aved.api import edit
    from aved.folders import check_output_folder
    from aved.outputs import write_edit_outputs

    check_output_folder(args.out, replace=args.overwrite)
    started = time.perf_counter()
    result = edit(args.clip, config=config, progress=_progress(args))
    seconds = time.perf_counter() - started
    run = {"clip": str(args.clip), "seconds": round(seconds, 2), "frames": len(result.frames), "fps": result.fps}
    written = write_edit_outputs(result, config, args.out, run, replace=args.overwrite)
    print(f"wrote {len(written)} files to {args.out}: {', '.join(written)}")
    print(
        f"{config.mode}: {len(result.frames)} frames, {result.duration:.2f} s, {config.steps} steps in {seconds:.1f} s"
    )


def cmd_bench_run(args: argparse.Namespace) -> None:
    from aved.bench.run import run_command

    modes = [m.strip() for m in (args.modes or "").split(",") if m.strip()]
    sweeps = list(args.sweep or [])
    if len(modes) > 1:
        sweeps.insert(0, "mode=" + ",".join(modes))  # several modes are a sweep over the mode
    config = resolve_config(args, {"mode": modes[0] if len(modes) == 1 else None})
    summaries = run_command(
        args.manifest,
        args.videos,
        args.out,
        config,
        metrics=_metric_names(args.metrics),
        metric_models=_metric_models(args),
        sweeps=sweeps,
        progress=_progress(args),
    )
    for summary in summaries:
        print(
            f"{summary.out_dir} [{summary.process_index + 1}/{summary.num_processes}]: {summary.ok} edited, "
            f"{summary.skipped} already done, {summary.failed} failed"
        )
        for error in summary.errors[:5]:
            print(f"  {error}")
    failed = sum(s.failed for s in summaries)
    if failed:
        total = sum(s.total for s in summaries)
        raise RunFailed(f"{failed} of {total} clips failed (errors in each folder's results.jsonl)")


def cmd_bench_report(args: argparse.Namespace) -> None:
    from aved.bench.report import write_report

    for path in write_report(args.results, args.out):
        print(f"wrote {path}")


def cmd_toyworld_export(args: argparse.Namespace) -> None:
    from aved.toyworld.export import export_tasks
    from aved.toyworld.tasks import task_set

    tasks = task_set(seed=args.seed, count=args.tasks)
    manifest = export_tasks(tasks, args.out, progress=_progress(args))
    print(f"wrote {len(tasks)} tasks to {args.out}: {manifest.name}, videos/ (sources), targets/ (ground truth)")


def cmd_toyworld_train(args: argparse.Namespace) -> None:
    from aved.config import read_json_object
    from aved.priors.audioldm2 import AudioLDM2Prior
    from aved.toyworld.card import write_priors, write_vocoder
    from aved.toyworld.evaluate import decoder_figures
    from aved.toyworld.models import media_config
    from aved.toyworld.train import TrainConfig, train_priors, train_vocoder_only

    started, cfg = time.perf_counter(), TrainConfig(seed=args.seed)
    if args.only == "vocoder":
        audio_dir = Path(args.out) / "audio"
        if not (audio_dir / "model_index.json").is_file():
            raise AvedError(f"{audio_dir}: no trained sound prior to add a vocoder to (train without --only first)")
        document = Path(args.out) / "train_config.json"
        if document.is_file():  # the vocoder must see the clips the prior was trained on
            trained = read_json_object(document, f"{document}: missing")["config"]
            if trained["seed"] != cfg.seed:
                raise AvedError(f"{document}: the priors were trained with --seed {trained['seed']}, not {cfg.seed}")
            cfg.clips = trained["clips"]
        result = train_vocoder_only(str(audio_dir), cfg, progress=_progress(args))
    else:
        result = train_priors(cfg, progress=_progress(args))
    log.info("scoring the sound decoders on the bench's ground truths …")
    figures = decoder_figures(AudioLDM2Prior(result.audio, "toyworld-audio"), media_config())
    for name, scores in figures.items():
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    if args.only == "vocoder":
        out = write_vocoder(result, args.out, figures)
        print(f"wrote {out}: audio/vocoder, MODEL_CARD.md ({(time.perf_counter() - started) / 60:.1f} min)")
    else:
        out = write_priors(result, args.out, figures)
        print(f"wrote {out}: video/, audio/, MODEL_CARD.md ({(time.perf_counter() - started) / 60:.1f} min)")


def cmd_toyworld_bench(args: argparse.Namespace) -> None:
    from aved.toyworld.bench import DEFAULT_ROWS, run_bench
    from aved.toyworld.report import write_bench_report

    modes = [m.strip() for m in (args.modes or ",".join(DEFAULT_ROWS)).split(",") if m.strip()]
    config = resolve_config(args)
    shard = _parse_shard(args.shard)
    summary = run_bench(
        args.out, config, modes, count=args.tasks, task_seed=args.task_seed, shard=shard, progress=_progress(args)
    )
    if summary.failed:
        for error in summary.errors[:5]:
            print(f"  {error}")
        raise RunFailed(
            f"{summary.failed} rows failed in {args.out} (errors in its results files; a rerun redoes only them)"
        )
    if shard[1] == 1:
        report = write_bench_report(args.out)
        print(report.table)
        print(f"wrote {', '.join(p.name for p in report.paths)} to {args.out}")


def _parse_shard(text: str | None) -> tuple[int, int]:
    """'I/N' → (I, N) with 0 ≤ I < N; None → (0, 1)."""
    if not text:
        return 0, 1
    index, sep, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise AvedError(f"--shard {text!r}: expected I/N with 0 ≤ I < N, e.g. 0/4")
    return shard


def cmd_toyworld_report(args: argparse.Namespace) -> None:
    from aved.toyworld.report import write_bench_report

    for path in write_bench_report(args.out).paths:
        print(f"wrote {path}")


def cmd_ui(args: argparse.Namespace) -> None:
    from aved.folders import check_folder_path
    from aved.ui.app import UiSettings, examples_for, launch

    examples = examples_for(getattr(args, "model", None))
    settings = UiSettings(resolve_config(args), check_folder_path(args.out), examples)
    launch(settings, args.host, args.port)


def cmd_study_create(args: argparse.Namespace) -> None:
    from aved.study import create_study

    questions = [q.strip() for q in args.questions.split(",") if q.strip()]
    summary = create_study(args.db, args.runs, questions, args.repeat_every, args.seed)
    print("\n".join(summary.lines()))


def cmd_study_serve(args: argparse.Namespace) -> None:
    from aved.study import serve

    serve(args.db, args.host, args.port, on_ready=lambda url: print(f"aved study: rating at {url}", flush=True))


def cmd_study_report(args: argparse.Namespace) -> None:
    from aved.study import study_report, write_study_report

    out = Path(args.out) if args.out else Path(args.db).with_name(f"{Path(args.db).stem}_report")
    paths = write_study_report(args.db, out)
    print(study_report(args.db)[0])
    for path in paths:
        print(f"wrote {path}")


def cmd_tiny_models(args: argparse.Namespace) -> None:
    from aved.metrics.tiny import write_tiny_metric_models
    from aved.priors.tiny import write_tiny_models

    written = write_tiny_models(args.directory, prediction_type=args.prediction_type)
    written.update(write_tiny_metric_models(args.directory))
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")


def _metric_models(args: argparse.Namespace):
    from aved.metrics import MetricModels

    defaults = MetricModels()
    return MetricModels(
        clip=args.clip_model or defaults.clip,
        clap=args.clap_model or defaults.clap,
        dino=args.dino_model or defaults.dino,
        device=args.device or defaults.device,
    )


def _metric_names(text: str | None) -> list[str]:
    from aved.metrics import METRICS

    return list(METRICS) if not text else [m.strip() for m in text.split(",") if m.strip()]


def cmd_metrics(args: argparse.Namespace) -> None:
    from aved.folders import atomic_write, check_output_file
    from aved.media.clip import read_clip
    from aved.metrics import SOURCE_AUDIO_METRICS, Scorer

    default = Path(args.edited).with_name(Path(args.edited).stem + "_metrics.json")
    out = check_output_file(args.out or default, ".json")
    names = _metric_names(args.metrics)
    source = read_clip(args.source, require_audio=bool(set(names) & set(SOURCE_AUDIO_METRICS)))
    edited = read_clip(args.edited, require_audio=True)
    categories = [c.strip() for c in args.categories.split(",")] if args.categories else None
    scores = Scorer(names, _metric_models(args)).score(
        source, edited, args.source_prompt, args.target_prompt, categories, args.target_category
    )
    document = {
        "source": str(args.source),
        "edited": str(args.edited),
        "source_prompt": args.source_prompt,
        "target_prompt": args.target_prompt,
        "metrics": scores,
    }
    text = json.dumps(document, indent=2) + "\n"
    atomic_write(out, text)
    if args.json:  # stdout holds the document alone, for a pipe
        sys.stdout.write(text)
        log.info(f"wrote {out}")
        return
    width = max(len(name) for name in scores)
    for name, value in scores.items():
        print(f"{name:<{width}}  {value:.4f}")
    print(f"wrote {out}")


def _field_default(key: str) -> Any:
    value: Any = EditConfig()
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and Path(value).is_absolute():
        return "its own folder"
    return str(value)


def _default(key: str) -> str:
    """The config field's default, from EditConfig, and each preset that changes it: 'default 10; --model
    toyworld: 2'. Help texts say this instead of a number of their own, so they cannot contradict a preset."""
    value = _field_default(key)
    notes = [f"default {_shown(value)}"]
    presets = [(f"--model {name}", preset) for name, preset in MODEL_PRESETS.items()] + [("--fast", FAST_PRESET)]
    notes += [f"{flag}: {_shown(p[key])}" for flag, p in presets if key in p and p[key] != value]
    return "; ".join(notes)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="a preset naming both priors and their media settings: toyworld (the shipped CPU models)"
    )
    parser.add_argument("--video-model", help=f"SD 1.x/2.x hub id or diffusers folder ({_default('model.video')})")
    parser.add_argument("--audio-model", help=f"AudioLDM2 hub id or diffusers folder ({_default('model.audio')})")
    parser.add_argument(
        "--device", help=f"auto (cuda if present, else cpu), cpu, cuda, cuda:1, … ({_default('model.device')})"
    )
    parser.add_argument("--dtype", choices=DTYPES, help=f"model precision ({_default('model.dtype')})")
    parser.add_argument(
        "--compile", action="store_true", default=None, help="torch.compile the UNet calls (pays on a GPU)"
    )


def _add_fast_option(parser: argparse.ArgumentParser) -> None:
    steps, schedule = FAST_PRESET["steps"], FAST_PRESET["schedule"]
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"the short schedule: {steps} {schedule} steps instead of {_field_default('steps')} "
        f"{_field_default('schedule')} ones, the frames' held relevance unwidened "
        f"(relevance.reach_video {FAST_PRESET['relevance.reach_video']}), estimated at "
        f"{', '.join(map(str, FAST_PRESET['relevance.estimate_timesteps_video']))} and its anchor against DDS's "
        f"whole pull (preservation.kept_pull_video {FAST_PRESET['preservation.kept_pull_video']})",
    )


def _add_steps_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, help=f"optimisation steps ({_default('steps')})")


def _add_media_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fps", type=float, help=f"frames sampled per second ({_default('media.fps')})")
    parser.add_argument("--grid", type=int, help=f"n: frames packed n×n per grid image ({_default('media.grid')})")
    parser.add_argument(
        "--frame-size", type=int, help=f"side of each square frame in px ({_default('media.frame_size')})"
    )
    parser.add_argument("--start", type=float, help=f"start of the window in s ({_default('media.start')})")
    parser.add_argument(
        "--duration",
        type=_duration,
        help="seconds to edit from --start (an error past the clip's end), 'all' (or 0) for the whole clip; past the "
        "audio prior's window the sound is edited as overlapping windows (default: what the clip has, up to one "
        f"audio window: {_default_span()})",
    )


def _default_span() -> str:
    """What an unset --duration takes at most, by default and under each preset: '10 s; --model toyworld: 2 s'."""
    from aved.config import apply_preset

    spans = [f"{EditConfig().media.span():g} s"]
    spans += [f"--model {name}: {apply_preset(EditConfig(), name).media.span():g} s" for name in MODEL_PRESETS]
    return "; ".join(spans)


def _duration(text: str) -> float:
    """`--duration`: seconds, or 'all' (= 0, the whole clip)."""
    if text.strip().lower() == "all":
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'all', got {text!r}") from None


def _add_metric_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip-model", help="CLIP hub id or folder (default openai/clip-vit-large-patch14)")
    parser.add_argument("--clap-model", help="CLAP hub id or folder (default laion/clap-htsat-unfused)")
    parser.add_argument("--dino-model", help="DINO hub id or folder (default facebook/dino-vitb16)")


def _add_verbosity_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-q/--quiet and -v/--verbose, on `aved` itself and on every subcommand (`aved -q edit …` = `aved edit -q …`):
    a subcommand's copy has no default of its own, so it does not undo the one given before the subcommand."""
    default = False if top else argparse.SUPPRESS
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="only errors on stderr: no warnings, log lines or progress bars (results still go to stdout)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="also the model libraries' warnings, info logs and progress bars (loading, downloads)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as our one line (and exit 2) instead of the usage block."""

    def error(self, message: str):
        print(
            f"aved: error: {self.prog.removeprefix('aved ') or 'aved'}: {message} (see {self.prog} --help)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _command(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand's parser, with the verbosity options."""
    parser = sub.add_parser(name, **kwargs)
    _add_verbosity_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aved", description="Zero-shot audio-visual editing from text.")
    parser.add_argument("--version", action="version", version=f"aved {package_version()}")
    _add_verbosity_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = _command(sub, "info", help="describe a clip's streams")
    info.add_argument("clip")
    info.add_argument("--json", action="store_true", help="print one JSON object (every field) instead of lines")
    info.set_defaults(run=cmd_info)

    rec = _command(sub, "reconstruct", help="encode a clip through both priors' VAEs and decode it again")
    rec.add_argument("clip")
    rec.add_argument("-o", "--output", required=True, help="output .mp4")
    _add_media_options(rec)
    _add_model_options(rec)
    rec.set_defaults(run=cmd_reconstruct)

    ed = _command(sub, "edit", help="edit a clip's frames and sound from a source to a target prompt")
    ed.add_argument("clip")
    ed.add_argument("--source", help="what the clip shows and sounds like now, e.g. 'a cat meowing'")
    ed.add_argument("--target", help="what it should become, e.g. 'a dog barking'")
    ed.add_argument("--out", required=True, help="output folder: new or empty (see --overwrite)")
    ed.add_argument("--overwrite", action="store_true", help="replace a finished edit in --out, whole")
    for modality in ("video", "audio"):
        for side in ("source", "target"):
            ed.add_argument(f"--{modality}-{side}", help=f"{side} prompt for the {modality} prior only")
    ed.add_argument(
        "--mode",
        help=f"{', '.join(MODES)} ({_default('mode')})",
    )
    _add_steps_option(ed)
    _add_fast_option(ed)
    ed.add_argument("--seed", type=int, help=f"seed of every random draw ({_default('seed')})")
    ed.add_argument(
        "--tau-video",
        type=float,
        help=f"relevance threshold for frames ({_default('relevance.tau_video')}; see --relevance)",
    )
    ed.add_argument(
        "--tau-audio",
        type=float,
        help=f"relevance threshold for sound ({_default('relevance.tau_audio')}; see --relevance)",
    )
    ed.add_argument(
        "--relevance",
        choices=RELEVANCE_METHODS,
        help=f"delta: from |δ|, fully relevant from τ of its max; fixed/otsu: S > τ ({_default('relevance.method')})",
    )
    _add_media_options(ed)
    _add_model_options(ed)
    ed.add_argument("--config", help="JSON config file (e.g. a config.json written by an earlier edit)")
    ed.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field, e.g. weights.sync=2")
    ed.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    ed.set_defaults(run=cmd_edit)

    met = _command(sub, "metrics", help="score an edit: AV-Align, CLIP-T, CLAP, DINO, LPAPS, Obj-V/Obj-A")
    met.add_argument("source", help="the source clip")
    met.add_argument("edited", help="the edited clip")
    met.add_argument("--source-prompt", required=True)
    met.add_argument("--target-prompt", required=True)
    met.add_argument("--metrics", help="comma-separated subset (default: all that the inputs allow)")
    met.add_argument("--categories", help="comma-separated category names, for obj_v / obj_a")
    met.add_argument("--target-category", help="the category the edit should show and sound like")
    _add_metric_model_options(met)
    met.add_argument("--device", help="auto (default: cuda if present), cpu, cuda, …")
    met.add_argument(
        "--out", metavar="PATH", help="where to write the scores (default: EDITED's folder, <name>_metrics.json)"
    )
    met.add_argument(
        "--json", action="store_true", help="print the scores document (as written to --out) instead of the table"
    )
    met.set_defaults(run=cmd_metrics)

    bench = _command(sub, "bench", help="AvED-Bench: run a manifest (resumable, shardable), report results")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="ACTION")
    brun = _command(bench_sub, "run", help="edit and score every clip of a manifest; resumes where it stopped")
    brun.add_argument("manifest", help="CSV with columns name, src, trg, src_category, trg_category")
    brun.add_argument("--videos", required=True, help="folder holding <name>.mp4 for every manifest row")
    brun.add_argument("--out", required=True, help="results folder (one per config; a rerun resumes)")
    brun.add_argument(
        "--mode", dest="modes", help=f"one mode, or several comma-separated: a sweep over modes ({_default('mode')})"
    )
    _add_steps_option(brun)
    _add_fast_option(brun)
    brun.add_argument("--sweep", action="append", metavar="KEY=V1,V2", help="grid over a config field (repeatable)")
    brun.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field")
    brun.add_argument("--config", help="JSON config file")
    brun.add_argument("--metrics", help="comma-separated subset (default all)")
    _add_model_options(brun)
    _add_metric_model_options(brun)
    brun.set_defaults(run=cmd_bench_run)
    brep = _command(bench_sub, "report", help="tables (markdown, CSV) and plots from result folders")
    brep.add_argument("results", nargs="+", help="result folders (a sweep's parent stands for its settings)")
    brep.add_argument("--out", help="report folder, or a .md file (default: <results>/report)")
    brep.set_defaults(run=cmd_bench_report)

    toy = _command(sub, "toyworld", help="the synthetic ToyWorld: edit tasks with ground truth")
    toy_sub = toy.add_subparsers(dest="toyworld_command", required=True, metavar="ACTION")
    export = _command(toy_sub, "export", help="render the task set as an AvED-Bench folder (for aved bench run)")
    export.add_argument("out", help="folder for manifest.csv, videos/ and targets/")
    export.add_argument("--tasks", type=int, default=110, help="number of tasks (default %(default)s)")
    export.add_argument("--seed", type=int, default=0, help="seed of the task set (default %(default)s)")
    export.set_defaults(run=cmd_toyworld_export)
    train = _command(toy_sub, "train", help="train the two ToyWorld priors (seeded; under an hour on 2 CPU cores)")
    train.add_argument("--out", required=True, help="folder for video/, audio/ and MODEL_CARD.md (replaced whole)")
    train.add_argument(
        "--seed", type=int, default=0, help="seed of data, initialisation and batches (default %(default)s)"
    )
    train.add_argument(
        "--only",
        choices=["vocoder"],
        help="retrain only this part in the --out folder, leaving the VAEs, UNets and text encoders bit for bit",
    )
    train.set_defaults(run=cmd_toyworld_train)
    tbench = _command(
        toy_sub, "bench", help="every mode on every task, scored against the ground truth (resumable; table + plots)"
    )
    tbench.add_argument("--out", required=True, help="results folder; a rerun resumes where it stopped")
    tbench.add_argument(
        "--modes",
        help=f"comma-separated rows: {', '.join(MODES)}, or the ablations {', '.join(ABLATIONS)} (default: every "
        f"mode but random-relevance, and {', '.join(DEFAULT_ABLATIONS)})",
    )
    tbench.add_argument(
        "--tasks", type=int, default=110, help="first N tasks of the seeded task set (default %(default)s)"
    )
    tbench.add_argument(
        "--task-seed", type=int, default=0, help="seed of the task set: fresh tasks (default %(default)s)"
    )
    _add_steps_option(tbench)
    tbench.add_argument(
        "--duration",
        type=_duration,
        help="seconds of each task's clip (default: the preset's 2; longer clips are edited as overlapping sound "
        "windows and scored near the window boundaries and away from them)",
    )
    _add_fast_option(tbench)
    tbench.add_argument("--seed", type=int, help=f"edit seed ({_default('seed')})")
    tbench.add_argument("--shard", help="I/N: run every N-th task from the I-th (parallel processes); report after")
    tbench.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field")
    _add_model_options(tbench)
    tbench.set_defaults(run=cmd_toyworld_bench, model="toyworld")
    treport = _command(toy_sub, "report", help="table.md, table.csv, by_edit_type.csv and summary.png of a bench")
    treport.add_argument("out", help="the bench's results folder")
    treport.set_defaults(run=cmd_toyworld_report)

    ui = _command(sub, "ui", help="the web app: edit a clip in the browser (Gradio, local)")
    ui.add_argument("--host", default="127.0.0.1", help="address to serve on (default %(default)s: this machine only)")
    ui.add_argument("--port", type=int, default=7860, help="port (default %(default)s)")
    ui.add_argument("--out", default="out/ui", help="folder for the edit folders and their zips (default %(default)s)")
    _add_model_options(ui)
    ui.set_defaults(run=cmd_ui)

    study = _command(sub, "study", help="a human A/B study of edits from bench runs: create, serve the page, report")
    study_sub = study.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    screate = _command(study_sub, "create", help="pair the edits of two or more runs, clip by clip, in a new STUDY.db")
    screate.add_argument("db", help="the study file to create (SQLite; must not exist)")
    screate.add_argument(
        "--runs",
        nargs="+",
        required=True,
        help="bench run folders, or FOLDER:ROW of a toyworld bench (e.g. out/tw:aved)",
    )
    screate.add_argument("--questions", default="prompt,preserve,sync", help="comma-separated (default %(default)s)")
    screate.add_argument(
        "--repeat-every", type=int, default=5, help="a hidden repeat after every N pairs; 0: none (default %(default)s)"
    )
    screate.add_argument("--seed", type=int, help="seed of the raters' orders and sides (default: drawn and stored)")
    screate.set_defaults(run=cmd_study_create)
    sserve = _command(study_sub, "serve", help="the rating page: one pair at a time, raters resume where they were")
    sserve.add_argument("db")
    sserve.add_argument("--host", default="127.0.0.1", help="address to serve on (default %(default)s)")
    sserve.add_argument("--port", type=int, default=8000, help="port; 0: any free one (default %(default)s)")
    sserve.set_defaults(run=cmd_study_serve)
    sreport = _command(study_sub, "report", help="win rates with 95 %% Wilson intervals, consistency, votes.csv")
    sreport.add_argument("db")
    sreport.add_argument("--out", help="report folder (default: <STUDY>_report beside the file)")
    sreport.set_defaults(run=cmd_study_report)

    tiny = _command(
        sub, "tiny-models", help="write tiny random model folders: sd, audioldm2, clip, clap, dino (tests, demos)"
    )
    tiny.add_argument("directory")
    tiny.add_argument("--prediction-type", default="epsilon", choices=("epsilon", "v_prediction"))
    tiny.set_defaults(run=cmd_tiny_models)
    return parser


def _check_counts(args: argparse.Namespace) -> None:
    """The options that are not config fields (those are checked by EditConfig.validate)."""
    tasks = getattr(args, "tasks", None)
    if tasks is not None and tasks < 1:
        raise AvedError(f"--tasks must be at least 1, got {tasks}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our warnings as one line each; other libraries' keep Python's format."""
    if issubclass(category, AvedWarning):
        print(f"aved: warning: {message}", file=sys.stderr)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


QUIET, DEFAULT, VERBOSE = -1, 0, 1


def _verbosity(args: argparse.Namespace) -> int:
    return QUIET if getattr(args, "quiet", False) else VERBOSE if getattr(args, "verbose", False) else DEFAULT


class _StderrHandler(logging.Handler):
    """The `aved` loggers' records as `aved: …` lines (`aved: warning: …` from warnings up) on the stderr of the
    moment (a test's capture, a redirected stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = (
                "error: "
                if record.levelno >= logging.ERROR
                else "warning: "
                if record.levelno >= logging.WARNING
                else ""
            )
            sys.stderr.write(f"aved: {level}{record.getMessage()}\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextmanager
def _aved_logging(verbosity: int) -> Iterator[None]:
    """While a command runs, the `aved` loggers write to stderr: info and up by default, debug with -v, errors
    only with -q; before and after, they are as the embedding program left them."""
    logger = logging.getLogger("aved")
    saved = logger.level, logger.propagate
    handler = _StderrHandler()
    logger.addHandler(handler)
    logger.setLevel({QUIET: logging.ERROR, DEFAULT: logging.INFO, VERBOSE: logging.DEBUG}[verbosity])
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _configure_libraries(verbosity: int) -> None:
    """The model libraries' share of the terminal. Default: the hub's download bars (a first multi-GB checkpoint
    download shows), not transformers'/diffusers' advisory warnings, info logs or loading bars; -v: all of them;
    -q: none (and no warning at all, see main). HF_HUB_DISABLE_PROGRESS_BARS=1 keeps the hub's bars off."""
    if verbosity == DEFAULT:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*tensor.detach.*")
    level = logging.INFO if verbosity == VERBOSE else logging.ERROR
    logging.getLogger("transformers").setLevel(level)
    try:
        import diffusers.utils.logging as diffusers_logging
        import huggingface_hub.constants as hub_constants
        import huggingface_hub.utils as hub_utils
        import transformers.utils.logging as transformers_logging
    except ImportError:
        return
    diffusers_logging.set_verbosity(level)
    transformers_logging.set_verbosity(level)
    if verbosity == VERBOSE:
        diffusers_logging.enable_progress_bar()
        with warnings.catch_warnings():  # it also enables the hub's bars, and warns where the environment forbids
            warnings.simplefilter("ignore")
            transformers_logging.enable_progress_bar()
    else:
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()  # and the hub's, which the next lines decide on their own
    if verbosity == QUIET:
        hub_utils.disable_progress_bars()
    elif hub_constants.HF_HUB_DISABLE_PROGRESS_BARS is not True:
        hub_utils.enable_progress_bars()


class _Terminated(BaseException):
    """SIGTERM as an exception, so that every `finally` (staging folders, locks) runs before the exit."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:  # one before the subcommand, one after it
        parser.error("-q/--quiet and -v/--verbose: choose one")
    verbosity = _verbosity(args)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    with warnings.catch_warnings(), _aved_logging(verbosity):
        if verbosity == QUIET:
            warnings.simplefilter("ignore")
        else:
            warnings.simplefilter("always", AvedWarning)
        warnings.showwarning = _show_warning
        try:
            return _run(args, verbosity)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, verbosity: int = DEFAULT) -> int:
    """The command, its errors as one line and an exit status."""
    try:
        _check_counts(args)
        if args.command not in ("info",) and not getattr(args, "dry_run", False):
            _configure_libraries(verbosity)
        args.run(args)
    except AvedError as err:
        print(f"aved: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("aved: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except _Terminated:
        print("aved: terminated; nothing half-written was kept", file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
