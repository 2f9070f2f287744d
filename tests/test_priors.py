"""The priors against the diffusers pipelines they wrap: same UNet calls, ε from v, frozen weights, VAE shapes."""

import pytest
import torch
from diffusers import AudioLDM2Pipeline, StableDiffusionPipeline

from aved.errors import AvedError
from aved.priors import AudioLDM2Prior, StableDiffusionPrior, v_to_eps


def _record_unet_call(pipe):
    """Capture (sample, timestep, output) of the first UNet call a pipeline makes."""
    calls = []

    def hook(module, args, kwargs, output):
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        calls.append((sample.detach().clone(), timestep, output[0].detach().clone()))

    return calls, pipe.unet.register_forward_hook(hook, with_kwargs=True)


def test_sd_predict_noise_equals_the_pipelines_unet_call(tiny_models, video_prior):
    pipe = StableDiffusionPipeline.from_pretrained(tiny_models["sd"], use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    calls, handle = _record_unet_call(pipe)
    prompt = "a dog barking on the grass"
    pipe(
        prompt,
        num_inference_steps=1,
        guidance_scale=1.0,
        height=64,
        width=64,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    )
    handle.remove()
    sample, t, expected = calls[0]
    ours = video_prior.predict_noise(sample, t, video_prior.encode_text([prompt]))
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_audioldm2_predict_noise_equals_the_pipelines_unet_call(tiny_models, audio_prior):
    pipe = AudioLDM2Pipeline.from_pretrained(tiny_models["audioldm2"], use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    calls, handle = _record_unet_call(pipe)
    prompt = "a cat meowing loudly"
    pipe(
        prompt,
        num_inference_steps=1,
        guidance_scale=1.0,
        audio_length_in_s=0.64,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    )
    handle.remove()
    sample, t, expected = calls[0]
    ours = audio_prior.predict_noise(sample, t, audio_prior.encode_text([prompt]))
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_audioldm2_batched_prompts_share_length_and_keep_predictions(audio_prior):
    prompts = ["", "a cat", "a dog barking very loudly in a large hall"]
    cond = audio_prior.encode_text(prompts)
    lengths = {v.shape[1] for k, v in cond.unet_kwargs.items() if k != "encoder_hidden_states"}
    assert len(lengths) == 1
    z = torch.randn(1, 8, 32, 16, generator=torch.Generator().manual_seed(1))
    for row, prompt in enumerate(prompts[1:], start=1):
        alone = audio_prior.predict_noise(z, 400, audio_prior.encode_text([prompt]))
        batched = audio_prior.predict_noise(z, 400, cond.take([row]))
        torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)  # padding is masked out


def test_v_prediction_is_converted_to_epsilon(tmp_path):
    from aved.priors.tiny import write_tiny_models

    folders = write_tiny_models(tmp_path, prediction_type="v_prediction")
    prior = StableDiffusionPrior.from_pretrained(str(folders["sd"]))
    assert prior.prediction_type == "v_prediction"
    z_t = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([100, 900])
    cond = prior.encode_text(["a cat", "a dog"])
    v = prior.unet(z_t, t, encoder_hidden_states=cond.unet_kwargs["encoder_hidden_states"]).sample
    alpha_bar = prior.pipeline.scheduler.alphas_cumprod[t].view(2, 1, 1, 1)
    expected = alpha_bar.sqrt() * v + (1 - alpha_bar).sqrt() * z_t
    torch.testing.assert_close(prior.predict_noise(z_t, t, cond), expected)
    # The conversion is the inverse of the v-target v = α·ε − σ·x0 with z_t = α·x0 + σ·ε.
    x0, eps = torch.randn(2, 4), torch.randn(2, 4)
    a = torch.tensor([[0.3], [0.9]])
    torch.testing.assert_close(
        v_to_eps(a.sqrt() * eps - (1 - a).sqrt() * x0, a.sqrt() * x0 + (1 - a).sqrt() * eps, a), eps
    )


def test_weights_are_frozen(video_prior, audio_prior):
    for prior in (video_prior, audio_prior):
        for name, module in prior.pipeline.components.items():
            if isinstance(module, torch.nn.Module):
                assert not any(p.requires_grad for p in module.parameters()), name


def test_vae_round_trips_keep_shapes(video_prior, audio_prior):
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    z = video_prior.encode(x)
    assert z.shape == (2, 4, 16, 16)
    assert video_prior.decode(z).shape == x.shape
    mel = torch.randn(1, 1, 256, 64)
    z_a = audio_prior.encode(mel)
    assert z_a.shape == (1, 8, 64, 16)
    assert audio_prior.decode(z_a).shape == mel.shape
    assert audio_prior.mel_to_waveform(audio_prior.decode(z_a)).shape == (1, 256 * 160)


def test_relevance_layers_are_text_cross_attention(video_prior, audio_prior):
    for prior in (video_prior, audio_prior):
        layers = prior.relevance_layers()
        assert layers and set(layers) <= set(prior.attention_layers())
        assert all(".attn2." in name for name in layers)
    # AudioLDM2: every third transformer of a block reads the T5 stream (the others self-attend or read GPT-2).
    assert all(int(n.split(".attentions.")[1].split(".")[0]) % 3 == 2 for n in audio_prior.relevance_layers())


def test_token_positions_map_words_to_tokens(video_prior, audio_prior):
    for prior in (video_prior, audio_prior):
        spans = prior.token_positions("A cat, meowing")
        assert [w for w, _ in spans] == ["a", "cat", "meowing"]
        positions = [p for _, ps in spans for p in ps]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)


@pytest.mark.parametrize("cls", [StableDiffusionPrior, AudioLDM2Prior])
def test_missing_checkpoint_names_it_and_how_to_get_it(cls, tmp_path):
    for model_id in ["someone/not-a-real-model-xyz", str(tmp_path / "nothing-here")]:
        with pytest.raises(AvedError) as err:
            cls.from_pretrained(model_id)
        message = str(err.value)
        assert model_id in message and "download" in message and "\n" not in message
