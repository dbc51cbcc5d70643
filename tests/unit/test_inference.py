"""The model layer: where models run (pure choice), DETR's shape buckets and post-processing, and
OpenVINO against PyTorch on tiny random models: f32 within 1e-4, bf16 within its bound, the same tags."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys

import numpy as np
import pytest
import torch

from core.labels import COCO_LABELS
from inference import base, sessions
from inference.clip import ImageEmbedder
from inference.detection import Detector, bucket_for, buckets, longest_side, tags_from_outputs
from inference.runtime import BF16_BOUND, choose, native_bf16
from inference.semantics import default_model_path
from inference.sessions import relative_difference
from inference.text import TextEncoder
from tests.support.models import build_tiny_clip, build_tiny_detr
from tests.support.photos import gradient, sample_photo

F32_BOUND = 1e-4


def plan(tmp_path, runtime="openvino", precision="f32", **kw):
    return choose(runtime, precision, cuda=False, bf16_native=True, cpus=2, cache_dir=tmp_path / "cache", **kw)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return build_tiny_detr(root / "detr"), build_tiny_clip(root / "clip"), tmp_path_factory.mktemp("cache")


def photos():
    return [gradient(), sample_photo(), sample_photo().rotate(90, expand=True), gradient(40, 200)]


# -- the choice ------------------------------------------------------------------------------
def test_cpu_gets_openvino_and_bf16_only_where_native():
    native = choose(cuda=False, bf16_native=True, cpus=2)
    assert (native.runtime, native.device, native.precision, native.verify_bf16) == ("openvino", "cpu", "bf16", True)
    emulated = choose(cuda=False, bf16_native=False, cpus=2)
    assert (emulated.runtime, emulated.precision, emulated.verify_bf16) == ("openvino", "f32", False)
    assert choose("torch", "f32", cuda=False, bf16_native=True, cpus=2).runtime == "torch"
    assert choose("auto", "bf16", cuda=False, bf16_native=False, cpus=2).precision == "bf16"  # asked for: kept


def test_cuda_keeps_pytorch_with_bf16_autocast():
    gpu = choose(cuda=True, bf16_native=False, cpus=16)
    assert (gpu.runtime, gpu.device, gpu.precision) == ("torch", "cuda", "bf16")
    assert choose("auto", "f32", cuda=True, bf16_native=False, cpus=16).precision == "f32"
    assert choose("openvino", "auto", cuda=True, bf16_native=False, cpus=16).runtime == "openvino"


def test_threads_share_the_cores_among_processes():
    assert choose(cuda=False, bf16_native=False, cpus=2, processes=1).threads == 2
    assert choose(cuda=False, bf16_native=False, cpus=2, processes=2).threads == 1
    assert choose(cuda=False, bf16_native=False, cpus=2, processes=4).threads == 1
    assert choose(cuda=False, bf16_native=False, cpus=16, processes=3).threads == 5
    assert choose(cuda=False, bf16_native=False, cpus=16, processes=3, threads=2).threads == 2


def test_unknown_runtime_or_precision_is_refused():
    with pytest.raises(ValueError, match="runtime"):
        choose("onnx", cuda=False, bf16_native=False, cpus=2)
    with pytest.raises(ValueError, match="precision"):
        choose("auto", "fp8", cuda=False, bf16_native=False, cpus=2)


def test_native_bf16_reads_the_cpu_flags():
    assert native_bf16("processor : 0\nflags : fpu sse avx512f avx512_bf16 avx512_vnni\n")
    assert native_bf16("flags : fpu amx_bf16 amx_tile\n")
    assert not native_bf16("flags : fpu sse avx2 avx512f\n")
    assert not native_bf16("")


# -- DETR's buckets and post-processing -------------------------------------------------------
@pytest.mark.parametrize("size", [64, 128, 800])
def test_every_resized_image_fits_a_few_buckets(size):
    shapes = buckets(size)
    assert len(shapes) <= 8 and all(h % 32 == 0 and w % 32 == 0 for h, w in shapes)
    longest = longest_side(size)
    for ratio in (1.0, 1.2, 4 / 3, 1.5, 1.6, 16 / 9, 3.0, 10.0):
        long = min(round(size * ratio), longest)
        short = min(size, round(long / ratio))
        for h, w in ((short, long), (long, short)):
            bh, bw = bucket_for(h, w, size)
            assert (bh, bw) in shapes and bh >= h and bw >= w
            if short == size:  # photos within DETR's ratios lose little to padding
                assert bh * bw <= 1.34 * h * w


def test_unsplash_photos_land_in_the_three_to_two_bucket():
    assert bucket_for(800, 1200, 800) == (800, 1216)
    assert bucket_for(1200, 800, 800) == (1216, 800)
    with pytest.raises(ValueError):
        bucket_for(800, 2000, 800)


def test_post_processing_matches_transformers():
    from transformers.models.detr.image_processing_pil_detr import DetrImageProcessorPil
    from transformers.utils import ModelOutput

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (1, 20, 92)).astype(np.float32)
    boxes = rng.uniform(0.05, 0.95, (1, 20, 4)).astype(np.float32)
    threshold, height, width = 0.3, 480, 640
    ours = tags_from_outputs(logits[0], boxes[0], threshold, height, width, COCO_LABELS)
    out = ModelOutput(logits=torch.from_numpy(logits), pred_boxes=torch.from_numpy(boxes))
    theirs = DetrImageProcessorPil().post_process_object_detection(out, threshold, target_sizes=[(height, width)])[0]
    expected: dict = {}
    for i in sorted(range(len(theirs["scores"])), key=lambda j: -float(theirs["scores"][j])):
        label = COCO_LABELS[int(theirs["labels"][i])]
        if label == "N/A":
            continue
        box = [min(max(round(float(v)), 0), lim) for v, lim in zip(theirs["boxes"][i], (width, height) * 2)]
        tag = expected.setdefault(label, {"count": 0, "score": round(float(theirs["scores"][i]), 4), "boxes": []})
        tag["count"] += 1
        tag["boxes"].append(box)
    assert ours and ours == expected


# -- OpenVINO against PyTorch ----------------------------------------------------------------
def outputs(detector: Detector, images) -> list[list[np.ndarray]]:
    session = detector.session("detr")
    out = []
    for image in images:
        pixels, mask = detector.inputs(image)
        shape = bucket_for(pixels.shape[1], pixels.shape[2], detector.size)
        out.append(session.run(*detector._padded([(pixels, mask)], shape)))
    return out


@pytest.fixture(scope="module")
def detectors(folders):
    detr, _, cache = folders
    made = {}
    for runtime, precision in (("torch", "f32"), ("openvino", "f32"), ("openvino", "bf16")):
        p = choose(runtime, precision, cuda=False, bf16_native=True, cpus=2, cache_dir=cache)
        made[runtime, precision] = Detector(str(detr), None, p, threshold=0.0, size=64)
    return made


def test_openvino_f32_detr_matches_pytorch_and_gives_the_same_tags(detectors):
    reference, ov = detectors["torch", "f32"], detectors["openvino", "f32"]
    assert ov.session("detr").runtime == "openvino" and reference.session("detr").runtime == "torch"
    images = photos()
    for expected, got in zip(outputs(reference, images), outputs(ov, images)):
        for a, b in zip(expected, got):  # logits, boxes
            assert relative_difference(a, b) <= F32_BOUND
    tags = ov.detect(images)
    assert tags == reference.detect(images) and all(tags)


def test_openvino_bf16_detr_stays_within_its_bound(detectors):
    reference, bf16 = detectors["torch", "f32"], detectors["openvino", "bf16"]
    assert bf16.session("detr").precision == "bf16"
    differences = [
        relative_difference(a, b)
        for expected, got in zip(outputs(reference, photos()), outputs(bf16, photos()))
        for a, b in zip(expected, got)
    ]
    # bf16 keeps 8 bits of mantissa: it does differ, and by less than the bound `precision=auto` enforces.
    assert 1e-5 < max(differences) <= BF16_BOUND


def test_a_batch_of_mixed_shapes_equals_single_images(detectors):
    ov = detectors["openvino", "f32"]
    images = photos()
    assert ov.detect(images) == [ov.detect([im])[0] for im in images]


def test_clip_and_text_model_match_pytorch_at_f32(folders, tmp_path):
    _, clip, cache = folders
    images, texts = photos(), ["dog", "a red car on a street", "ünïcödé ✓"]
    torch_plan = choose("torch", "f32", cuda=False, bf16_native=True, cpus=2, cache_dir=cache)
    ov_plan = dataclasses.replace(torch_plan, runtime="openvino")
    reference, ov = ImageEmbedder(str(clip), None, torch_plan), ImageEmbedder(str(clip), None, ov_plan)
    assert relative_difference(np.array(reference.embed_images(images)), np.array(ov.embed_images(images))) <= F32_BOUND
    assert relative_difference(np.array(reference.embed_texts(texts)), np.array(ov.embed_texts(texts))) <= F32_BOUND
    assert ov.session("clip-image").runtime == ov.session("clip-text").runtime == "openvino"
    minilm = (str(default_model_path()), {"local_files_only": True})
    words = TextEncoder(*minilm, torch_plan).encode(texts)
    assert relative_difference(words, TextEncoder(*minilm, ov_plan).encode(texts)) <= F32_BOUND
    assert np.allclose(np.linalg.norm(words, axis=1), 1.0, atol=1e-5)


def test_threads_reach_the_compiled_model(folders, tmp_path):
    detr, _, cache = folders
    one = Detector(
        str(detr),
        None,
        choose("openvino", "f32", cuda=False, bf16_native=False, cpus=2, processes=2, cache_dir=cache),
        size=64,
    )
    one.warm_up()
    compiled = next(iter(one.session("detr")._compiled.values()))
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1


# -- the cache of converted models -----------------------------------------------------------
def test_converted_model_is_reused_and_a_corrupt_one_rebuilt(folders, tmp_path, caplog):
    detr, _, _ = folders
    p = plan(tmp_path)
    first = Detector(str(detr), None, p, threshold=0.0, size=64)
    expected = first.detect(photos())
    folder = first.session("detr").folder
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["key"]["graph"] == "detr" and meta["key"]["precision"] == "f32" and meta["key"]["weights"]["size"] == 64
    written = (folder / "model.xml").stat().st_mtime_ns

    caplog.set_level(logging.INFO, "viewfinder.inference")
    caplog.clear()
    again = Detector(str(detr), None, p, threshold=0.0, size=64)
    assert again.session("detr").folder == folder and (folder / "model.xml").stat().st_mtime_ns == written
    assert not [r for r in caplog.records if "converted" in r.getMessage()]

    weights = bytearray((folder / "model.bin").read_bytes())
    weights[len(weights) // 2] ^= 0xFF  # one flipped byte, same size
    (folder / "model.bin").write_bytes(bytes(weights))
    rebuilt = Detector(str(detr), None, p, threshold=0.0, size=64)
    assert rebuilt.detect(photos()) == expected
    assert any("unusable, rebuilding" in r.getMessage() for r in caplog.records)

    caplog.clear()
    (folder / "model.bin").write_bytes(b"\0" * 10)  # a truncated one
    assert Detector(str(detr), None, p, threshold=0.0, size=64).detect(photos()) == expected
    assert any("unusable, rebuilding" in r.getMessage() for r in caplog.records)

    other = Detector(str(detr), None, p, threshold=0.0, size=96)  # another input size: another entry
    assert other.session("detr").folder != folder


def test_broken_openvino_falls_back_to_pytorch_said_once(folders, tmp_path, monkeypatch, caplog):
    detr, clip, _ = folders
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    monkeypatch.setattr(sessions, "_said", set())
    caplog.set_level(logging.WARNING, "viewfinder.inference")
    p = plan(tmp_path)
    first = Detector(str(detr), None, p, threshold=0.0, size=64)
    second = Detector(str(detr), None, p, threshold=0.0, size=64)
    assert first.session("detr").runtime == second.session("detr").runtime == "torch"
    assert first.detect([gradient()]) == second.detect([gradient()]) != [{}]
    said = [r.getMessage() for r in caplog.records if "using PyTorch" in r.getMessage()]
    assert len(said) == 1 and "OpenVINO cannot run detr" in said[0]


def test_bf16_that_strays_past_the_bound_runs_in_f32(folders, tmp_path, monkeypatch):
    detr, _, _ = folders
    monkeypatch.setattr(sessions, "BF16_BOUND", 1e-9)
    auto = choose(cuda=False, bf16_native=True, cpus=2, cache_dir=tmp_path / "cache")
    assert auto.precision == "bf16" and auto.verify_bf16
    session = Detector(str(detr), None, auto, threshold=0.0, size=64).session("detr")
    assert session.precision == "f32"
    assert not json.loads((session.folder / "bf16.json").read_text())["holds"]
    assert session._compiled and all(precision == "f32" for precision, _ in session._compiled)


def test_one_instance_per_process_for_the_same_weights(folders, tmp_path):
    detr, _, _ = folders
    p = plan(tmp_path)
    a = Detector.load(str(detr), None, 60, p, threshold=0.5, size=64)
    assert Detector.load(str(detr), None, 60, p, threshold=0.5, size=64) is a
    assert Detector.load(str(detr), None, 60, p, threshold=0.7, size=64) is not a
    assert isinstance(a, base.InferenceModel)


def test_pytorch_session_under_bf16_autocast_stays_close(detectors, folders):
    # The CUDA path is PyTorch with bf16 autocast; on a CPU the same session code runs under CPU autocast.
    detr, _, cache = folders
    bf16 = Detector(
        str(detr), None, choose("torch", "bf16", cuda=False, bf16_native=True, cpus=2, cache_dir=cache), size=64
    )
    images = photos()
    differences = [
        relative_difference(a, b)
        for expected, got in zip(outputs(detectors["torch", "f32"], images), outputs(bf16, images))
        for a, b in zip(expected, got)
    ]
    assert 0 < max(differences) <= BF16_BOUND


# -- the command line ------------------------------------------------------------------------
def test_models_compare_and_prepare_from_the_command_line(folders, tmp_path, monkeypatch, capsys):
    from viewfinder.cli import main

    detr, clip, cache = folders
    photo = tmp_path / "photo.jpg"
    sample_photo().save(photo)
    env = {"DETR_MODEL": str(detr), "DETR_SIZE": "64", "DETR_THRESHOLD": "0.0", "CLIP_MODEL": str(clip)}
    for name, value in {**env, "MODEL_CACHE": str(cache), "PRECISION": "f32"}.items():
        monkeypatch.setenv(f"VIEWFINDER_{name}", value)

    assert main(["models", "compare", str(photo), "--runtimes", "torch-f32,openvino-f32"]) == 0
    out = capsys.readouterr().out
    assert "openvino-f32   " in out and "= torch-f32 (scores ±0.0000" in out
    assert "0 of 1 label sets differ from torch-f32's" in out
    assert main(["models", "compare", str(photo), "--runtimes", "onnx"]) == 2
    assert "unknown runtime onnx" in capsys.readouterr().err

    assert main(["models", "prepare"]) == 0
    out = capsys.readouterr().out
    assert "detection: ready" in out and "clip-image: openvino f32" in out and "text: openvino f32" in out
