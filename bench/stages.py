"""Per-stage cost and the pipeline's end-to-end rate against detection alone, in one run.

The models are compute-equivalent stand-ins with random weights, built and saved here and
loaded through the same `from_pretrained` path as real ones: DETR with a ResNet-50 backbone
(the `facebook/detr-resnet-50` architecture) and CLIP ViT-B/32. Real weights cannot be
downloaded on the development machines; speed does not depend on the weights' values.

    .venv/bin/python -m bench.stages [--images 16] [--size 800] [--device cpu|cuda] [--batch 1]
                                     [--no-pipeline]

On a GPU machine: `--device cuda --batch 32 --images 256 --no-pipeline` (bf16 autocast is on
for CUDA in the detector and the embedder).
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def build_models(folder: Path) -> tuple[Path, Path]:
    from transformers import CLIPConfig, CLIPModel, DetrConfig, DetrForObjectDetection, ResNetConfig

    from core.labels import COCO_LABELS
    from tests.support.models import build_tiny_clip, build_tiny_detr

    torch.manual_seed(0)
    detr_dir, clip_dir = folder / "detr-r50", folder / "clip-b32"
    build_tiny_detr(detr_dir)  # its processor and layout; the weights are replaced below
    backbone = ResNetConfig(
        depths=[3, 4, 6, 3], hidden_sizes=[256, 512, 1024, 2048], layer_type="bottleneck", out_features=["stage4"]
    )
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=backbone,
        id2label=COCO_LABELS,
        label2id={v: k for k, v in COCO_LABELS.items()},
    )
    DetrForObjectDetection(config).save_pretrained(detr_dir)
    build_tiny_clip(clip_dir)  # its tokenizer and processor; a full-size model replaces the tiny one
    processor_config = clip_dir / "preprocessor_config.json"
    text = processor_config.read_text().replace('"height": 32', '"height": 224').replace('"width": 32', '"width": 224')
    processor_config.write_text(text.replace('"shortest_edge": 32', '"shortest_edge": 224'))
    tiny = CLIPConfig.from_pretrained(clip_dir)
    full = CLIPConfig(
        text_config={
            "vocab_size": tiny.text_config.vocab_size,
            "eos_token_id": 1,
            "bos_token_id": 0,
            "pad_token_id": 1,
        },
        vision_config={},
    )
    CLIPModel(full).save_pretrained(clip_dir)
    return detr_dir, clip_dir


def photos(n: int) -> list[bytes]:
    """Unsplash-sized (1080 px wide) JPEGs from the photos scikit-learn ships."""
    from sklearn.datasets import load_sample_image

    base = [Image.fromarray(load_sample_image(name)).resize((1080, 720)) for name in ("china.jpg", "flower.jpg")]
    out = []
    for i in range(n):
        im = base[i % 2].rotate(i * 7 % 360, expand=False) if i >= 2 else base[i % 2]
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def median_ms(fn, items) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def stage_costs(data: list[bytes], detector, embedder, batch: int) -> dict[str, float]:
    from core import exif, images
    from streams.enrich import colors

    detect_side = round(detector.size * 1333 / 800)
    decoded = [images.decode_rgb(d, detect_side) for d in data]
    costs = {
        "exif": median_ms(exif.extract, data),
        "decode for detection": median_ms(lambda d: images.decode_rgb(d, detect_side), data),
        "colours + thumbnail": median_ms(
            lambda d: (lambda im: (colors.dominant_colors(im), images.jpeg_thumbnail(im, images.THUMB_SIDE)))(
                images.decode_rgb(d, images.THUMB_SIDE)
            ),
            data,
        ),
        "clip embedding": median_ms(lambda d: embedder.embed_images([images.decode_rgb(d, images.THUMB_SIDE)]), data),
    }
    detector.detect(decoded[:1])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(decoded), batch):
        detector.detect(decoded[i : i + batch])
    costs[f"detection (batch {batch})"] = (time.perf_counter() - started) * 1000 / len(decoded)
    if detector.device.type == "cpu":  # the CPU has AVX-512 BF16: is autocast worth it here?
        fp32 = [set(detector.detect([im])[0]) for im in decoded]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            started = time.perf_counter()
            bf16 = [set(detector.detect([im])[0]) for im in decoded]
            costs["detection bf16 autocast"] = (time.perf_counter() - started) * 1000 / len(decoded)
        costs["bf16 same labels (% images)"] = 100 * sum(a == b for a, b in zip(fp32, bf16)) / len(decoded)
    return costs


def detection_alone_rate(data: list[bytes], detector) -> float:
    from core import images

    side = round(detector.size * 1333 / 800)
    started = time.perf_counter()
    for d in data:
        detector.detect([images.decode_rgb(d, side)])
    return len(data) / (time.perf_counter() - started)


def pipeline_rate(data: list[bytes], detr: Path, clip: Path, size: int, workdir: Path) -> float:
    import httpx

    from core.settings import Settings
    from viewfinder.embedded.process import free_port
    from viewfinder.stack import Stack

    stack = Stack(
        Settings.from_env({}).replace(
            data_dir=workdir / "stack",
            port=free_port(),
            detr_model=str(detr),
            detr_size=size,
            clip_model=str(clip),
            clip_dim=512,
            detr_threshold=0.5,
            broker_session_timeout=6.0,
        )
    )
    settings = stack.start()
    try:
        with httpx.Client(base_url=settings.gateway_url, timeout=120) as client:
            # Warm-up: the worker loads both models on its first image.
            warm = client.post("/gather/uploads", files=[("files", ("warm.jpg", data[0] + b"\0", "image/jpeg"))])
            wait_enriched(client, warm.json()["ids"])
            started = time.perf_counter()
            ids = client.post(
                "/gather/uploads", files=[("files", (f"{i}.jpg", d, "image/jpeg")) for i, d in enumerate(data[1:], 1)]
            ).json()["ids"]
            wait_enriched(client, ids)
            return len(ids) / (time.perf_counter() - started)
    finally:
        stack.stop()


def wait_enriched(client, ids, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while any(client.get(f"/images/{i}").json()["status"] == "arrived" for i in ids):
        if time.monotonic() > deadline:
            raise TimeoutError("pipeline did not finish")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=800, help="detector short side")
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-pipeline", action="store_true", help="skip the end-to-end run")
    args = parser.parse_args()

    from inference.clip import ImageEmbedder
    from inference.detection import Detector

    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
    workdir.chmod(0o755)
    detr, clip = build_models(workdir / "models")
    detector = Detector(str(detr), threshold=0.5, size=args.size, device=args.device)
    embedder = ImageEmbedder(str(clip), device=args.device)
    data = photos(args.images)
    print(
        f"device {detector.device}, torch threads {torch.get_num_threads()}, {len(data)} images of 1080x720, "
        f"detector short side {args.size}"
    )
    for stage, ms in stage_costs(data, detector, embedder, args.batch).items():
        print(f"  {stage:<28} {ms:8.1f}" + ("" if stage.startswith("bf16 same") else " ms/image"))
    if args.no_pipeline:
        return
    alone = detection_alone_rate(data[1:], detector)
    del detector, embedder
    whole = pipeline_rate(data, detr, clip, args.size, workdir)
    print(f"detection alone:  {alone:.2f} images/s")
    print(f"whole pipeline:   {whole:.2f} images/s  ({100 * whole / alone:.0f}% of detection alone)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
