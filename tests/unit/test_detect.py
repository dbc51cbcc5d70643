import time

import pytest

from core.labels import COCO_LABELS
from inference.detection import Detector, load_detector
from inference.loading import ModelUnavailable
from tests.support.models import build_tiny_detr
from tests.support.photos import gradient, sample_photo

REAL_LABELS = {label for label in COCO_LABELS.values() if label != "N/A"}


@pytest.fixture(scope="module")
def tiny_detr(tmp_path_factory):
    return build_tiny_detr(tmp_path_factory.mktemp("tiny-detr"))


@pytest.fixture(scope="module")
def detector(tiny_detr):
    # Random weights score low, so threshold 0 is what makes tags appear.
    return load_detector(str(tiny_detr), None, threshold=0.0, size=64, timeout=60)


def test_coco_labels_match_detr_resnet50():
    assert len(COCO_LABELS) == 91 and sorted(COCO_LABELS) == list(range(91))
    assert [i for i, label in COCO_LABELS.items() if label == "N/A"] == [0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert COCO_LABELS[1] == "person" and COCO_LABELS[67] == "dining table" and COCO_LABELS[90] == "toothbrush"


def test_tiny_model_saves_loadable_folder(tiny_detr, detector):
    assert (tiny_detr / "config.json").is_file()
    assert (tiny_detr / "preprocessor_config.json").is_file()
    assert isinstance(detector, Detector)
    assert detector.model.config.id2label == COCO_LABELS
    # The short side follows `size`, the long side is capped in DETR's 800:1333 ratio.
    assert detector.processor.size["shortest_edge"] == 64
    assert detector.processor.size["longest_edge"] == round(64 * 1333 / 800)


def test_detect_returns_tags_per_image(detector):
    images = [gradient(), sample_photo()]
    results = detector.detect(images)
    assert len(results) == len(images)
    for image, tags in zip(images, results):
        assert isinstance(tags, dict) and tags
        for label, tag in tags.items():
            assert label in REAL_LABELS
            assert isinstance(tag["count"], int) and tag["count"] >= 1
            assert tag["count"] == len(tag["boxes"])
            assert isinstance(tag["score"], float) and 0.0 < tag["score"] <= 1.0
            assert tag["score"] == round(tag["score"], 4)
            for box in tag["boxes"]:
                assert len(box) == 4 and all(isinstance(v, int) for v in box)
                x0, y0, x1, y1 = box
                assert 0 <= x0 <= x1 <= image.width
                assert 0 <= y0 <= y1 <= image.height
        # num_queries=10 caps the detections per image.
        assert sum(tag["count"] for tag in tags.values()) <= 10


def test_detect_accepts_non_rgb_and_empty_batch(detector):
    assert detector.detect([]) == []
    (tags,) = detector.detect([gradient().convert("L")])
    assert tags and set(tags) <= REAL_LABELS


def test_threshold_above_one_yields_empty_dicts(tiny_detr):
    strict = load_detector(str(tiny_detr), None, threshold=1.01, size=64, timeout=60)
    assert strict.detect([gradient(), sample_photo()]) == [{}, {}]


def test_missing_folder_is_unavailable_quickly(tmp_path):
    missing = tmp_path / "no-such-model"
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        load_detector(str(missing), None, threshold=0.5, size=64, timeout=60)
    assert time.monotonic() - started < 5
    assert str(missing) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_folder_without_model_is_unavailable(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailable) as caught:
        load_detector(str(empty), None, threshold=0.5, size=64, timeout=60)
    assert str(empty) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_past_deadline_is_unavailable(tiny_detr):
    # A real load cannot finish in a microsecond, so this exercises the deadline, not a failure.
    with pytest.raises(ModelUnavailable, match="timed out"):
        load_detector(str(tiny_detr), None, threshold=0.5, size=64, timeout=1e-6)
