"""Tiny random models for tests: real transformers code paths, built in seconds, no downloads."""

from __future__ import annotations

import pathlib

import torch
from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessorPil, ResNetConfig
from transformers.utils import logging as hf_logging

from core.labels import COCO_LABELS

hf_logging.disable_progress_bar()  # no "Writing model shards" bars in the test output


def build_tiny_detr(folder: pathlib.Path) -> pathlib.Path:
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    backbone = ResNetConfig(
        num_channels=3,
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        layer_type="basic",
        out_features=["stage2"],
    )
    # transformers 5 drops use_timm_backbone/use_pretrained_backbone after reading them; passing them keeps
    # 4.x from reaching for timm or downloading pretrained ResNet weights.
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=backbone,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=10,
        id2label=dict(COCO_LABELS),
    )
    torch.manual_seed(0)
    model = DetrForObjectDetection(config).eval()
    model.save_pretrained(folder)
    # The PIL backend: torchvision is deliberately not installed, and it saves the same processor config.
    DetrImageProcessorPil().save_pretrained(folder)
    return folder


def build_tiny_clip(folder: pathlib.Path) -> pathlib.Path:
    """A random CLIP (projection dim 16) with its PIL image processor and an offline byte-level tokenizer."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # No merges: every word splits into byte-level characters, the last one carrying CLIP's "</w>" suffix, so
    # the 256-character alphabet twice over covers any text without a download (or an unknown token).
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = ["<|startoftext|>", "<|endoftext|>"] + alphabet + [c + "</w>" for c in alphabet]
    vocab = {token: i for i, token in enumerate(tokens)}
    max_tokens = 32
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_tokens)
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": max_tokens,
            "bos_token_id": vocab["<|startoftext|>"],
            # The text model pools at the first eos token, so the id must be the tokenizer's.
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).eval().save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
