"""The v2 objective (docs/design.md §2b): neutral at the source, scale-free weights, the public DDS step, timing,
relevance."""

import numpy as np
import pytest
import torch

from aved.config import PUBLIC_DDS_STEP, EditConfig, apply_overrides
from aved.editor import Editor
from aved.losses import dds_loss
from aved.losses.objective import Objective
from aved.losses.preservation import anchor_loss
from aved.losses.timing import latent_flux, timing_loss
from aved.relevance import composite_alpha, delta_relevance, latent_regions, region_relevance, single_edits
from tests.test_editor import _config, _source


def test_default_dds_step_is_the_public_dds_step_on_sd21_base_latents():
    """Public DDS/CDS: SGD lr 0.1 on 2000·(z·δ).sum()/(H·W); on a [1, 4, 64, 64] latent that moves z by 0.0488·δ."""
    assert PUBLIC_DDS_STEP == pytest.approx(0.048828125)
    delta = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    public = torch.zeros(1, 4, 64, 64, requires_grad=True)
    optimizer = torch.optim.SGD([public], lr=0.1)
    (2000 * (public * delta).sum() / (64 * 64)).backward()
    optimizer.step()
    ours = torch.zeros(1, 4, 64, 64, requires_grad=True)
    optimizer = torch.optim.SGD([ours], lr=EditConfig().lr)
    dds_loss(ours, delta).backward()
    optimizer.step()
    torch.testing.assert_close(ours, public)


@pytest.mark.parametrize("held, regions", [((), 0), ((200, 600), 0), ((200, 600), 2)])
@pytest.mark.parametrize("mode", ["aved", "independent", "random-relevance"])
def test_every_term_has_exactly_zero_gradient_at_the_source_with_equal_prompts(
    mode, held, regions, video_prior, audio_prior
):
    prompt = "a red ball bouncing"
    values = {
        "prompts.source": prompt,
        "prompts.target": prompt,
        "relevance.estimate_timesteps_video": held,
        "relevance.estimate_timesteps_audio": held,
        "relevance.frame_regions": regions,
    }
    editor = Editor(video_prior, audio_prior, _config(mode, **values))
    state = editor.start(_source(None), torch.Generator().manual_seed(0))
    assert bool(state.held_relevance) == bool(held) and (state.frame_regions is not None) == bool(regions)
    with state.capturing():
        losses = editor.step_losses(state).losses
    assert {"dds_v", "pres_v", "dds_a", "pres_a"} <= set(losses)
    assert ("motion_v" in losses) == (mode != "independent")
    for name, loss in losses.items():
        for grad in torch.autograd.grad(loss, list(state.z.values()), allow_unused=True, retain_graph=True):
            assert grad is None or torch.count_nonzero(grad) == 0, name
    with torch.no_grad():  # away from the source every term pulls (so the zeros above are not vacuous)
        for z in state.z.values():
            z.add_(0.1 * torch.randn(z.shape, generator=torch.Generator().manual_seed(5)))
    with state.capturing():
        moved = editor.step_losses(state).losses
    for name in ("pres_v", "pres_a", *(["sync", "motion_v"] if mode != "independent" else [])):
        grads = torch.autograd.grad(moved[name], list(state.z.values()), allow_unused=True, retain_graph=True)
        assert any(g is not None and g.abs().max() > 0 for g in grads), name


def test_every_other_term_pulls_a_fixed_fraction_of_dds_whatever_the_scale():
    """λ_k = ρ_k·‖∇L_dds‖/‖∇L_k‖: the realised pull is ρ_k·‖∇L_dds‖, so scaling a term's loss changes nothing."""
    config = apply_overrides(EditConfig(), {"weights.pres": 0.3})
    objective = Objective(config, pres=True, sync=False)
    z_src = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    z = (z_src + 0.1 * torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    delta = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    keep = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(3))
    totals = []
    for scale in (1.0, 1000.0):
        losses = {"dds_a": dds_loss(z, delta), "pres_a": scale * anchor_loss(z, z_src, keep)}
        grads, realised = objective.gradients(losses, {"a": z}, step_size=1e-3, keep={"a": keep})
        pres_grad = grads["a"] - delta
        assert float(pres_grad.norm()) == pytest.approx(0.3 * float(delta.norm()), rel=1e-5)
        totals.append(grads["a"])
    torch.testing.assert_close(totals[0], totals[1])
    assert set(realised) == {"lambda_pres_a"}


