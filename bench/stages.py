"""Per-stage cost and the pipeline's end-to-end rate for each model runtime, in one run on the same photos.

The models are compute-equivalent stand-ins with random weights, built and saved here and
loaded through the same `from_pretrained` path as real ones: DETR with a ResNet-50 backbone
(the `facebook/detr-resnet-50` architecture) and CLIP ViT-B/32. Real weights cannot be
downloaded on the development machines; speed does not depend on the weights' values.

    .venv/bin/python -m bench.stages [--images 8] [--size 800] [--batch 1] [--no-pipeline]
                                     [--runtimes torch-f32,torch-bf16,openvino-f32,openvino-bf16]

For each runtime: milliseconds per image for DETR and CLIP (and the time to convert and compile),
the speed-up over PyTorch fp32, and how far the outputs stray from PyTorch fp32 (max relative
difference of logits and boxes, share of images with the same labels and counts at threshold 0,
i.e. every query's label). Then the CPU stages, the cost of a new DETR shape, and the
whole pipeline's images/s (upload → every stage → sinks, on the embedded stack, with the runtime
`auto` picks) against detection alone with the same runtime.

On a GPU machine: `--runtimes torch-f32,torch-bf16 --batch 32 --images 256 --no-pipeline`.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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


RUNTIMES = {
    "torch-f32": ("torch", "f32"),
    "torch-bf16": ("torch", "bf16"),
    "openvino-f32": ("openvino", "f32"),
    "openvino-bf16": ("openvino", "bf16"),
}


def plan_of(name: str, cache: Path):
    from inference.runtime import choose, native_bf16, usable_cpus

    runtime, precision = RUNTIMES[name]
    cuda = torch.cuda.is_available() and runtime == "torch"
    return choose(runtime, precision, cuda=cuda, bf16_native=native_bf16(), cpus=usable_cpus(), cache_dir=cache)


def timed(fn) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return (time.perf_counter() - started) * 1000, out


class Runtime:
    """One runtime's DETR and CLIP on the bench photos, prepared (converted, compiled, warmed) up front."""

    def __init__(self, name: str, detr: Path, clip: Path, size: int, batch: int, detect_in, clip_in, cache: Path):
        from inference.clip import ImageEmbedder
        from inference.detection import Detector, bucket_for

        plan = plan_of(name, cache)
        self.detector = Detector(str(detr), None, plan, threshold=0.0, size=size)
        self.embedder = ImageEmbedder(str(clip), None, plan)
        prepare_ms, _ = timed(lambda: (self.detector.warm_up(), self.embedder.session("clip-image")))
        self.prepare_s = prepare_ms / 1000
        self.session = self.detector.session("detr")
        self.ran = f"{self.session.runtime} {self.session.precision}"
        prepared = [self.detector.inputs(im) for im in detect_in]
        # The bench photos are all landscape 3:2: one bucket per batch.
        self.groups = [
            self.detector._padded(
                prepared[i : i + batch], bucket_for(prepared[i][0].shape[1], prepared[i][0].shape[2], size)
            )
            for i in range(0, len(prepared), batch)
        ]
        for group in self.groups[:1]:
            self.session.run(*group)
        # CLIP's preprocessing is the same whatever runs the model: timed apart, as DETR's is.
        self.clip_session = self.embedder.session("clip-image")
        self.pixels = [self.embedder._pixels([im]) for im in clip_in]
        self.clip_session.run(self.pixels[0])
        self.detr_ms: list[float] = []
        self.clip_ms: list[float] = []
        self.outputs: list = []
        self.vectors: list = []

    def step(self, group: int, image: int) -> None:
        from inference.clip import unit_lists

        ms, out = timed(lambda: self.session.run(*self.groups[group]))
        self.detr_ms.append(ms / len(self.groups[group][0]))
        self.outputs.append(out)
        ms, features = timed(lambda: self.clip_session.run(self.pixels[image])[0])
        self.clip_ms.append(ms)
        self.vectors.append(unit_lists(features)[0])

    def summary(self, detect_in) -> dict:
        from inference.detection import tags_from_outputs

        logits = np.concatenate([o[0] for o in self.outputs])
        boxes = np.concatenate([o[1] for o in self.outputs])
        tags = [
            tags_from_outputs(logits[i], boxes[i], 0.0, im.height, im.width, self.detector.id2label)
            for i, im in enumerate(detect_in)
        ]
        return {
            "ran": self.ran,
            "prepare s": self.prepare_s,
            "detr ms": statistics.median(self.detr_ms),
            "clip ms": statistics.median(self.clip_ms),
            "logits": logits,
            "boxes": boxes,
            "tags": tags,
            "vectors": np.array(self.vectors),
            "detector": self.detector,
            "embedder": self.embedder,
        }


