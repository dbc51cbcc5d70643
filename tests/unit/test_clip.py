import math
import threading
import time

import numpy as np
import pytest
from PIL import Image

from inference.clip import ImageEmbedder, load_embedder
from inference.loading import ModelUnavailable
from tests.support.models import build_tiny_clip
from tests.support.photos import gradient, sample_photo


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def embedder(tiny_clip):
    return load_embedder(str(tiny_clip), None, timeout=60)


def norm(vector):
    return math.sqrt(sum(x * x for x in vector))


def assert_unit(vector, dim=16):
    assert len(vector) == dim
    assert all(isinstance(x, float) for x in vector)
    assert norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_loads_tiny_model(tiny_clip, embedder):
    assert (tiny_clip / "config.json").is_file()
    assert (tiny_clip / "preprocessor_config.json").is_file()
    assert (tiny_clip / "tokenizer.json").is_file()
    assert isinstance(embedder, ImageEmbedder)
    assert embedder.dim == 16
    # The PIL backend, since torchvision is deliberately absent.
    assert type(embedder.processor).__name__ == "CLIPImageProcessorPil"


def test_different_images_give_different_unit_vectors(embedder):
    vectors = embedder.embed_images([gradient(), sample_photo()])
    assert len(vectors) == 2
    for vector in vectors:
        assert_unit(vector)
    assert max(abs(a - b) for a, b in zip(*vectors)) > 1e-3


def test_same_image_twice_is_deterministic(embedder):
    image = sample_photo()
    first = embedder.embed_images([image])
    second = embedder.embed_images([image])
    assert first == second
    both = embedder.embed_images([image, image.copy()])
    assert both[0] == both[1]


def test_batch_equals_single_calls(embedder):
    images = [gradient(), sample_photo()]
    batch = embedder.embed_images(images)
    singles = [embedder.embed_images([image])[0] for image in images]
    for got, want in zip(batch, singles):
        assert got == pytest.approx(want, abs=1e-5)


def test_empty_inputs_give_empty_lists(embedder):
    assert embedder.embed_images([]) == []
    assert embedder.embed_texts([]) == []


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_non_rgb_images(embedder, mode):
    image = (
        sample_photo().convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.linspace(0, 65535, 64 * 48, dtype=np.uint16).reshape(48, 64))
    )
    assert image.mode == mode
    (vector,) = embedder.embed_images([image])
    assert_unit(vector)
    if mode == "RGBA":
        # An opaque alpha channel is dropped, not fed to the model.
        assert vector == pytest.approx(embedder.embed_images([sample_photo()])[0], abs=1e-5)


def test_texts_share_the_image_space(embedder):
    vectors = embedder.embed_texts(["a dog", "a cat"])
    assert len(vectors) == 2
    for vector in vectors:
        assert_unit(vector, embedder.dim)
    assert vectors[0] != vectors[1]
    assert embedder.embed_texts(["a dog"])[0] == pytest.approx(vectors[0], abs=1e-5)


def test_long_and_odd_texts_are_truncated_not_rejected(embedder):
    (vector,) = embedder.embed_texts(["ünïcødé 東京 🐕 " * 40])
    assert_unit(vector)


def test_missing_folder_fails_fast_naming_it(tmp_path):
    missing = tmp_path / "no-such-clip"
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as info:
        load_embedder(str(missing), None, timeout=60)
    assert time.monotonic() - started < 1
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)


def test_folder_without_model_fails(tmp_path):
    (tmp_path / "README.md").write_text("not a model")
    with pytest.raises(ModelUnavailable) as info:
        load_embedder(str(tmp_path), None, timeout=60)
    assert str(tmp_path) in str(info.value)
    assert "\n" not in str(info.value)


def test_blank_model_name_fails():
    with pytest.raises(ModelUnavailable, match="no image embedding model"):
        load_embedder("  ", None, timeout=60)


