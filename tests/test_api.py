"""`aved.edit`: a loaded diffusers pipeline as a prior, a step callback that stops the edit, the checkpoints'
revisions in the result, and the mode registry it dispatches on."""

import numpy as np
import pytest
import torch

from aved.api import edit
from aved.codec import PreparedClip
from aved.config import EditConfig, apply_overrides
from aved.modes import MODES
from aved.priors.base import hub_revision

SMALL = {"steps": 3, "media.frame_size": 32, "media.duration": 2.0, "media.mel.duration": 2.56, "media.fps": 4.0}
PROMPTS = {"prompts.source": "a red ball bouncing", "prompts.target": "a blue bell ringing"}


def _source() -> PreparedClip:
    rng = np.random.default_rng(0)
    audio = np.zeros(32000, dtype=np.float32)
    audio[::4000] = 1.0
    return PreparedClip(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), 4.0, audio, 16000)


def _config(mode: str = "aved", **overrides) -> EditConfig:
    return apply_overrides(EditConfig(), {**SMALL, **PROMPTS, "mode": mode, **overrides})


def test_a_loaded_pipeline_edits_as_its_prior_does(video_prior, audio_prior):
    wrapped = edit(_source(), config=_config(), video_prior=video_prior, audio_prior=audio_prior, progress=False)
    raw = edit(
        _source(), config=_config(), video_prior=video_prior.pipeline, audio_prior=audio_prior.pipeline, progress=False
    )
    assert torch.equal(wrapped.z_video, raw.z_video) and torch.equal(wrapped.z_audio, raw.z_audio)
    assert raw.models["video"]["id"] == video_prior.model_id  # named by the folder it was loaded from


def test_a_prior_of_the_wrong_kind_is_refused(video_prior, audio_prior):
    from aved.errors import AvedError

    with pytest.raises(AvedError, match="StableDiffusionPrior or a loaded StableDiffusionPipeline"):
        edit(_source(), config=_config(), video_prior=audio_prior.pipeline, audio_prior=audio_prior, progress=False)


def test_the_step_callback_sees_every_step_and_may_stop_the_edit(video_prior, audio_prior):
    seen = []

    def stop_after_two(step, record):
        seen.append((step, sorted(record)))
        return step == 1

    result = edit(
        _source(),
        config=_config(steps=10),
        video_prior=video_prior,
        audio_prior=audio_prior,
        callback_on_step_end=stop_after_two,
        progress=False,
    )
    assert [s for s, _ in seen] == [0, 1] and "dds_v" in seen[0][1]
    assert len(result.history["dds_v"]) == 2  # the result holds the steps done
    full = edit(_source(), config=_config(steps=2), video_prior=video_prior, audio_prior=audio_prior, progress=False)
    assert torch.equal(full.z_video, result.z_video)  # stopping at step 2 of 10 = an edit of 2 steps (random t)


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_loads_and_edits_what_the_registry_says(name, video_prior, audio_prior):
    mode = MODES[name]
    result = edit(_source(), config=_config(name, steps=1), video_prior=video_prior, audio_prior=audio_prior,
                  progress=False)  # fmt: skip
    assert (result.z_video is not None) == mode.video and (result.z_audio is not None) == mode.audio
    assert set(result.models) == {m for m, on in (("video", mode.video), ("audio", mode.audio)) if on}
    if mode.engine == "sdedit":
        assert result.history == {}  # sampled, not optimised


def test_the_sdedit_engine_calls_back_after_every_ddim_step_and_stops_when_asked(video_prior, audio_prior):
    seen = []

    def stop_at_second(step, record):
        seen.append(step)
        return step == 1

    config = _config("sdedit", steps=4, sdedit_strength=1.0)
    edit(_source(), config=config, video_prior=video_prior, audio_prior=audio_prior,
         callback_on_step_end=stop_at_second, progress=False)  # fmt: skip
    assert seen == [0, 1, 0, 1]  # the frames' pass stopped at its second step, then the sound's


def test_the_hub_revision_is_the_cached_snapshot(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--a-model"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert hub_revision("someone/a-model") == commit
    assert hub_revision("someone/not-cached") is None
    assert hub_revision(str(tmp_path)) is None  # a local folder has no hub revision