def test_anchor_holds_only_what_is_kept():
    z_src = torch.zeros(1, 2, 4, 4)
    z = torch.ones(1, 2, 4, 4, requires_grad=True)
    keep = torch.zeros(1, 4, 4)
    keep[:, :2] = 1.0
    (grad,) = torch.autograd.grad(anchor_loss(z, z_src, keep), [z])
    assert torch.all(grad[:, :, :2] == 1) and torch.all(grad[:, :, 2:] == 0)


def _events(times, length=40, dims=6, seed=0):
    """Latent rows that jump at `times` and decay, like a sound's onsets."""
    rows = torch.randn(length, dims, generator=torch.Generator().manual_seed(seed)) * 0.01
    for t in times:
        rows[t:] += torch.exp(-torch.arange(length - t, dtype=torch.float32) / 3)[:, None]
    return rows


def test_timing_loss_ignores_level_and_penalises_moved_or_extra_events():
    source = _events([5, 20])
    assert timing_loss(source, source) == 0
    assert timing_loss(3 * source + 2, source) < 1e-6  # louder or offset: the same moments
    moved, extra = _events([9, 20]), _events([5, 20, 30])
    assert timing_loss(moved, source) > 0.5 and timing_loss(extra, source) > 0.2
    flux = latent_flux(source)
    assert set(flux.topk(2).indices.tolist()) == {4, 19}  # the envelope peaks where the events start


def test_delta_relevance_marks_where_the_prompts_disagree_in_each_cell():
    magnitude = torch.zeros(1, 4, 8, 8)
    magnitude[0, :, 1, 1] = 2.0  # top-left cell: one position differs
    magnitude[0, :, 6, 5] = 0.5  # bottom-right cell: weaker, still its own maximum
    relevance = delta_relevance(magnitude, grid=2, tau=1.0, reach=0)
    assert relevance[0, 1, 1] == 1 and relevance[0, 6, 5] == 1
    assert relevance.sum() == 2
    widened = delta_relevance(magnitude, grid=2, tau=1.0, reach=1)
    assert widened[0, :3, :3].min() == 1 and widened[0, 7, 0] == 0 and widened[0, 1, 3] == 1


def test_each_modality_widens_its_relevance_by_its_own_reach(video_prior, audio_prior):
    """relevance.reach_video widens the frames' relevance only, relevance.reach_audio the sound's only."""
    relevance = {}
    for reaches in ((0, 0), (1, 0), (0, 1)):
        values = {"relevance.reach_video": reaches[0], "relevance.reach_audio": reaches[1], "steps": 1}
        editor = Editor(video_prior, audio_prior, _config("aved", **values))
        state = editor.start(_source(None), torch.Generator().manual_seed(0))
        with state.capturing():
            relevance[reaches] = editor.step_losses(state).relevance
    unwidened, frames_widened, sound_widened = relevance[(0, 0)], relevance[(1, 0)], relevance[(0, 1)]
    assert torch.equal(frames_widened["a"], unwidened["a"]) and not torch.equal(frames_widened["v"], unwidened["v"])
    assert torch.equal(sound_widened["v"], unwidened["v"]) and not torch.equal(sound_widened["a"], unwidened["a"])