def measure(names, detr, clip, size, batch, detect_in, clip_in, cache) -> dict[str, dict]:
    """Every runtime, interleaved image by image: a noisy neighbour slows them all alike, and the
    ratios stay fair. Medians of the per-image (per-batch) times."""
    runtimes = {}
    for name in names:
        runtimes[name] = Runtime(name, detr, clip, size, batch, detect_in, clip_in, cache)
        print(f"  prepared {name} ({runtimes[name].ran}) in {runtimes[name].prepare_s:.1f}s", flush=True)
    for group in range(len(runtimes[names[0]].groups)):
        for name in names:
            runtimes[name].step(group, min(group * batch, len(clip_in) - 1))
    return {name: r.summary(detect_in) for name, r in runtimes.items()}


def counts(tags: dict) -> dict:
    return {label: tag["count"] for label, tag in tags.items()}


def shape_change_ms(detector, size: int) -> tuple[float, float]:
    """A portrait photo after landscape ones: its first call (the bucket compiles) and the next."""
    from PIL import Image

    portrait = Image.new("RGB", (size, round(size * 1.5)), (90, 120, 150))
    first, _ = timed(lambda: detector.detect([portrait]))
    again, _ = timed(lambda: detector.detect([portrait]))
    return first, again


def cpu_stage_costs(data: list[bytes], size: int, detector, embedder) -> dict[str, float]:
    from core import exif, images
    from inference.detection import longest_side
    from streams.enrich import colors

    def median_ms(fn) -> float:
        return statistics.median(timed(lambda d=d: fn(d))[0] for d in data)

    return {
        "EXIF": median_ms(exif.extract),
        "decode for detection (draft)": median_ms(lambda d: images.decode_rgb(d, longest_side(size))),
        "DETR preprocessing": median_ms(lambda d: detector.inputs(images.decode_rgb(d, longest_side(size)))),
        "CLIP preprocessing": median_ms(lambda d: embedder._pixels([images.decode_rgb(d, images.THUMB_SIDE)])),
        "colours + thumbnail": median_ms(
            lambda d: (lambda im: (colors.dominant_colors(im), images.jpeg_thumbnail(im, images.THUMB_SIDE)))(
                images.decode_rgb(d, images.THUMB_SIDE)
            )
        ),
    }


def detection_alone_rate(data: list[bytes], detector) -> float:
    from core import images
    from inference.detection import longest_side

    side = longest_side(detector.size)
    started = time.perf_counter()
    for d in data:
        detector.detect([images.decode_rgb(d, side)])
    return len(data) / (time.perf_counter() - started)


def stack_settings_for(detr: Path, clip: Path, size: int, workdir: Path, cache: Path):
    from core.settings import Settings
    from viewfinder.embedded.process import free_port

    return Settings.from_env({}).replace(
        data_dir=workdir / "stack",
        port=free_port(),
        detr_model=str(detr),
        detr_size=size,
        clip_model=str(clip),
        clip_dim=512,
        detr_threshold=0.5,
        broker_session_timeout=6.0,
        model_cache=str(cache),
    )


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system, reaped children included) of each process group, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    by_group = dict.fromkeys(groups.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        group = int(fields[2])
        if group in by_group:
            by_group[group] += sum(int(f) for f in fields[11:15]) / tick
    return {name: by_group[group] for name, group in groups.items()}


def pipeline_rate(data: list[bytes], settings) -> tuple[float, float, float, dict[str, float]]:
    """Images/s end to end; images/s from the first image stored to the last; seconds to the
    first stored; each process's CPU milliseconds per image meanwhile."""
    import httpx

    from connectors.postgres import Database
    from viewfinder.stack import Stack

    stack = Stack(settings)
    settings = stack.start()
    try:
        headers = {"Authorization": f"Bearer {stack.admin_key}"}
        with httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=120) as client:
            # Warm-up: the worker loads both models (and compiles them) on its first image.
            warm = client.post("/gather/uploads", files=[("files", ("warm.jpg", data[0] + b"\0", "image/jpeg"))])
            warm.raise_for_status()
            wait_enriched(client, 1)
            # And the gateway's text models (tag semantics, CLIP's text side), which load in the background.
            client.get("/recommend/search", params={"q": "a dog on a beach"}).raise_for_status()
            groups = {p.name: p.pid for p in stack.processes if p.pid}
            cpu_before, own_before = cpu_seconds(groups), os.times()
            started = time.time()
            ids = client.post(
                "/gather/uploads", files=[("files", (f"{i}.jpg", d, "image/jpeg")) for i, d in enumerate(data[1:], 1)]
            ).json()["ids"]
            wait_enriched(client, 1 + len(ids))
            # The end as PostgreSQL saw it, so the status polls can be rare (each costs the stack CPU).
            db = Database(settings.database_url, maxconn=1)
            try:
                with db.cursor() as cur:
                    cur.execute(
                        "SELECT extract(epoch FROM enriched_at) AS t FROM images WHERE id = ANY(%s) ORDER BY 1", (ids,)
                    )
                    stored = [float(r["t"]) for r in cur.fetchall()]
                    elapsed = stored[-1] - started
            finally:
                db.close()
            cpu = {name: after - cpu_before[name] for name, after in cpu_seconds(groups).items()}
            own = os.times()
            cpu["this bench (uploads, status polls)"] = own.user + own.system - own_before.user - own_before.system
            cpu["wall × cores"] = elapsed * (os.cpu_count() or 1)
            cpu_ms = {name: 1000 * seconds / len(ids) for name, seconds in cpu.items()}
            # Once the first image is through, the rate a long run (the dataset's 25,000) keeps.
            steady = (len(stored) - 1) / (stored[-1] - stored[0])
            return len(ids) / elapsed, steady, stored[0] - started, cpu_ms
    finally:
        stack.stop()


