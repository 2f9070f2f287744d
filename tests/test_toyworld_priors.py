"""The ToyWorld priors: architecture contracts, training pieces, the sound decoders and the shipped weights."""

import numpy as np
import pytest
import torch

from aved.config import TOYWORLD_WEIGHTS, MelConfig
from aved.toyworld import models

SHIPPED = (TOYWORLD_WEIGHTS / "video" / "model_index.json").exists()
needs_weights = pytest.mark.skipif(not SHIPPED, reason="aved/toyworld/weights not trained yet")


@pytest.fixture(scope="module")
def fresh_priors(tmp_path_factory):
    """Untrained ToyWorld pipelines saved and loaded back through the priors' from_pretrained."""
    from aved.priors import AudioLDM2Prior, StableDiffusionPrior

    folder = tmp_path_factory.mktemp("toyworld")
    models.video_pipeline(0).save_pretrained(folder / "video")
    models.audio_pipeline(0).save_pretrained(folder / "audio")
    return (
        StableDiffusionPrior.from_pretrained(str(folder / "video")),
        AudioLDM2Prior.from_pretrained(str(folder / "audio")),
    )


def test_every_caption_word_is_one_token_at_its_own_position(fresh_priors):
    from aved.toyworld.scene import BACKGROUNDS, COLOURS, KINDS, Scene, caption

    video, audio = fresh_priors
    for background in BACKGROUNDS:
        for kind in KINDS:
            for colour in COLOURS:
                text = caption(Scene(background=background, kind=kind, colour=colour))
                words = text.split()
                for prior in (video, audio):
                    positions = prior.token_positions(text)
                    assert [w for w, _ in positions] == words
                    assert all(len(p) == 1 for _, p in positions)


def test_sound_prior_decodes_with_its_vocoder_or_griffin_lim(fresh_priors, tmp_path):
    from aved.priors import AudioLDM2Prior

    _, audio = fresh_priors
    mel = torch.full((1, 1, 200, 64), -11.5)
    assert audio.pipeline.vocoder is None  # saved without one: Griffin-Lim
    assert audio.sample_rate == MelConfig().sample_rate
    assert audio.mel_to_waveform(mel).shape == (1, 200 * MelConfig().hop_length)
    pipeline = models.audio_pipeline(0)
    pipeline.register_modules(vocoder=models.audio_vocoder(MelConfig()))
    pipeline.save_pretrained(tmp_path / "audio")
    neural = AudioLDM2Prior.from_pretrained(str(tmp_path / "audio"))
    assert type(neural.pipeline.vocoder).__name__ == "SpeechT5HifiGan"
    assert neural.mel_to_waveform(mel).shape == (1, 200 * MelConfig().hop_length)  # one hop per frame
    iterative = AudioLDM2Prior.from_pretrained(str(tmp_path / "audio"), vocoder="griffin-lim")
    assert iterative.pipeline.vocoder is None


def test_model_vocoder_is_validated():
    from aved.config import EditConfig
    from aved.errors import AvedError

    config = EditConfig()
    config.model.vocoder = "wavenet"
    with pytest.raises(AvedError, match="model.vocoder"):
        config.validate()


def test_vocoder_training_lowers_its_loss_and_only_vocoder_keeps_the_rest(tmp_path):
    """`--only vocoder` rewrites audio/vocoder, the index and the card; every other weight stays bit for bit."""
    import shutil

    from aved.toyworld.card import write_vocoder
    from aved.toyworld.train import PhaseConfig, TrainConfig, train_vocoder_only

    weights = tmp_path / "weights"
    models.audio_pipeline(0).save_pretrained(weights / "audio")
    (weights / "MODEL_CARD.md").write_text(
        "# card\n\nNo vocoder: the prior turns mels into sound with Griffin-Lim "
        "(32 iterations).\n\n## What they draw\n\nsamples\n"
    )
    (weights / "train_config.json").write_text('{"config": {}, "seconds": {}, "scores": {}}')
    before = {p.relative_to(weights): p.read_bytes() for p in weights.rglob("*.safetensors")}
    cfg = TrainConfig(clips=4, vocoder=PhaseConfig(steps=40, batch=4, lr=1e-3, warmup=5))
    result = train_vocoder_only(str(weights / "audio"), cfg, progress=False, log=lambda _: None)
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10])
    write_vocoder(result, weights)
    after = {p.relative_to(weights): p.read_bytes() for p in weights.rglob("*.safetensors")}
    assert {k: v for k, v in after.items() if k.parts[1] != "vocoder"} == before
    assert any(k.parts[1] == "vocoder" for k in after)
    card = (weights / "MODEL_CARD.md").read_text()
    assert card.index("## The vocoder") < card.index("## What they draw") and "Griffin-Lim (32" not in card
    assert (weights / "loss_vocoder.png").stat().st_size > 0
    again = {p.relative_to(weights) for p in weights.rglob("*")}
    write_vocoder(result, weights)  # a second write replaces the section, it does not add one
    assert (weights / "MODEL_CARD.md").read_text().count("## The vocoder") == 1
    assert {p.relative_to(weights) for p in weights.rglob("*")} == again
    shutil.rmtree(weights)