def test_latent_regions_split_a_blob_from_its_background_whatever_the_labels():
    noise = torch.Generator().manual_seed(0)
    z = 0.05 * torch.randn(2, 4, 8, 8, generator=noise)
    blob = torch.zeros(2, 8, 8, dtype=torch.bool)
    blob[0, 1:3, 2:5], blob[1, 5:8, 0:2] = True, True
    z = z + blob[:, None] * torch.tensor([1.0, -1.0, 0.5, 0.0])[None, :, None, None]
    labels = latent_regions(z, 2)
    for i in range(2):
        inside = labels[i][blob[i]]
        assert len(inside.unique()) == 1 and not (labels[i][~blob[i]] == inside[0]).any()
    assert torch.equal(latent_regions(z, 2), labels)  # seeded by farthest points: no draw


def test_a_region_is_wholly_relevant_from_tau_of_the_top_regions_mean():
    labels = torch.zeros(3, 4, 4, dtype=torch.long)
    labels[:, :, 2:] = 1  # 8 positions each
    scores = torch.zeros(3, 4, 4)
    scores[:, :, :2] = 1.0  # region 0's mean: 1
    scores[0, :2, 2:] = 1.0  # region 1's mean: 4 / 8 = 0.5 = τ · 1, though half of it scores 0
    scores[1, 0, 2:], scores[1, 1, 2] = 1.0, 1.0  # 3 / 8 < 0.5: not the region's
    scores[2] = 0.0  # nothing differs: nothing is marked
    marked = region_relevance(scores, labels, tau=0.5)
    assert marked[0].min() == 1
    assert torch.equal(marked[1], (labels[1] == 0).float())
    assert marked[2].max() == 0
    assert region_relevance(scores, labels, tau=0.3)[1].min() == 1  # 3 / 8 ≥ 0.3
    magnitude = scores[:2, None].expand(2, 4, 4, 4)
    alone = delta_relevance(magnitude, 1, 0.5, 0)
    pooled = delta_relevance(magnitude, 1, 0.5, 0, labels[:2], tau_regions=0.5)
    assert alone[0, 2:, 2:].max() == 0 and pooled[0].min() == 1
    # the regions' τ is their own: the positions' τ still leaves region 1's unscored half of map 1 out
    lower = delta_relevance(magnitude, 1, 0.5, 0, labels[:2], tau_regions=0.3)
    assert pooled[1, 2:, 2:].min() == 0 and lower[1].min() == 1


def test_the_anchor_never_carries_a_kept_position_past_the_source():
    """A drift far smaller than DDS's step is undone, not overshot: λ_pres ≤ 1/step_size."""
    objective = Objective(EditConfig(), pres=True, sync=False)
    z_src = torch.zeros(1, 4, 8, 8)
    z = (z_src + 1e-3).requires_grad_(True)
    delta = torch.zeros(1, 4, 8, 8)
    delta[..., 0, 0] = 10.0  # DDS pulls hard at one position only
    keep = torch.ones(1, 8, 8)
    losses = {"dds_v": dds_loss(z, delta), "pres_v": anchor_loss(z, z_src, keep)}
    grads, realised = objective.gradients(losses, {"v": z}, step_size=0.5, keep={"v": keep})
    assert realised["lambda_pres_v"] == pytest.approx(2.0)
    stepped = z.detach() - 0.5 * grads["v"]
    assert torch.allclose(stepped[..., 1:, :], z_src[..., 1:, :])  # back at the source, not beyond it


def test_a_term_at_rest_gets_no_weight_and_every_step_records_the_same_keys(video_prior, audio_prior):
    config = _config("aved", steps=3, **{"preservation.form": "patchnce", "sync.form": "infonce"})
    result = Editor(video_prior, audio_prior, config).run(
        _source(None), torch.Generator().manual_seed(0), progress=False
    )
    lengths = {key: len(values) for key, values in result.history.items()}
    assert set(lengths.values()) == {3} and {"lambda_pres_v", "lambda_sync_v", "lambda_sync_a"} <= set(lengths)
    objective = Objective(EditConfig(), pres=True, sync=False)
    z = torch.ones(1, 4, 8, 8, requires_grad=True)
    near = (z.detach() + 2e-7).requires_grad_(False)  # a few float32 ulps from the source: rounding, not a drift
    rounding = {"dds_a": dds_loss(z, torch.ones(1, 4, 8, 8)), "pres_a": anchor_loss(z, near, torch.ones(1, 8, 8))}
    _, realised = objective.gradients(rounding, {"a": z}, step_size=1.0, keep={"a": torch.ones(1, 8, 8)})
    assert realised["lambda_pres_a"] == 0


