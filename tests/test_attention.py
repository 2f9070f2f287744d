"""Capturing attention processors: same outputs as the fused default, right shapes, originals restored."""

import pytest
import torch

from aved.attention import AttentionStore, capture_attention, select_layers


def _unet_call(prior, z, t, cond):
    return prior.predict_noise(z, t, cond)


@pytest.mark.parametrize("which", ["video", "audio"])
def test_capture_keeps_outputs_and_records_what_was_asked(which, video_prior, audio_prior):
    prior = video_prior if which == "video" else audio_prior
    shape = (2, 4, 16, 16) if which == "video" else (2, 8, 32, 16)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    cond = prior.encode_text(["a cat meowing", "a dog barking"])
    reference = _unet_call(prior, z, 300, cond)
    original = prior.unet.attn_processors
    prob_layers = prior.relevance_layers()
    feature_layers = select_layers(prior.attention_layers(), "up_blocks.*.attn1")
    store = AttentionStore()
    with capture_attention(prior.unet, store, prob_layers, feature_layers):
        captured = _unet_call(prior, z, 300, cond)
    torch.testing.assert_close(captured, reference, rtol=1e-4, atol=1e-5)
    assert set(store.probs) == set(prob_layers) and set(store.features) == set(feature_layers)
    keys = cond.unet_kwargs.get("encoder_hidden_states_1", cond.unet_kwargs["encoder_hidden_states"]).shape[1]
    for probs in store.probs.values():
        assert probs.shape[0] == 2 and probs.shape[2] == keys
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:2]), rtol=1e-5, atol=1e-5)
    restored = prior.unet.attn_processors
    assert all(restored[name] is original[name] for name in original)


def test_masked_keys_get_no_probability(audio_prior):
    cond = audio_prior.encode_text(["a cat", "a dog barking very loudly in the hall"])
    mask = cond.unet_kwargs["encoder_attention_mask_1"]
    assert mask[0].sum() < mask[1].sum()  # the short prompt is padded
    store = AttentionStore()
    with capture_attention(audio_prior.unet, store, audio_prior.relevance_layers(), []):
        audio_prior.predict_noise(torch.randn(2, 8, 32, 16), 500, cond)
    for probs in store.probs.values():
        assert probs[0][:, mask[0] == 0].abs().max() < 1e-6


def test_features_keep_their_graph(video_prior):
    z = torch.randn(1, 4, 16, 16, requires_grad=True)
    layers = select_layers(video_prior.attention_layers(), "up_blocks.*.attn1")
    store = AttentionStore()
    with capture_attention(video_prior.unet, store, [], layers):
        video_prior.predict_noise(z, 500, video_prior.encode_text(["a cat"]))
    sum(f.sum() for f in store.features.values()).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in video_prior.unet.parameters())


def test_feature_recording_switches_off_without_reinstalling(video_prior):
    layers = select_layers(video_prior.attention_layers(), "up_blocks.*.attn1")
    store, cond = AttentionStore(), video_prior.encode_text(["a cat"])
    with capture_attention(video_prior.unet, store, video_prior.relevance_layers(), layers):
        installed = video_prior.unet.attn_processors
        store.record_features = False
        video_prior.predict_noise(torch.randn(1, 4, 16, 16), 500, cond)
        probs, features = store.take()
        assert not features and set(probs) == set(video_prior.relevance_layers())
        store.record_features = True
        video_prior.predict_noise(torch.randn(1, 4, 16, 16), 500, cond)
        assert set(store.take()[1]) == set(layers)
        assert all(video_prior.unet.attn_processors[n] is p for n, p in installed.items())


def test_unknown_layer_is_refused(video_prior):
    with pytest.raises(KeyError), capture_attention(video_prior.unet, AttentionStore(), ["nope.processor"], []):
        pass
