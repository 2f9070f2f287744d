"""Small models and tokenizers built in code: tokenizers from in-memory vocabularies (no download), CLIP/CLAP/T5
text encoders, GPT-2, the AudioLDM2 projection and the two priors' schedulers. The trained ToyWorld priors
(aved/toyworld/models.py) and the tiny random test pipelines (aved/priors/tiny.py) are both made of these.
"""

from __future__ import annotations

import string

import torch
from diffusers import AudioLDM2ProjectionModel, DDIMScheduler
from transformers import (
    ClapAudioConfig,
    ClapConfig,
    ClapModel,
    ClapTextConfig,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    RobertaTokenizer,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)


def _common_words() -> tuple[str, ...]:
    """Return the few whole words the tiny tokenizers know as single pieces."""
    return tuple(
        "a an the of and in on with cat dog meowing barking playing piano guitar man woman speaking car"
        " engine photo music".split()
    )


def _byte_alphabet() -> list[str]:
    """Return the 256 printable characters that byte-level BPE uses for the raw bytes, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return [mapping[byte] for byte in range(256)]


def _word_merges(symbol_lists: list[list[str]]) -> list[tuple[str, str]]:
    """Return left-to-right BPE merges (deduplicated, in order) that glue each symbol list into one token."""
    merges: list[tuple[str, str]] = []
    for symbols in symbol_lists:
        joined = symbols[0]
        for symbol in symbols[1:]:
            if (joined, symbol) not in merges:
                merges.append((joined, symbol))
            joined += symbol
    return merges


def _add_merged_tokens(vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    """Append the result of every merge to the vocabulary (in place, keeping ids contiguous)."""
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))


def tiny_clip_tokenizer(words: tuple[str, ...] | None = None, max_length: int = 77) -> CLIPTokenizer:
    """Build an SD-2 style CLIP byte-level BPE tokenizer in memory (pad token "!") knowing `words` whole."""
    alphabet = _byte_alphabet()
    vocab = {char: index for index, char in enumerate(alphabet)}
    vocab.update({char + "</w>": len(alphabet) + index for index, char in enumerate(alphabet)})
    words = _common_words() if words is None else words
    merges = _word_merges([[*word[:-1], word[-1] + "</w>"] for word in words if len(word) > 1])
    _add_merged_tokens(vocab, merges)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, pad_token="!", model_max_length=max_length)


def tiny_roberta_tokenizer() -> RobertaTokenizer:
    """Build a RoBERTa byte-level BPE tokenizer (CLAP's) in memory with "Ġ"-prefixed pieces, 77 tokens."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in _byte_alphabet():
        vocab[char] = len(vocab)
    letters = [["Ġ", char] for char in string.ascii_lowercase + string.digits]
    merges = _word_merges(letters + [["Ġ", *word] for word in _common_words()])
    _add_merged_tokens(vocab, merges)
    vocab["<mask>"] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def tiny_t5_tokenizer(words: tuple[str, ...] | None = None, max_length: int = 128) -> T5Tokenizer:
    """Build a T5 unigram tokenizer in memory (characters, "▁"-prefixed letters and whole `words`)."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    pieces += [(char, -6.0) for char in string.ascii_letters + string.digits + string.punctuation]
    pieces += [("▁" + char, -5.0) for char in string.ascii_lowercase + string.digits]
    words = _common_words() if words is None else words
    pieces += [("▁" + word, -2.0) for word in words if len(word) > 1]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def tiny_clip_text_encoder(tokenizer: CLIPTokenizer) -> CLIPTextModel:
    """Build a 2-layer, 32-d CLIP text encoder whose special ids and length match the tokenizer."""
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=tokenizer.model_max_length,
        projection_dim=32,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config).eval()


def sd_scheduler(prediction_type: str = "epsilon") -> DDIMScheduler:
    """Return the SD-2.1 DDIM scheduler configuration."""
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type=prediction_type,
        num_train_timesteps=1000,
    )


def tiny_clap_text_encoder(tokenizer: RobertaTokenizer) -> ClapModel:
    """Build a tiny CLAP model (16-d text branch and projection, small HTSAT audio branch)."""
    torch.manual_seed(0)
    text_config = ClapTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=2,
        num_hidden_layers=2,
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    audio_config = ClapAudioConfig(
        spec_size=256,
        window_size=8,
        num_mel_bins=64,
        patch_size=4,
        patch_stride=(4, 4),
        depths=(1, 1),
        num_attention_heads=(2, 2),
        patch_embeds_hidden_size=16,
        patch_embed_input_channels=4,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        layer_norm_eps=1e-5,
    )
    config = ClapConfig(text_config=text_config, audio_config=audio_config, projection_dim=16)
    return ClapModel(config).eval()


def tiny_t5_encoder(tokenizer: T5Tokenizer) -> T5EncoderModel:
    """Build a 2-layer, 32-d T5 encoder sized to the tokenizer."""
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=37,
        d_kv=8,
        num_heads=2,
        num_layers=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5EncoderModel(config).eval()


def tiny_gpt2(vocab_size: int = 64, max_new_tokens: int = 8, n_positions: int = 141) -> GPT2LMHeadModel:
    """Build the 16-d, 2-layer GPT-2 that generates ``max_new_tokens`` prompt embeddings.

    The language model sees [sos, CLAP, eos, sos, T5 (up to 128 tokens), eos] plus the generated tokens, so
    ``n_positions`` must be at least 128 + 5 + 8 = 141 (diffusers' fast test uses 99, which crashes with an
    index error once a prompt reaches ~86 T5 tokens).
    """
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_embd=16,
        n_head=2,
        n_layer=2,
        n_positions=n_positions,
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
    )
    config.max_new_tokens = max_new_tokens
    return GPT2LMHeadModel(config).eval()


def tiny_projection() -> AudioLDM2ProjectionModel:
    """Build the projection from CLAP (16-d) and T5 (32-d) into the GPT-2 (16-d) space."""
    torch.manual_seed(0)
    return AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16).eval()


def audioldm2_scheduler() -> DDIMScheduler:
    """Return the AudioLDM2 DDIM scheduler configuration."""
    return DDIMScheduler(
        beta_start=0.0015,
        beta_end=0.0195,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        num_train_timesteps=1000,
    )