def test_multi_resolution_stft_loss_is_zero_only_at_the_target():
    from aved.toyworld.train import multi_resolution_stft_loss

    rng = torch.Generator().manual_seed(0)
    target = torch.randn(2, 4096, generator=rng) * 0.1
    resolutions = ((256, 64), (64, 16))
    assert multi_resolution_stft_loss(target, target, resolutions).item() == pytest.approx(0.0, abs=1e-6)
    late = torch.roll(target, 32, dims=1)
    assert multi_resolution_stft_loss(late, target, resolutions) > multi_resolution_stft_loss(
        target * 0.9, target, resolutions
    )


def test_griffin_lim_keeps_the_spectrum_and_the_onset():
    from aved.media.mel import waveform_to_mel
    from aved.priors.audioldm2 import griffin_lim
    from aved.toyworld.scorers import onsets

    rate, config = 16000, MelConfig(duration=2.0)
    t = np.arange(2 * rate) / rate
    tone = np.where(t >= 0.7, np.sin(2 * np.pi * 1200 * t) * np.exp(-(t - 0.7) / 0.2), 0.0).astype(np.float32)
    mel, _ = waveform_to_mel(tone, rate, config)
    wave = griffin_lim(mel, config)[0].numpy()
    again, _ = waveform_to_mel(wave, rate, config)
    loud = mel > mel.max() - 6  # within 26 dB of the peak
    assert (again - mel)[loud].abs().mean() < 1.0  # ~4 dB: phase retrieval smears, it does not move energy
    assert again.mean(dim=2).argmax() == mel.mean(dim=2).argmax()  # same dominant mel band
    assert abs(onsets(wave, rate)[0] - 0.7) < 0.02


def test_training_conditions_equal_the_priors_inference_conditions(fresh_priors):
    """What the UNets were trained on is exactly what the editor feeds them."""
    from aved.toyworld.train import AudioCondition, video_condition

    video, audio = fresh_priors
    texts = ["a red ball bouncing on grass", "", "an orange bird bouncing in the blue sky"]
    with torch.no_grad():
        trained = video_condition(video.pipeline)(texts).unet_kwargs["encoder_hidden_states"]
        torch.testing.assert_close(trained, video.encode_text(texts).unet_kwargs["encoder_hidden_states"])
        trained = AudioCondition(audio.pipeline, texts)(texts).unet_kwargs
    expected = audio.encode_text(texts).unet_kwargs
    for key in expected:
        torch.testing.assert_close(trained[key].float(), expected[key].float(), atol=1e-6, rtol=1e-5)


def test_model_card_states_the_latent_shapes_the_vaes_produce(fresh_priors):
    from aved.toyworld.card import model_card
    from aved.toyworld.evaluate import PriorScores
    from aved.toyworld.train import TrainConfig, TrainResult

    video, audio = fresh_priors
    media = models.media_config()
    side = media.frame_size * media.grid
    with torch.no_grad():
        z_v = video.encode(torch.zeros(1, 3, side, side))
        z_a = audio.encode(torch.zeros(1, 1, media.mel.num_frames, media.mel.n_mels))
    phases = ("video_vae", "video_unet", "audio_vae", "audio_unet", "vocoder")
    scores = {
        "video": PriorScores({"colour": 0.5, "kind": 0.5, "background": 0.5}, ["p"], np.zeros(0)),
        "audio": PriorScores({"kind": 0.5, "has_events": 1.0}, ["p"], np.zeros(0)),
    }
    seconds = dict.fromkeys((*phases, "data", "samples"), 60.0)
    result = TrainResult(video.pipeline, audio.pipeline, dict.fromkeys(phases, [0.1]), seconds, scores, TrainConfig())
    card = model_card(result)
    assert "→ {}×{}×{} latents".format(*z_v.shape[1:]) in card
    assert "→ {}×{}×{} latents".format(*z_a.shape[1:]) in card
    from aved.toyworld.card import vocoder_section, with_vocoder_section

    rewritten = with_vocoder_section(card, vocoder_section(TrainConfig(), [0.2], 60.0, None))
    assert "| component | class | parameters |" in rewritten and rewritten.count("## The vocoder") == 1
    assert rewritten.index("## The vocoder") < rewritten.index("## What they draw")


