"""The loss terms and relevance as pure functions, against constructed inputs whose answer is known."""

import torch

from aved.losses import dds_direction, dds_loss, patch_nce, preservation_loss, sync_infonce, sync_loss
from aved.losses.sync import audio_segments, segment_rows, self_similarity, video_segments
from aved.relevance import (
    edit_token_positions,
    edit_words,
    normalize_cells,
    otsu_threshold,
    relevance_map,
    relevance_mask,
)


def test_dds_gradient_is_w_delta_and_vanishes_for_equal_predictions():
    z = torch.randn(2, 4, 8, 8, requires_grad=True)
    eps = torch.randn(2, 4, 8, 8)
    dds_loss(z, dds_direction(eps, eps.clone())).backward()
    assert torch.count_nonzero(z.grad) == 0
    z.grad = None
    delta = dds_direction(eps, eps + 1.5)
    dds_loss(z, delta, weight=0.3).backward()
    torch.testing.assert_close(z.grad, 0.3 * delta)


def test_dds_direction_zeroes_nans():
    a, b = torch.zeros(3), torch.tensor([1.0, float("nan"), float("inf")])
    assert dds_direction(a, b).tolist() == [1.0, 0.0, 0.0]


def test_edit_words_and_token_positions():
    assert edit_words(["a", "cat", "meowing"], ["a", "dog", "barking"]) == {"cat", "meowing"}
    assert edit_words(["a", "red", "ball"], ["a", "blue", "ball"]) == {"red"}
    assert edit_words(["a", "cat"], ["a", "cat"]) == set()
    spans = [("a", [1]), ("red", [2, 3]), ("ball", [4])]
    other = [("a", [1]), ("blue", [2]), ("ball", [3])]
    assert edit_token_positions(spans, other) == [2, 3]


def _hot_region_probs(size=(16, 16), keys=6, hot_token=3):
    """Cross-attention whose token `hot_token` takes most of the mass inside rows 4..7, cols 8..11."""
    h, w = size
    logits = torch.zeros(1, h * w, keys)
    region = torch.zeros(h, w, dtype=torch.bool)
    region[4:8, 8:12] = True
    logits[0, region.flatten(), hot_token] = 5.0
    return logits.softmax(-1), region


def test_relevance_mask_is_the_hot_region():
    probs, region = _hot_region_probs()
    low_res = torch.nn.functional.avg_pool2d(probs.transpose(1, 2).reshape(1, 6, 16, 16), 2)
    low_res = low_res.reshape(1, 6, 64).transpose(1, 2)
    scores = relevance_map([probs], [3], (16, 16), grid=1, batch=1)
    assert torch.equal(relevance_mask(scores, "fixed", 0.8)[0], region)
    assert torch.equal(relevance_mask(scores, "otsu", 0.8)[0], region)
    # Two layers at different resolutions still agree on the region's interior.
    both = relevance_map([probs, low_res], [3], (16, 16), grid=1, batch=1)
    assert relevance_mask(both, "fixed", 0.8)[0][5:7, 9:11].all()
    assert not relevance_mask(both, "fixed", 0.8)[0][~region].any()


def test_raising_tau_never_grows_the_mask():
    scores = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    previous = None
    for tau in torch.linspace(0, 1, 21):
        mask = relevance_mask(scores, "fixed", float(tau))
        if previous is not None:
            assert not (mask & ~previous).any()
        previous = mask


def test_normalize_cells_is_per_cell():
    maps = torch.zeros(1, 4, 4)
    maps[0, :2, :2] = torch.tensor([[1.0, 3.0], [5.0, 9.0]])
    maps[0, 2:, 2:] = torch.tensor([[100.0, 200.0], [300.0, 500.0]])
    out = normalize_cells(maps, 2)
    assert out[0, :2, :2].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert out[0, 2:, 2:].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert out[0, :2, 2:].abs().sum() == 0  # a flat cell is not relevant anywhere


def test_otsu_separates_two_modes():
    g = torch.Generator().manual_seed(1)
    values = torch.cat([0.2 + 0.03 * torch.randn(500, generator=g), 0.7 + 0.03 * torch.randn(200, generator=g)])
    threshold = otsu_threshold(values)
    assert values[:500].max() < threshold < values[500:].min()
    assert abs(threshold - 0.45) < 0.1  # near the middle of the gap, not at its edge


