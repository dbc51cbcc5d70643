"""Tiny random models for tests: real transformers code paths, built in seconds, no downloads."""
from __future__ import annotations

import pathlib

import torch
from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessorPil, ResNetConfig

from streams.enrich.detect import COCO_LABELS


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
