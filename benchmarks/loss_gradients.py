"""How hard each loss term pulls on the latents: ‖λ·∇_z L‖ per term and modality, next to L_dds's pull.

The terms of L = λ_dds(L_dds_v + L_dds_a) + λ_pres(L_pres_v + L_pres_a) + λ_sync·L_sync only shape an edit if
their gradients are not swamped by DDS's. For one clip and prompt pair this draws timesteps (and noise, patches,
grid shuffles) exactly as the editor does (`Editor.start` / `Editor.step_losses`) and prints, per term, the median
over the draws of ‖λ·∂L/∂z_v‖ and ‖λ·∂L/∂z_a‖ and their ratio to the same modality's λ_dds·‖∂L_dds/∂z‖. It does
this at the source latents (step 0 of an edit) and, with `--edited`, again at the latents a full edit ends on.

    python benchmarks/loss_gradients.py                              # the README's ToyWorld edit, 8 draws
    python benchmarks/loss_gradients.py --set weights.pres=100 --set weights.sync=100 --edited
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from aved.codec import prepare_clip
from aved.config import EditConfig, apply_overrides, apply_preset, parse_set
from aved.editor import Editor
from aved.media.clip import read_clip
from aved.priors.load import load_audio_prior, load_video_prior

TERMS = {"dds_v": "dds", "dds_a": "dds", "pres_v": "pres", "pres_a": "pres", "sync": "sync"}


def gradient_norms(editor: Editor, state, draws: int) -> dict[str, list[tuple[float, float]]]:
    """Per term, (‖λ·∂L/∂z_v‖, ‖λ·∂L/∂z_a‖) for each of `draws` steps drawn from the state's streams."""
    weights = editor.config.weights
    names = [m for m in ("v", "a") if m in state.z]
    z = [state.z[m] for m in names]
    norms: dict[str, list[tuple[float, float]]] = {}
    with state.capturing():
        for _ in range(draws):
            losses = editor.step_losses(state).losses
            for term, weight_name in TERMS.items():
                if term not in losses:
                    continue
                grads = torch.autograd.grad(losses[term], z, retain_graph=True, allow_unused=True)
                scale = getattr(weights, weight_name)
                found = {m: 0.0 if g is None else scale * float(g.norm()) for m, g in zip(names, grads, strict=True)}
                norms.setdefault(term, []).append((found.get("v", 0.0), found.get("a", 0.0)))
    return norms


def print_table(title: str, norms: dict[str, list[tuple[float, float]]]) -> None:
    medians = {term: np.median(np.asarray(values), axis=0) for term, values in norms.items()}
    dds = {"v": medians.get("dds_v", (0.0, 0.0))[0], "a": medians.get("dds_a", (0.0, 0.0))[1]}
    print(f"\n{title}")
    print(f"{'term':<8} {'‖λ∇z_v‖':>10} {'/ dds_v':>9} {'‖λ∇z_a‖':>10} {'/ dds_a':>9}")
    for term, (gv, ga) in medians.items():
        rv = gv / dds["v"] if dds["v"] else float("nan")
        ra = ga / dds["a"] if dds["a"] else float("nan")
        print(f"{term:<8} {gv:>10.3g} {rv:>9.2g} {ga:>10.3g} {ra:>9.2g}")


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
    clip = read_clip(args.clip, start=config.media.start, duration=config.media.duration, require_audio=True)
    editor = Editor(video, audio, config)
    w = config.weights
    print(f"{args.clip}: '{args.source}' → '{args.target}', mode {args.mode}")
    print(f"λ_dds {w.dds}, λ_pres {w.pres}, λ_sync {w.sync}")

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
