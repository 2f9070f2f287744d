"""How hard each loss term pulls on the latents: raw ‖∂L/∂z‖ per term and modality against L_dds's, and the pull
the v2 objective realises (λ_k = ρ_k·‖∇L_dds‖/‖∇L_k‖, docs/design.md §2b rule 1).

For one clip and prompt pair this draws timesteps (and noise, grid shuffles) exactly as the editor does
(`Editor.start` / `Editor.step_losses` / `Objective.gradients`) and prints, per term, the median over the draws of
‖∂L/∂z_v‖ and ‖∂L/∂z_a‖, their ratio to the same modality's ‖λ_dds·∂L_dds/∂z‖ (what a fixed λ = 1 would give), and
the realised ratio ‖λ_k·∂L_k/∂z‖ / ‖λ_dds·∂L_dds/∂z‖ (ρ_k where the term is not at rest, 0 where it is; for the
frames' anchor ρ·‖(1 − r)⊙∂L_dds/∂z‖/‖∂L_dds/∂z‖, `preservation.kept_pull_video`). It does
this at the source latents (step 0: every term but DDS is at rest there) and, with `--edited`, again at the
latents a full edit ends on.

    python benchmarks/loss_gradients.py --edited                     # the README's ToyWorld edit, 8 draws
    python benchmarks/loss_gradients.py --set weights.pres=0.1 --edited
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from aved.codec import prepare_clip, read_source
from aved.config import EditConfig, apply_overrides, apply_preset, parse_set
from aved.editor import Editor
from aved.losses.objective import lambda_key
from aved.priors.load import load_audio_prior, load_video_prior


def gradient_norms(editor: Editor, state, draws: int) -> dict[str, list[tuple[float, ...]]]:
    """Per term, (‖∂L/∂z_v‖, ‖∂L/∂z_a‖, realised λ·‖∂L/∂z_v‖, realised λ·‖∂L/∂z_a‖) for each of `draws` steps."""
    names = [m for m in ("v", "a") if m in state.z]
    z = [state.z[m] for m in names]
    dds_weight = editor.config.weights.dds
    norms: dict[str, list[tuple[float, ...]]] = {}
    with state.capturing():
        for _ in range(draws):
            out = editor.step_losses(state)
            losses = out.losses
            raws = {}
            for term, loss in losses.items():  # before the objective's own pass, which frees the graph
                if loss.requires_grad:
                    grads = torch.autograd.grad(loss, z, retain_graph=True, allow_unused=True)
                    raws[term] = {m: 0.0 if g is None else float(g.norm()) for m, g in zip(names, grads, strict=True)}
            _, realised = state.objective.gradients(losses, state.z, editor.config.lr, out.keep)
            for term, raw in raws.items():
                if term.startswith("dds"):
                    pulled = {m: dds_weight * raw[m] for m in names}
                else:
                    pulled = {m: realised.get(lambda_key(term, m), 0.0) * raw[m] for m in names}
                norms.setdefault(term, []).append(
                    (raw.get("v", 0.0), raw.get("a", 0.0), pulled.get("v", 0.0), pulled.get("a", 0.0))
                )
    return norms


def print_table(title: str, norms: dict[str, list[tuple[float, ...]]]) -> None:
    medians = {term: np.median(np.asarray(values), axis=0) for term, values in norms.items()}
    dds = {"v": medians.get("dds_v", (0.0,) * 4)[2], "a": medians.get("dds_a", (0.0,) * 4)[3]}
    ratio = lambda x, m: x / dds[m] if dds[m] else float("nan")  # noqa: E731
    print(f"\n{title}")
    print(f"{'term':<8} {'‖∇z_v‖':>10} {'/ dds_v':>9} {'realised':>9} {'‖∇z_a‖':>10} {'/ dds_a':>9} {'realised':>9}")
    for term, (gv, ga, pv, pa) in medians.items():
        print(
            f"{term:<8} {gv:>10.3g} {ratio(gv, 'v'):>9.2g} {ratio(pv, 'v'):>9.2g} "
            f"{ga:>10.3g} {ratio(ga, 'a'):>9.2g} {ratio(pa, 'a'):>9.2g}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="examples/toyworld.mp4")
    parser.add_argument("--model", default="toyworld", help="a model preset (default toyworld)")
    parser.add_argument("--source", default="a red ball bouncing on grass")
    parser.add_argument("--target", default="a yellow bell bouncing on grass")
    parser.add_argument("--mode", default="aved")
    parser.add_argument("--draws", type=int, default=8, help="timesteps drawn per table (default 8)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--edited", action="store_true", help="also measure at the end of a full edit")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    config = apply_overrides(apply_preset(EditConfig(), args.model), parse_set(args.set))
    config.mode, config.prompts.source, config.prompts.target = args.mode, args.source, args.target
    config.validate()
    video, audio = load_video_prior(config.model), load_audio_prior(config.model)
    clip = read_source(args.clip, config.media)
    editor = Editor(video, audio, config)
    w = config.weights
    print(f"{args.clip}: '{args.source}' → '{args.target}', mode {args.mode}")
    print(f"λ_dds {w.dds}, ρ_pres {w.pres}, ρ_sync {w.sync}, ρ_motion {w.motion}, lr {config.lr}")

    source = prepare_clip(clip, config.media)
    state = editor.start(source, torch.Generator().manual_seed(config.seed))
    title = f"at the source latents (step 0), median of {args.draws} draws"
    print_table(title, gradient_norms(editor, state, args.draws))

    if args.edited:
        result = editor.run(source, torch.Generator().manual_seed(config.seed))
        for m, z in (("v", result.z_video), ("a", result.z_audio)):
            if z is not None:
                state.z[m] = z.clone().requires_grad_(True)
        title = f"at the latents after {config.steps} steps, median of {args.draws} draws"
        print_table(title, gradient_norms(editor, state, args.draws))


if __name__ == "__main__":
    main()
