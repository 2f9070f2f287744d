"""The `aved` command line: a thin layer over the library that reads arguments and writes files."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from aved.config import DTYPES, RELEVANCE_METHODS
from aved.errors import AvedError, AvedWarning, RunFailed

_PYTHON_SHOWWARNING = warnings.showwarning


def cmd_info(args: argparse.Namespace) -> None:
    from aved.media.clip import probe_clip

    for line in probe_clip(args.clip).lines():
        print(line)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from aved.codec import prepare_clip, read_source, reconstruct
    from aved.folders import check_output_file
    from aved.media.clip import write_clip

    config = resolve_config(
        args,
        {
            "media.fps": args.fps,
            "media.duration": args.duration,
            "media.frame_size": args.frame_size,
            "media.grid": args.grid,
            "media.start": args.start,
            "model.video": args.video_model,
            "model.audio": args.audio_model,
            "model.device": args.device,
            "model.dtype": args.dtype,
            "model.compile": args.compile,
        },
    )
    media, model = config.media, config.model
    out = check_output_file(args.output, ".mp4")
    source = prepare_clip(read_source(args.clip, media), media)
    from aved.priors.load import load_audio_prior, load_video_prior

    video, audio = load_video_prior(model), load_audio_prior(model)
    started = time.perf_counter()
    result = reconstruct(source, video, audio, media)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_clip(out, result.frames, result.fps, result.audio, result.sample_rate)
    print(
        f"wrote {out}: {len(result.frames)} frames at {result.fps:g} fps, {result.duration:.2f} s, "
        f"{media.frame_size}px, grid {media.grid}×{media.grid} ({time.perf_counter() - started:.1f} s)"
    )


def resolve_config(args: argparse.Namespace, flags: dict):
    """defaults < --model preset < --fast < --config FILE < explicit flags (not None) < --set key=value, validated."""
    from aved.config import FAST_PRESET, EditConfig, apply_overrides, apply_preset, load_config_file, parse_set

    config = apply_preset(EditConfig(), getattr(args, "model", None))
    if getattr(args, "fast", False):
        apply_overrides(config, FAST_PRESET)
    if getattr(args, "config", None):
        apply_overrides(config, load_config_file(args.config))
    apply_overrides(config, {k: v for k, v in flags.items() if v is not None})
    apply_overrides(config, parse_set(getattr(args, "set", None) or []))
    return config.validate()


def edit_config_from_args(args: argparse.Namespace):
    """The edit's config from `aved edit`'s options."""
    return resolve_config(
        args,
        {
            "prompts.source": args.source,
            "prompts.target": args.target,
            "prompts.video_source": args.video_source,
            "prompts.video_target": args.video_target,
            "prompts.audio_source": args.audio_source,
            "prompts.audio_target": args.audio_target,
            "mode": args.mode,
            "steps": args.steps,
            "seed": args.seed,
            "relevance.tau_video": args.tau_video,
            "relevance.tau_audio": args.tau_audio,
            "relevance.method": args.relevance,
            "media.grid": args.grid,
            "media.fps": args.fps,
            "media.frame_size": args.frame_size,
            "media.start": args.start,
            "media.duration": args.duration,
            "model.video": args.video_model,
            "model.audio": args.audio_model,
            "model.dtype": args.dtype,
            "model.compile": args.compile,
            "model.device": args.device,
        },
    )


def cmd_edit(args: argparse.Namespace) -> None:
    import json

    config = edit_config_from_args(args)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))
        return
    from aved.api import edit
    from aved.folders import check_output_folder
    from aved.outputs import write_edit_outputs

    check_output_folder(args.out, replace=args.overwrite)
    started = time.perf_counter()
    result = edit(args.clip, config=config)
    seconds = time.perf_counter() - started
    run = {"clip": str(args.clip), "seconds": round(seconds, 2), "frames": len(result.frames), "fps": result.fps}
    written = write_edit_outputs(result, config, args.out, run, replace=args.overwrite)
    print(f"wrote {len(written)} files to {args.out}: {', '.join(written)}")
    print(
        f"{config.mode}: {len(result.frames)} frames, {result.duration:.2f} s, {config.steps} steps in {seconds:.1f} s"
    )


def cmd_bench_run(args: argparse.Namespace) -> None:
    from aved.bench.run import run_command

    modes = [m.strip() for m in (args.mode or "").split(",") if m.strip()]
    sweeps = list(args.sweep or [])
    if len(modes) > 1:
        sweeps.insert(0, "mode=" + ",".join(modes))  # several modes are a sweep over the mode
    flags = {
        "mode": modes[0] if len(modes) == 1 else None,
        "steps": args.steps,
        "model.video": args.video_model,
        "model.audio": args.audio_model,
        "model.device": args.device,
        "model.dtype": args.dtype,
        "model.compile": args.compile,
    }
    config = resolve_config(args, flags)
    summaries = run_command(
        args.manifest,
        args.videos,
        args.out,
        config,
        metrics=_metric_names(args.metrics),
        metric_models=_metric_models(args),
        sweeps=sweeps,
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
    manifest = export_tasks(tasks, args.out)
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
        result = train_vocoder_only(str(audio_dir), cfg)
    else:
        result = train_priors(cfg)
    print("scoring the sound decoders on the bench's ground truths …")
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
    from aved.toyworld.bench import DEFAULT_ROWS, run_bench, write_bench_report

    modes = [m.strip() for m in (args.modes or ",".join(DEFAULT_ROWS)).split(",") if m.strip()]
    config = resolve_config(
        args,
        {
            "steps": args.steps,
            "seed": args.seed,
            "model.video": args.video_model,
            "model.audio": args.audio_model,
            "model.device": args.device,
            "model.dtype": args.dtype,
            "model.compile": args.compile,
        },
    )
    shard = _parse_shard(args.shard)
    run_bench(args.out, config, modes, count=args.tasks, task_seed=args.task_seed, shard=shard)
    if shard[1] == 1:
        written = write_bench_report(args.out)
        print((Path(args.out) / "table.md").read_text().split("\n\n![")[0])
        print(f"wrote {', '.join(p.name for p in written)} to {args.out}")


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
    from aved.toyworld.bench import write_bench_report

    for path in write_bench_report(args.out):
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
    import json

    from aved.folders import atomic_write, check_output_file
    from aved.media.clip import read_clip
    from aved.metrics import SOURCE_AUDIO_METRICS, Scorer

    default = Path(args.edited).with_name(Path(args.edited).stem + "_metrics.json")
    out = check_output_file(args.json or default, ".json")
    names = _metric_names(args.metrics)
    source = read_clip(args.source, require_audio=bool(set(names) & set(SOURCE_AUDIO_METRICS)))
    edited = read_clip(args.edited, require_audio=True)
    categories = [c.strip() for c in args.categories.split(",")] if args.categories else None
    scores = Scorer(names, _metric_models(args)).score(
        source, edited, args.source_prompt, args.target_prompt, categories, args.target_category
    )
    width = max(len(name) for name in scores)
    for name, value in scores.items():
        print(f"{name:<{width}}  {value:.4f}")
    document = {
        "source": str(args.source),
        "edited": str(args.edited),
        "source_prompt": args.source_prompt,
        "target_prompt": args.target_prompt,
        "metrics": scores,
    }
    atomic_write(out, json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="a preset naming both priors and their media settings: toyworld (the shipped CPU models)"
    )
    parser.add_argument("--video-model", help="SD 1.x/2.x hub id or diffusers folder")
    parser.add_argument("--audio-model", help="AudioLDM2 hub id or diffusers folder")
    parser.add_argument("--device", help="auto (default: cuda if present), cpu, cuda, cuda:1, …")
    parser.add_argument("--dtype", choices=DTYPES, help="model precision (default float32)")
    parser.add_argument(
        "--compile", action="store_true", default=None, help="torch.compile the UNet calls (pays on a GPU)"
    )


def _add_fast_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fast", action="store_true", help="the short schedule: 25 annealed steps instead of 200 random ones"
    )


def _add_media_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fps", type=float, help="frames sampled per second (default 4)")
    parser.add_argument("--grid", type=int, help="n: frames packed n×n per grid image (default 2)")
    parser.add_argument("--frame-size", type=int, help="side of each square frame in px (default 256)")
    parser.add_argument("--start", type=float, help="start of the window in s (default 0)")
    parser.add_argument("--duration", type=float, help="longest window in s (default 10)")


def _add_metric_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip-model", help="CLIP hub id or folder (default openai/clip-vit-large-patch14)")
    parser.add_argument("--clap-model", help="CLAP hub id or folder (default laion/clap-htsat-unfused)")
    parser.add_argument("--dino-model", help="DINO hub id or folder (default facebook/dino-vitb16)")


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as our one line (and exit 2) instead of the usage block."""

    def error(self, message: str):
        print(
            f"aved: error: {self.prog.removeprefix('aved ') or 'aved'}: {message} (see {self.prog} --help)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aved", description="Zero-shot audio-visual editing from text.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="describe a clip's streams")
    info.add_argument("clip")
    info.set_defaults(run=cmd_info)

    rec = sub.add_parser("reconstruct", help="encode a clip through both priors' VAEs and decode it again")
    rec.add_argument("clip")
    rec.add_argument("-o", "--output", required=True, help="output .mp4")
    _add_media_options(rec)
    _add_model_options(rec)
    rec.set_defaults(run=cmd_reconstruct)

    ed = sub.add_parser("edit", help="edit a clip's frames and sound from a source to a target prompt")
    ed.add_argument("clip")
    ed.add_argument("--source", help="what the clip shows and sounds like now, e.g. 'a cat meowing'")
    ed.add_argument("--target", help="what it should become, e.g. 'a dog barking'")
    ed.add_argument("--out", required=True, help="output folder: new or empty (see --overwrite)")
    ed.add_argument("--overwrite", action="store_true", help="replace a finished edit in --out, whole")
    for modality in ("video", "audio"):
        for side in ("source", "target"):
            ed.add_argument(f"--{modality}-{side}", help=f"{side} prompt for the {modality} prior only")
    ed.add_argument("--mode", help="aved (default), independent, video-only, audio-only, dds, sdedit, random-relevance")
    ed.add_argument("--steps", type=int, help="optimisation steps (default 200)")
    _add_fast_option(ed)
    ed.add_argument("--seed", type=int, help="seed of every random draw (default 0)")
    ed.add_argument("--tau-video", type=float, help="relevance threshold for frames (default 0.5; see relevance)")
    ed.add_argument("--tau-audio", type=float, help="relevance threshold for sound (default 0.5; see relevance)")
    ed.add_argument(
        "--relevance",
        choices=RELEVANCE_METHODS,
        help="delta (default: from |δ|, fully relevant from τ of its max) or S > τ",
    )
    _add_media_options(ed)
    _add_model_options(ed)
    ed.add_argument("--config", help="JSON config file (e.g. a config.json written by an earlier edit)")
    ed.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field, e.g. weights.sync=2")
    ed.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    ed.set_defaults(run=cmd_edit)

    met = sub.add_parser("metrics", help="score an edit: AV-Align, CLIP-T, CLAP, DINO, LPAPS, Obj-V/Obj-A")
    met.add_argument("source", help="the source clip")
    met.add_argument("edited", help="the edited clip")
    met.add_argument("--source-prompt", required=True)
    met.add_argument("--target-prompt", required=True)
    met.add_argument("--metrics", help="comma-separated subset (default: all that the inputs allow)")
    met.add_argument("--categories", help="comma-separated category names, for obj_v / obj_a")
    met.add_argument("--target-category", help="the category the edit should show and sound like")
    _add_metric_model_options(met)
    met.add_argument("--device", help="auto (default), cpu, cuda, …")
    met.add_argument("--json", help="where to write the scores (default: EDITED's folder, <name>_metrics.json)")
    met.set_defaults(run=cmd_metrics)

    bench = sub.add_parser("bench", help="AvED-Bench: run a manifest (resumable, shardable), report results")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="ACTION")
    brun = bench_sub.add_parser("run", help="edit and score every clip of a manifest; resumes where it stopped")
    brun.add_argument("manifest", help="CSV with columns name, src, trg, src_category, trg_category")
    brun.add_argument("--videos", required=True, help="folder holding <name>.mp4 for every manifest row")
    brun.add_argument("--out", required=True, help="results folder (one per config; a rerun resumes)")
    brun.add_argument("--mode", help="one mode, or several comma-separated (a sweep over modes)")
    brun.add_argument("--steps", type=int, help="optimisation steps (default 200)")
    _add_fast_option(brun)
    brun.add_argument("--sweep", action="append", metavar="KEY=V1,V2", help="grid over a config field (repeatable)")
    brun.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field")
    brun.add_argument("--config", help="JSON config file")
    brun.add_argument("--metrics", help="comma-separated subset (default all)")
    _add_model_options(brun)
    _add_metric_model_options(brun)
    brun.set_defaults(run=cmd_bench_run)
    brep = bench_sub.add_parser("report", help="tables (markdown, CSV) and plots from result folders")
    brep.add_argument("results", nargs="+", help="result folders (a sweep's parent stands for its settings)")
    brep.add_argument("--out", help="report folder, or a .md file (default: <results>/report)")
    brep.set_defaults(run=cmd_bench_report)

    toy = sub.add_parser("toyworld", help="the synthetic ToyWorld: edit tasks with ground truth")
    toy_sub = toy.add_subparsers(dest="toyworld_command", required=True, metavar="ACTION")
    export = toy_sub.add_parser("export", help="render the task set as an AvED-Bench folder (for aved bench run)")
    export.add_argument("out", help="folder for manifest.csv, videos/ and targets/")
    export.add_argument("--tasks", type=int, default=110, help="number of tasks (default 110)")
    export.add_argument("--seed", type=int, default=0, help="seed of the task set (default 0)")
    export.set_defaults(run=cmd_toyworld_export)
    train = toy_sub.add_parser("train", help="train the two ToyWorld priors (seeded; under an hour on 2 CPU cores)")
    train.add_argument("--out", required=True, help="folder for video/, audio/ and MODEL_CARD.md (replaced whole)")
    train.add_argument("--seed", type=int, default=0, help="seed of data, initialisation and batches (default 0)")
    train.add_argument(
        "--only",
        choices=["vocoder"],
        help="retrain only this part in the --out folder, leaving the VAEs, UNets and text encoders bit for bit",
    )
    train.set_defaults(run=cmd_toyworld_train)
    tbench = toy_sub.add_parser(
        "bench", help="every mode on every task, scored against the ground truth (resumable; table + plots)"
    )
    tbench.add_argument("--out", required=True, help="results folder; a rerun resumes where it stopped")
    tbench.add_argument("--modes", help="comma-separated rows (default: every mode, and the ablation aved-no-pres)")
    tbench.add_argument("--tasks", type=int, default=110, help="first N tasks of the seeded task set (default 110)")
    tbench.add_argument("--task-seed", type=int, default=0, help="seed of the task set: fresh tasks (default 0)")
    tbench.add_argument("--steps", type=int, help="optimisation steps (default 200)")
    _add_fast_option(tbench)
    tbench.add_argument("--seed", type=int, help="edit seed (default 0)")
    tbench.add_argument("--shard", help="I/N: run every N-th task from the I-th (parallel processes); report after")
    tbench.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config field")
    _add_model_options(tbench)
    tbench.set_defaults(run=cmd_toyworld_bench, model="toyworld")
    treport = toy_sub.add_parser("report", help="table.md, table.csv, by_edit_type.csv and summary.png of a bench")
    treport.add_argument("out", help="the bench's results folder")
    treport.set_defaults(run=cmd_toyworld_report)

    tiny = sub.add_parser(
        "tiny-models", help="write tiny random model folders: sd, audioldm2, clip, clap, dino (tests, demos)"
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


def _quiet_libraries() -> None:
    """Keep the terminal for our own progress: no loading bars or advisory warnings from the model libraries."""
    import logging

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*tensor.detach.*")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        import diffusers.utils.logging as diffusers_logging
        import transformers.utils.logging as transformers_logging
    except ImportError:
        return
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


class _Terminated(BaseException):
    """SIGTERM as an exception, so that every `finally` (staging folders, locks) runs before the exit."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    with warnings.catch_warnings():
        warnings.simplefilter("always", AvedWarning)
        warnings.showwarning = _show_warning
        try:
            return _run(args)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """The command, its errors as one line and an exit status."""
    try:
        _check_counts(args)
        if args.command not in ("info",) and not getattr(args, "dry_run", False):
            _quiet_libraries()
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