def wait_enriched(client, count: int) -> None:
    """Until ``count`` images in all are enriched (or failed): one status request a poll."""
    from tests.support import poll

    def done() -> bool:
        status = client.get("/gather/status").json()["pipeline"]
        return status["enriched"] + status["failed"] >= count

    poll(done, 1800, interval=1.0, what="every image to be enriched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=800, help="detector short side")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated; the first is the reference")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the end-to-end run")
    parser.add_argument(
        "--pipeline-images", type=int, default=48, help="images streamed end to end (and detected alone), default 48"
    )
    args = parser.parse_args()
    names = args.runtimes.split(",")

    from core import images
    from inference.detection import longest_side
    from inference.runtime import plan_for
    from inference.sessions import relative_difference

    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
    workdir.chmod(0o755)
    cache = workdir / "converted"
    detr, clip = build_models(workdir / "models")
    data = photos(args.images)
    detect_in = [images.decode_rgb(d, longest_side(args.size)) for d in data]
    clip_in = [images.decode_rgb(d, images.THUMB_SIDE) for d in data]
    print(
        f"{len(data)} images of 1080x720, detector short side {args.size}, batch {args.batch}, {names[0]} the reference"
    )

    results = measure(names, detr, clip, args.size, args.batch, detect_in, clip_in, cache)
    ref = results[names[0]]
    print()
    print(
        "| runtime | prepare s | DETR ms/image | vs ref | logits, boxes: max rel. diff | same labels | "
        "CLIP ms/image | vs ref | vectors: max rel. diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        same = 100 * sum(counts(a) == counts(b) for a, b in zip(ref["tags"], r["tags"])) / len(data)
        logits, boxes = (relative_difference(ref[k], r[k]) for k in ("logits", "boxes"))
        cells = [
            f"{name} ({r['ran']})",
            f"{r['prepare s']:.1f}",
            f"{r['detr ms']:.0f}",
            f"{ref['detr ms'] / r['detr ms']:.2f}×",
            f"{logits:.1e}, {boxes:.1e}",
            f"{same:.0f} %",
            f"{r['clip ms']:.1f}",
            f"{ref['clip ms'] / r['clip ms']:.2f}×",
            f"{relative_difference(ref['vectors'], r['vectors']):.1e}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for name, r in results.items():
        if name.startswith("openvino"):
            first, again = shape_change_ms(r["detector"], args.size)
            print(f"new shape, {name}: first portrait photo {first:.0f} ms (compiles its bucket), next {again:.0f} ms")
    reference = results[names[0]]
    print("the other stages (decode and preprocessing included in the pipeline and in detection alone):")
    for stage, ms in cpu_stage_costs(data, args.size, reference["detector"], reference["embedder"]).items():
        print(f"  {stage:<30} {ms:8.1f} ms/image")
    if args.no_pipeline:
        return

    from core.settings import Settings
    from inference.detection import Detector
    from inference.prepare import prepare

    results.clear()
    # Detection alone exactly as the worker runs it (the runtime `auto` picks, threshold 0.5),
    # before and after the pipeline: the machine's noise shows as the spread of the two.
    auto = dataclasses.replace(plan_for(Settings.from_env({})), cache_dir=cache)
    detector = Detector(str(detr), None, auto, threshold=0.5, size=args.size)
    detector.warm_up()
    # Converted ahead, as `viewfinder models prepare` (or the Dockerfile) would: no conversion during the timing.
    stack_settings = stack_settings_for(detr, clip, args.size, workdir, cache)
    for _ in prepare(stack_settings, auto):
        pass
    stream = photos(args.pipeline_images + 1)
    before = detection_alone_rate(stream[1:], detector)
    whole, steady, first_s, cpu_ms = pipeline_rate(stream, stack_settings)
    after = detection_alone_rate(stream[1:], detector)
    alone = (before + after) / 2
    print(f"auto runtime: {auto.describe()}; {args.pipeline_images} images")
    print(f"detection alone (decode, preprocess, DETR): {before:.2f} before, {after:.2f} after: {alone:.2f} images/s")
    print(f"whole pipeline: {whole:.2f} images/s ({100 * whole / alone:.0f}% of detection alone)")
    print(
        f"  first image stored after {first_s:.1f} s; from then to the last: {steady:.2f} images/s "
        f"({100 * steady / alone:.0f}% of detection alone)"
    )
    print("CPU ms per image during the pipeline run, by process:")
    for name, ms in sorted(cpu_ms.items(), key=lambda item: -item[1]):
        print(f"  {name:<40} {ms:8.1f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
