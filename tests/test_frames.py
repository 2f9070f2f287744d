"""Frame sampling, grid packing and the grid shuffle."""

import numpy as np
import pytest
import torch

from aved.media.frames import (
    composite_frames,
    invert_permutation,
    nearest_frames,
    num_grids,
    pack_grids,
    permute_cells,
    resize_center_crop,
    sample_times,
    shuffle_permutation,
    unpack_grids,
)


@pytest.mark.parametrize("num_frames", [1, 3, 4, 5, 9, 40])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_pack_unpack_is_exact_inverse(num_frames, n):
    frames = torch.randn(num_frames, 3, 8, 8)
    grids = pack_grids(frames, n)
    assert grids.shape == (num_grids(num_frames, n), 3, 8 * n, 8 * n)
    assert torch.equal(unpack_grids(grids, n, num_frames), frames)


def test_pack_places_frames_row_major_and_pads_with_last_frame():
    frames = torch.arange(5, dtype=torch.float32).view(5, 1, 1, 1).expand(5, 1, 2, 2)
    grids = pack_grids(frames, 2)
    # Grid 0 holds frames 0 1 / 2 3; grid 1 holds 4 then three copies of frame 4.
    assert grids[0, 0, ::2, ::2].tolist() == [[0, 1], [2, 3]]
    assert grids[1, 0, ::2, ::2].tolist() == [[4, 4], [4, 4]]


@pytest.mark.parametrize("num_frames,n", [(4, 2), (7, 2), (10, 3), (40, 2), (16, 4)])
def test_shuffle_unshuffle_is_exact_inverse(num_frames, n):
    generator = torch.Generator().manual_seed(num_frames)
    latents = torch.randn(num_grids(num_frames, n), 4, 4 * n, 4 * n)
    perm = shuffle_permutation(num_frames, n, generator)
    shuffled = permute_cells(latents, n, perm)
    assert torch.equal(permute_cells(shuffled, n, invert_permutation(perm)), latents)


def test_shuffle_moves_frames_only_among_frames():
    generator = torch.Generator().manual_seed(0)
    perm = shuffle_permutation(num_frames=5, n=2, generator=generator)
    assert sorted(perm[:5].tolist()) == list(range(5))
    assert perm[5:].tolist() == [5, 6, 7]
    # Cell i of the shuffled latents is the cell perm[i] of the original.
    cells = torch.arange(8, dtype=torch.float32).view(8, 1, 1, 1).expand(8, 1, 2, 2)
    shuffled = unpack_grids(permute_cells(pack_grids(cells, 2), 2, perm), 2, 8)
    assert shuffled[:, 0, 0, 0].tolist() == perm.float().tolist()


def test_sample_times_and_nearest_frames():
    assert np.allclose(sample_times(5.0, 4.0), np.arange(20) / 4)
    assert len(sample_times(12.0, 4.0, max_duration=10.0)) == 40
    assert len(sample_times(0.1, 4.0)) == 1
    times = np.array([0.0, 0.1, 0.35, 0.5])  # variable frame rate
    assert nearest_frames(times, np.array([0.0, 0.25, 0.5, 2.0])).tolist() == [0, 1, 3, 3]


def test_resize_center_crop_keeps_the_centre():
    frames = np.zeros((1, 40, 80, 3), dtype=np.uint8)
    frames[:, :, 20:60] = 255  # the central square is white, the sides black
    out = resize_center_crop(frames, 20)
    assert out.shape == (1, 20, 20, 3)
    assert out.min() == 255


def test_composite_takes_the_edit_where_alpha_is_one_and_the_source_where_it_is_zero():
    rng = np.random.default_rng(0)
    edited, source = (rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8) for _ in range(2))
    alpha = np.zeros((2, 4, 4), dtype=np.float32)
    alpha[0, :2] = 1.0
    alpha[1] = 0.25
    out = composite_frames(edited, source, alpha)
    assert np.array_equal(out[0, :2], edited[0, :2]) and np.array_equal(out[0, 2:], source[0, 2:])
    expected = np.rint(0.25 * edited[1].astype(np.float64) + 0.75 * source[1].astype(np.float64))
    assert np.array_equal(out[1], expected.astype(np.uint8))