def test_the_motion_term_holds_where_the_frames_change_not_how_much():
    """motion_v reads only where each frame turns into the next: a blob moved elsewhere costs, the same motion at
    twice the contrast (a recoloured object) does not, and at the source it is exactly zero with zero gradient."""
    from aved.losses.motion import motion_loss

    frames = torch.zeros(3, 4, 8, 8)
    for f, col in enumerate((1, 3, 5)):
        frames[f, :, 2:4, col : col + 2] = 1.0  # a blob stepping right
    moved = torch.zeros_like(frames)
    for f, col in enumerate((1, 2, 3)):
        moved[f, :, 5:7, col : col + 2] = 1.0  # another path
    z = frames.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(motion_loss(z, frames), [z])
    assert float(motion_loss(frames, frames)) == 0.0 and torch.count_nonzero(grad) == 0
    assert float(motion_loss(2 * frames, frames)) == pytest.approx(0.0, abs=1e-10)
    assert float(motion_loss(moved, frames)) > 1.0


def test_a_relevance_estimated_before_the_edit_holds_and_confines_dds(video_prior, audio_prior):
    """relevance.estimate_timesteps_*: every step sees the relevance made before the first; at a step above those
    timesteps the frames' DDS gradient is exactly 0 where it is 0 and δ itself where it is 1, in a mode with
    preservation (`dds` has none), and below them DDS is whole again. The estimate leaves the streams as they were:
    the edit's steps draw what `dds`'s draw."""
    from aved.media.frames import pack_grids

    values = {**_held((200, 600), (200, 600)), "relevance.reach_video": 0, "steps": 3, "t_min": 601}
    editor = Editor(video_prior, audio_prior, _config("aved", **values))
    state = editor.start(_source(None), torch.Generator().manual_seed(0))
    held = {m: relevance.clone() for m, relevance in state.held_relevance.items()}
    drawn = {name: stream.get_state() for name, stream in state.streams.items()}
    assert set(held) == {"v", "a"} and state.steps_done == 0
    with state.capturing():
        first = editor.step_losses(state)
        with torch.no_grad():
            state.z["v"].add_(0.1 * torch.randn(state.z["v"].shape, generator=torch.Generator().manual_seed(2)))
        second = editor.step_losses(state)
    for m in held:
        assert torch.equal(state.held_relevance[m], held[m])
        assert torch.equal(first.relevance[m], second.relevance[m])
    relevance = pack_grids(second.relevance["v"][:, None], 2)[:, 0]
    grad = torch.autograd.grad(second.losses["dds_v"], state.z["v"])[0]
    outside, inside = (relevance == 0)[:, None].expand_as(grad), (relevance == 1)[:, None].expand_as(grad)
    assert outside.any() and inside.any()
    assert torch.count_nonzero(grad[outside]) == 0 and grad[inside].abs().min() > 0
    for mode, timesteps in (("dds", {}), ("aved", {"t_min": 50, "t_max": 600})):
        other = Editor(video_prior, audio_prior, _config(mode, **{**values, **timesteps}))
        state = other.start(_source(None), torch.Generator().manual_seed(0))
        assert bool(state.held_relevance) == (mode == "aved"), mode  # a mode without preservation draws no estimate
        for name, stream in state.streams.items():
            assert torch.equal(stream.get_state(), drawn[name]), (mode, name)
        with state.capturing():
            grad = torch.autograd.grad(other.step_losses(state).losses["dds_v"], state.z["v"])[0]
        assert torch.count_nonzero(grad[outside]) > 0, mode
    # without the estimate the relevance follows the steps
    moving = Editor(video_prior, audio_prior, _config("aved", **{**values, **_held((), ())}))
    result = moving.run(_source(None), torch.Generator().manual_seed(0), progress=False)
    held_run = editor.run(_source(None), torch.Generator().manual_seed(0), progress=False)
    assert len(set(held_run.history["relevant_v"])) == 1 and len(set(result.history["relevant_v"])) > 1