def test_min_snr_weight_and_learning_rate_schedule():
    from aved.toyworld.train import PhaseConfig, lr_factor, min_snr_weight

    alpha_bar = torch.tensor([0.5, 0.9, 0.999])  # SNR 1, 9, 999
    torch.testing.assert_close(min_snr_weight(alpha_bar, 5.0), torch.tensor([1.0, 5 / 9, 5 / 999]))
    phase = PhaseConfig(steps=1000, batch=1, lr=1.0, warmup=100)
    assert lr_factor(0, phase) == pytest.approx(0.01)
    assert lr_factor(99, phase) == pytest.approx(1.0)
    assert lr_factor(100, phase) == pytest.approx(1.0)
    assert lr_factor(999, phase) == pytest.approx(0.1, abs=1e-4)


def test_vae_training_lowers_the_object_weighted_loss():
    from aved.media.frames import unpack_grids
    from aved.toyworld.data import training_set
    from aved.toyworld.train import PhaseConfig, TrainConfig, train_vae

    media = models.media_config()
    data = training_set(0, 2, media, progress=False)
    cells = lambda x: unpack_grids(x.flatten(0, 1), 2, 16)  # noqa: E731  (2 clips × 8 frames)
    vae = models.video_vae()
    cfg = TrainConfig()
    frames = cells(data.grids).float()

    def error() -> float:
        with torch.no_grad():
            return (vae(frames, sample_posterior=False).sample - frames).abs().mean().item()

    before = error()
    train_vae(
        vae,
        cells(data.grids),
        cells(data.masks),
        PhaseConfig(steps=60, batch=4, lr=2e-3, warmup=5),
        cfg,
        torch.Generator().manual_seed(0),
        "vae",
        progress=False,
    )
    assert error() < 0.93 * before  # 60 steps from random init: measured 0.89×
    assert vae.config.scaling_factor != 1.0  # set from the trained latents' spread


def test_training_data_masks_cover_exactly_the_object():
    from aved.toyworld.data import training_set

    media = models.media_config()
    data = training_set(3, 2, media, progress=False)
    share = data.masks.float().mean().item()
    assert 0.005 < share < 0.08  # the object covers a few percent of a frame
    assert data.grids.shape[1:] == (2, 3, 128, 128) and data.mels.shape[1:] == (1, media.mel.num_frames, 64)


# --------------------------------------------------------------------------------------- shipped weights
# The same seeded samples as MODEL_CARD.md's "What they draw" (16 captions, 2 samples each, seed 0); the bars
# sit just under what the card measured. Chance: 0.20 colour, 0.25 kind, 0.25 background, 0.25 sound kind.


@pytest.fixture(scope="module")
def shipped():
    from aved.config import ModelConfig
    from aved.priors.load import load_audio_prior, load_video_prior

    model = ModelConfig(video=str(TOYWORLD_WEIGHTS / "video"), audio=str(TOYWORLD_WEIGHTS / "audio"), device="cpu")
    return load_video_prior(model), load_audio_prior(model)


@needs_weights
def test_shipped_video_prior_draws_the_prompted_attributes(shipped):
    from aved.toyworld.evaluate import score_video_prior

    scores = score_video_prior(shipped[0], models.media_config(), count=16, seed=0).accuracy
    assert scores["background"] >= BARS["background"]
    assert scores["colour"] >= BARS["colour"]
    assert scores["kind"] >= BARS["kind"]


@needs_weights
def test_shipped_sound_prior_sounds_like_the_prompted_kind(shipped):
    from aved.toyworld.evaluate import score_audio_prior

    scores = score_audio_prior(shipped[1], models.media_config(), count=16, seed=0).accuracy
    assert scores["kind"] >= BARS["sound_kind"]
    assert scores["has_events"] >= BARS["has_events"]


@needs_weights
def test_shipped_vocoder_keeps_the_ground_truths_events(shipped):
    """The truth through the sound VAE and the vocoder: onsets on time, no event invented or lost (8 tasks)."""
    from aved.toyworld.evaluate import decoder_scores
    from aved.toyworld.tasks import task_set

    media = models.media_config()
    audio = shipped[1]
    assert type(audio.pipeline.vocoder).__name__ == "SpeechT5HifiGan"
    scores = decoder_scores(audio, audio.mel_to_waveform, task_set(seed=0, count=8, duration=media.span()), media)
    assert abs(scores["onset_bias_ms"]) <= BARS["onset_bias_ms"]
    assert scores["extra_events"] <= BARS["extra_events"] and scores["missing_events"] <= BARS["extra_events"]
    assert scores["kind_accuracy"] >= BARS["decoded_kind"]


BARS = {"background": 0.40, "colour": 0.95, "kind": 0.65, "sound_kind": 0.80, "has_events": 0.9}
BARS |= {"onset_bias_ms": 3.0, "extra_events": 0.2, "decoded_kind": 0.99}  # issue 14's targets for the decoder


def test_the_shipped_model_card_names_the_presets_edit_settings():
    """The card is written at training time; a preset changed since must be carried into the shipped card."""
    from aved.toyworld.card import edit_settings

    assert f"priors: {edit_settings()}." in (TOYWORLD_WEIGHTS / "MODEL_CARD.md").read_text().replace("\n", " ")