def test_patch_nce_is_lowest_at_the_source_features():
    g = torch.Generator().manual_seed(2)
    source = torch.randn(64, 32, generator=g)
    at_source = patch_nce(source, source, 0.07)
    for scale in (0.1, 0.3, 1.0):
        perturbed = source + scale * torch.randn(64, 32, generator=g)
        assert patch_nce(perturbed, source, 0.07) > at_source


def test_patch_nce_gradient_moves_features_back():
    g = torch.Generator().manual_seed(3)
    source = torch.randn(64, 32, generator=g)
    query = (source + 2.0 * torch.randn(64, 32, generator=g)).requires_grad_(True)
    before = torch.nn.functional.cosine_similarity(query, source).mean()
    for _ in range(20):
        (grad,) = torch.autograd.grad(patch_nce(query, source, 0.07), query)
        query = (query - 20.0 * grad).detach().requires_grad_(True)
    after = torch.nn.functional.cosine_similarity(query, source).mean()
    assert after > before + 0.1


def test_preservation_loss_ignores_relevant_positions():
    g = torch.Generator().manual_seed(4)
    src = torch.randn(2, 8, 8, 8, generator=g)
    trg = src.clone()
    keep = torch.zeros(2, 16, 16, dtype=torch.bool)
    keep[:, :, :8] = True  # left half is irrelevant (kept); change only the right half
    trg[..., 4:] = torch.randn(2, 8, 8, 4, generator=g)
    unchanged = trg.clone()
    unchanged[..., 4:] = src[..., 4:]
    loss_edit = preservation_loss([trg], [src], keep, torch.Generator().manual_seed(0), patch_sizes=(1,))
    loss_same = preservation_loss([unchanged], [src], keep, torch.Generator().manual_seed(0), patch_sizes=(1,))
    torch.testing.assert_close(loss_edit, loss_same)  # the edited half is never sampled


def test_segment_rows_cover_each_frame_span():
    rows = segment_rows(num_rows=256, row_seconds=0.04, num_segments=4, fps=4.0)
    assert [r.tolist()[:2] for r in rows] == [[0, 1], [6, 7], [12, 13], [19, 20]]
    coarse = segment_rows(num_rows=8, row_seconds=1.28, num_segments=2, fps=4.0)
    assert [r.tolist() for r in coarse] == [[0], [0]]  # coarser than a frame: the nearest row


def _rhythm(k_frames, channels, pattern, g):
    base, alt = torch.randn(channels, generator=g), torch.randn(channels, generator=g)
    return torch.stack([base if p else alt for p in pattern]) + 0.05 * torch.randn(k_frames, channels, generator=g)


def test_sync_is_lower_for_shared_temporal_structure():
    g = torch.Generator().manual_seed(5)
    pattern = [1, 0, 0, 1, 1, 0, 1, 0]
    video = _rhythm(8, 16, pattern, g)
    audio = _rhythm(8, 24, pattern, g)  # another feature space, the same rhythm
    shuffled = audio[torch.tensor([3, 5, 0, 7, 2, 6, 4, 1])]
    aligned = sync_loss([video], [audio])
    assert aligned < sync_loss([video], [shuffled]) - 0.1
    assert aligned < sync_infonce(self_similarity(video), self_similarity(torch.randn(8, 24, generator=g)))


def test_sync_gradient_reaches_both_modalities():
    g = torch.Generator().manual_seed(6)
    video = torch.randn(4, 8, 4, 4, generator=g, requires_grad=True)
    audio = torch.randn(8, 64, 4, generator=g, requires_grad=True)
    v = video_segments(video, torch.ones(4, 4, 4, dtype=torch.bool))
    a = audio_segments(audio, torch.ones(64, 4, dtype=torch.bool), seconds=2.56, num_segments=4, fps=4.0)
    sync_loss([v], [a]).backward()
    assert video.grad.abs().sum() > 0 and audio.grad.abs().sum() > 0


def test_sync_sees_rhythm_under_a_large_static_component():
    # Pooled features of neighbouring frames are nearly parallel; the rhythm is a small part of them.
    g = torch.Generator().manual_seed(7)
    pattern = [1, 0, 0, 1, 1, 0, 1, 0]
    video = 20 * torch.randn(1, 16, generator=g) + _rhythm(8, 16, pattern, g)
    audio = 20 * torch.randn(1, 24, generator=g) + _rhythm(8, 24, pattern, g)
    shuffled = audio[torch.tensor([3, 5, 0, 7, 2, 6, 4, 1])]
    assert sync_loss([video], [audio]) < sync_loss([video], [shuffled]) - 0.5