def _held(video: tuple[int, ...], audio: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {"relevance.estimate_timesteps_video": video, "relevance.estimate_timesteps_audio": audio}


def test_each_modality_holds_its_own_estimate_and_is_confined_above_its_own_timesteps(video_prior, audio_prior):
    """At a step between the sound's highest estimate timestep and the frames', DDS is confined on the sound only; a
    modality with no estimate timesteps follows the steps (no held relevance)."""
    values = {"relevance.reach_video": 0, "t_min": 601, "t_max": 700}
    cases = (((200, 700), (200, 600), {"v": False, "a": True}), ((200, 600), (), {"v": True, "a": False}))
    for video, audio, confined in cases:
        editor = Editor(video_prior, audio_prior, _config("aved", **values, **_held(video, audio)))
        state = editor.start(_source(None), torch.Generator().manual_seed(0))
        assert set(state.held_relevance) == ({"v", "a"} if audio else {"v"})
        with state.capturing():
            step = editor.step_losses(state)
        for m in ("v", "a"):
            grad = torch.autograd.grad(step.losses[f"dds_{m}"], state.z[m], retain_graph=True)[0]
            outside = (step.keep[m] == 1)[:, None].expand_as(grad)
            assert outside.any() and (torch.count_nonzero(grad[outside]) == 0) == confined[m], (m, video, audio)


def test_the_frames_anchor_pulls_a_fraction_of_dds_where_it_keeps_the_sounds_of_its_whole_pull():
    """preservation.kept_pull_*: ‖λ_pres·∇L_pres‖ = ρ·‖keep⊙∇L_dds‖ where on (the frames' by default), ρ·‖∇L_dds‖
    where off (the sound's)."""
    z_src = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    z = (z_src + 0.1 * torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    delta = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    keep = torch.zeros(1, 8, 8)
    keep[:, :, :3] = 1.0
    keep[:, :, 3] = 0.5
    kept = (keep[:, None] * delta).norm()
    for flip in (False, True):
        values = {"weights.pres": 0.3, **({"preservation.kept_pull_video": False} if flip else {})}
        objective = Objective(apply_overrides(EditConfig(), values), pres=True, sync=False)
        for m in ("v", "a"):
            losses = {f"dds_{m}": dds_loss(z, delta), f"pres_{m}": anchor_loss(z, z_src, keep)}
            grads, _ = objective.gradients(losses, {m: z}, step_size=1e-3, keep={m: keep})
            expected = kept if m == "v" and not flip else delta.norm()
            assert float((grads[m] - delta).norm()) == pytest.approx(0.3 * float(expected), rel=1e-5), (m, flip)


def test_single_edits_make_each_word_level_change_of_the_target_alone():
    source = "a red ball bouncing on grass"
    assert single_edits(source, "a yellow bell bouncing on sand") == [
        "a yellow bell bouncing on grass",  # adjacent changed words are one change
        "a red ball bouncing on sand",
    ]
    assert single_edits(source, "a big red ball bouncing") == [
        "a big red ball bouncing on grass",
        "a red ball bouncing",
    ]
    assert single_edits(source, "a red bell bouncing on grass") == ["a red bell bouncing on grass"]
    assert single_edits(source, source) == [source]


def test_a_split_frame_edit_holds_the_maximum_of_each_change_made_alone(video_prior, audio_prior):
    """relevance.split_video: the held frame relevance of a two-change edit is the elementwise maximum of the held
    relevance of each change made alone (on the same draws), the sound's is the whole edit's, and the edit's own
    draws after the estimate are the unsplit edit's."""
    source, target = "a red ball bouncing on grass", "a blue bell bouncing on sand"
    # Unwidened and thresholded high, so that the tiny prior's maps are not relevant everywhere
    values = {
        "prompts.source": source,
        "prompts.target": target,
        **_held((200, 600), (200, 600)),
        "relevance.reach_video": 0,
        "relevance.tau_video": 0.9,
    }

    def started(split, **prompts):
        config = _config("aved", **{**values, "relevance.split_video": split, **prompts})
        return Editor(video_prior, audio_prior, config).start(_source(None), torch.Generator().manual_seed(0))

    split, unsplit = started(True), started(False)
    alone = [started(False, **{"prompts.target": t}).held_relevance["v"] for t in single_edits(source, target)]
    assert len(alone) == 2
    assert torch.equal(split.held_relevance["v"], torch.maximum(*alone))
    assert not torch.equal(split.held_relevance["v"], unsplit.held_relevance["v"])
    assert torch.equal(split.held_relevance["a"], unsplit.held_relevance["a"])
    for name, stream in split.streams.items():
        assert torch.equal(stream.get_state(), unsplit.streams[name].get_state()), name


def test_composite_alpha_is_the_edits_where_relevant_or_visibly_changed_and_grows_with_the_change():
    decoded_source = np.full((1, 8, 8, 3), 100, dtype=np.uint8)
    edited = decoded_source.copy()
    edited[0, 0, :, 0] = 100 + 51  # one channel moved by 0.2 of full range: past the scale
    edited[0, 1, :, 1] = 100 + 13  # by ≈ 0.05: half the scale
    relevance = torch.zeros(1, 4, 4)
    relevance[0, 2:, 2:] = 1.0  # the bottom-right quarter is the edit's whatever it did
    alpha = composite_alpha(relevance, edited, decoded_source, scale=0.1)
    assert np.allclose(alpha[0, 0], 1.0) and np.allclose(alpha[0, 1, :3], 13 / 255 / 0.1)
    assert alpha[0, 5:, 5:].min() == 1.0  # pixel centres 5–7 sample only relevant cells
    assert np.isclose(alpha[0, 4, 6], 0.75)  # the half-cell bilinear edge: ¾ of the way from cell 1 to cell 2
    assert alpha[0, 2:4, :3].max() == 0.0  # unchanged and irrelevant: wholly the source's


def test_compositing_returns_the_source_exactly_at_equal_prompts_and_never_moves_the_latents(video_prior, audio_prior):
    source = _source(None)
    same = _config("aved", **{"prompts.target": "a red ball bouncing", "steps": 2})
    kept = Editor(video_prior, audio_prior, same).run(source, torch.Generator().manual_seed(0), progress=False)
    assert np.array_equal(kept.frames, source.frames)  # not its decode: the codec's loss is not the edit's
    off = Editor(video_prior, audio_prior, apply_overrides(same, {"preservation.composite": 0.0}))
    decoded = off.run(source, torch.Generator().manual_seed(0), progress=False)
    assert not np.array_equal(decoded.frames, source.frames)
    # a narrow relevance and a wide scale: the tiny random models free a 4×4 latent whole and move every pixel past 0.1
    narrow = {"relevance.reach_video": 0, "relevance.tau_video": 1.0}
    edit, plain = (
        Editor(video_prior, audio_prior, _config("aved", **narrow, **{"preservation.composite": c})).run(
            source, torch.Generator().manual_seed(0), progress=False
        )
        for c in (1.0, 0.0)
    )
    assert torch.equal(edit.z_video, plain.z_video) and np.array_equal(edit.audio, plain.audio)
    assert not np.array_equal(edit.frames, plain.frames)
