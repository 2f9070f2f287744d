"""The synthetic world: deterministic renders, exact analytic scorers, edit tasks with ground-truth targets."""

import dataclasses
import itertools

import cv2
import numpy as np
import pytest

from aved.errors import AvedError
from aved.toyworld.render import render, trajectory
from aved.toyworld.scene import BACKGROUNDS, COLOURS, KINDS, Scene, caption, parse_caption
from aved.toyworld.scorers import (
    background_psnr,
    centroid,
    engine_frames,
    frame_scores,
    object_mask,
    sound_events,
    sound_scores,
)
from aved.toyworld.tasks import EDIT_TYPES, task_set

ENGINE_FPS = 4.0


def _grid_scenes(duration: float = 2.0) -> list[Scene]:
    """Every kind × colour × background once, each with its own seed."""
    combos = itertools.product(BACKGROUNDS, KINDS, COLOURS)
    return [Scene(bg, kind, colour, seed=i, duration=duration) for i, (bg, kind, colour) in enumerate(combos)]


def _onsets(audio: np.ndarray) -> np.ndarray:
    return np.asarray([onset for onset, _ in sound_events(audio, 16000)])


def test_render_is_deterministic_and_well_formed():
    scene = Scene("night", "bird", "orange", seed=7, duration=2.0)
    a, b = render(scene), render(scene)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.frames.shape == (32, 128, 128, 3) and a.frames.dtype == np.uint8
    assert a.audio.shape == (32000,) and a.audio.dtype == np.float32 and a.sample_rate == 16000
    np.testing.assert_allclose(a.times, np.arange(32) / 16.0)
    assert np.abs(a.audio).max() <= 1.0
    assert not np.array_equal(render(dataclasses.replace(scene, seed=8)).audio, a.audio)


def test_every_bounce_is_visible_at_the_engine_fps():
    for seed in range(10):
        path = trajectory(Scene(seed=seed))
        assert len(path.impacts) >= 2 and np.all(np.diff(path.impacts) >= 0.5 - 1e-9)
        # Impacts fall on the 4 fps grid: the sampled frame at each impact shows the object squashed on the ground.
        np.testing.assert_allclose(path.impacts * ENGINE_FPS, np.round(path.impacts * ENGINE_FPS), atol=1e-9)
        sampled = np.arange(0, len(path.times), round(16 / ENGINE_FPS))
        on_ground = path.times[sampled][path.squash[sampled]]
        np.testing.assert_allclose(on_ground, path.impacts)
        assert 0 < path.speeds.min() and path.speeds.max() <= 1


def test_scene_and_caption_vocabulary():
    assert len(BACKGROUNDS) >= 4 and len(KINDS) >= 4 and len(COLOURS) >= 4
    for scene in _grid_scenes():
        assert parse_caption(caption(scene)) == (scene.colour, scene.kind, scene.background)
    assert caption(Scene("sand", "drum", "cyan")) == "a cyan drum bouncing on sand"
    assert caption(Scene("night", "bird", "orange")) == "an orange bird bouncing at night"
    with pytest.raises(AvedError):
        Scene(kind="cat")
    with pytest.raises(AvedError):
        Scene(fps=10)
    with pytest.raises(AvedError):
        parse_caption("a cat meowing")


def test_scorers_are_exact_on_ground_truth_renders():
    totals = {"kind_accuracy": [], "colour_accuracy": [], "background_accuracy": []}
    big = {name: [] for name in totals}
    recall, kind_acc = [], []
    for scene in _grid_scenes():
        clip = render(scene)
        frames = engine_frames(clip.frames, clip.times, ENGINE_FPS)
        for name, value in frame_scores(frames, scene).items():
            totals[name].append(value)
        resized = np.stack([cv2.resize(frame, (256, 256)) for frame in frames[::2]])
        for name, value in frame_scores(resized, scene).items():
            big[name].append(value)
        sound = sound_scores(clip.audio, clip.sample_rate, trajectory(scene).impacts, scene.kind)
        recall.append(sound["onset_recall"])
        kind_acc.append(sound["event_kind_accuracy"])
        assert sound["onset_precision"] == 1.0
    for name in totals:
        assert np.mean(totals[name]) == 1.0, name
        assert np.mean(big[name]) == 1.0, name
    assert np.mean(recall) >= 0.95
    assert np.mean(kind_acc) >= 0.95


def test_background_psnr_ignores_the_object():
    scene = Scene("sand", "ball", "red", seed=3, duration=2.0)
    a = render(scene).frames[4]
    b = render(dataclasses.replace(scene, kind="drum", colour="purple")).frames[4]
    c = render(dataclasses.replace(scene, background="grass")).frames[4]
    assert background_psnr(a, b) == 100.0
    assert background_psnr(a, c) < 20.0


def _check_task_ground_truth(task):
    source, target = task.source_clip(), task.target_clip()
    path_s, path_t = trajectory(task.source), trajectory(task.target)
    for field in dataclasses.fields(path_s):
        np.testing.assert_array_equal(getattr(path_s, field.name), getattr(path_t, field.name))
    for frame_s, frame_t in zip(source.frames, target.frames, strict=True):
        xs, ys = centroid(object_mask(frame_s))
        xt, yt = centroid(object_mask(frame_t))
        assert abs(xs - xt) <= 1.0 and abs(ys - yt) <= 1.0, task.id
    onsets_s, onsets_t = _onsets(source.audio), _onsets(target.audio)
    assert len(onsets_s) == len(onsets_t) and np.abs(onsets_s - onsets_t).max() <= 0.010, task.id
    if "kind" not in task.changed:
        np.testing.assert_array_equal(source.audio, target.audio)
    if not task.changed:
        np.testing.assert_array_equal(source.frames, target.frames)
    else:
        assert not np.array_equal(source.frames, target.frames)


def test_task_targets_keep_motion_and_impacts():
    tasks = task_set(duration=2.0)
    for edit_type in EDIT_TYPES:
        for task in [task for task in tasks if task.edit_type == edit_type][:2]:
            _check_task_ground_truth(task)


def test_task_set_is_fixed_and_covers_edit_types():
    tasks = task_set()
    assert len(tasks) >= 110 and len(EDIT_TYPES) >= 8
    assert {task.edit_type for task in tasks} == set(EDIT_TYPES)
    assert tasks == task_set() and tasks != task_set(seed=1)
    assert len({task.id for task in tasks}) == len(tasks)
    for task in tasks:
        for name in ("kind", "colour", "background"):
            changed = getattr(task.source, name) != getattr(task.target, name)
            assert changed == (name in task.changed), (task.id, name)
        assert task.source.seed == task.target.seed
        for scene, prompt in ((task.source, task.source_prompt), (task.target, task.target_prompt)):
            assert parse_caption(prompt) == (scene.colour, scene.kind, scene.background)