def test_timeout_raises_instead_of_hanging(tiny_clip, monkeypatch):
    import inference.clip as clip

    release = threading.Event()

    class Stuck(ImageEmbedder):
        def __init__(self, *args, **kwargs):
            release.wait(5)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(clip, "ImageEmbedder", Stuck)
    started = time.monotonic()
    try:
        with pytest.raises(ModelUnavailable, match="timed out after 0.2s"):
            load_embedder(str(tiny_clip), None, timeout=0.2)
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_zero_shot_keeps_the_most_probable_labels_above_the_threshold():
    from inference.clip import zero_shot

    labels = ["beach", "forest", "city"]
    matrix = np.eye(3)
    vectors = np.array([[0.9, 0.1, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = zero_shot(vectors, matrix, labels, scale=100.0, threshold=0.2, top=2)
    assert list(out[0]) == ["beach"] and out[0]["beach"] > 0.99  # a confident scene: one label
    assert list(out[1]) == ["city"]
    assert set(out[2]) == {"beach", "forest"} and abs(out[2]["beach"] - 0.5) < 1e-3  # a tie: both, halves
    assert zero_shot(vectors, matrix, labels, scale=100.0, threshold=0.2, top=1)[2] == {"beach": 0.5}
    # A flat temperature spreads the probability: nothing reaches the threshold.
    assert zero_shot(vectors, matrix, labels, scale=0.01, threshold=0.4, top=3) == [{}, {}, {}]
    assert zero_shot(vectors[:0], matrix, labels, 100.0, 0.2, 2) == []


def test_labels_of_images_with_prompt_ensembling(embedder):
    from inference.clip import PROMPTS

    labels = ("dog", "red car", "mountain")
    matrix = embedder.label_matrix(labels)
    assert matrix.shape == (3, embedder.dim) and np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert embedder.label_matrix(labels) is matrix  # one ensemble per vocabulary
    single = np.array(embedder.embed_texts([PROMPTS[0].format(label) for label in labels]))
    assert not np.allclose(matrix, single)  # the average of the phrasings, not one of them
    vectors = embedder.embed_images([gradient(), sample_photo()])
    found = embedder.labels_of(vectors, labels, threshold=0.0, top=2)
    assert [len(f) for f in found] == [2, 2] and all(set(f) <= set(labels) for f in found)
    assert embedder.labels_of(vectors, labels, threshold=0.0, top=2) == found
    assert embedder.logit_scale > 1.0


def test_a_word_is_found_where_it_takes_its_share_beside_the_vocabulary():
    from inference.clip import WordFinder

    vocabulary = ("beach", "forest", "city")
    matrix = np.eye(3)
    rows = np.array([[0.0, 0.6, 0.8], [1.0, 0.0, 0.0]])  # "lantern" (new), "beach" (a label too)
    finder = WordFinder(["lantern", "beach"], rows, matrix, vocabulary, scale=10.0, threshold=0.3)
    assert list(finder.queries) == ["lantern", "beach"] and finder.queries["beach"] == [1.0, 0.0, 0.0]
    vectors = {"a": [0.0, 0.6, 0.8], "b": [1.0, 0.0, 0.0], "c": [0.0, 1.0, 0.0]}
    found = finder.found(vectors)

    def expected(image, word_row, rivals):
        logits = 10.0 * np.array([np.dot(image, word_row), *[np.dot(image, r) for r in rivals]])
        return float(np.exp(logits[0]) / np.exp(logits).sum())

    lantern_a = expected(vectors["a"], rows[0], matrix)
    assert found["a"] == {"lantern": round(lantern_a, 4)} and lantern_a > 0.3
    # "beach" competes with the other labels, not with itself: the whole share, not half.
    beach_b = expected(vectors["b"], rows[1], matrix[1:])
    assert found["b"]["beach"] == round(beach_b, 4) and beach_b > 0.99
    assert "c" not in found  # a forest: neither word takes its share
    assert finder.found({}) == {}
