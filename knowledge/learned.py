"""Which entry answers a question, as learned from examples: the entries' own phrasings and
residents' questions labelled with the entry that answers them (knowledge/learned/
questions.yaml). A softmax classifier over the same character n-grams and words as the
crisis classifier, trained offline by `python bot.py kb train` and stored as weights
(knowledge/learned/model.json).

The lexical ranker finds the phrasings a question shares words with; this model has learned
which words tell sibling entries apart ("冷静期满了去拿证" is collecting the certificate, not
the cooling-off period). The knowledge base adds its probability, weighted, to the lexical
score of the entries the concepts allow (ranking.yaml `learned_weight`), and lets an entry
whose needed concepts are missing answer when the probability is at least
`learned_overrule` (never against the entry's `not`); without the file the lexical ranker
decides alone.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from knowledge.classifier import TextClassifier, examples_hash
from knowledge.files import read_yaml

log = logging.getLogger(__name__)
NOT_OURS = "none"  # the label of a question that is not ours and has no entry routing it
# Training: constant steps, no class balance (an entry with many phrasings is asked more),
# weights under ZERO_BELOW dropped when stored (most features tell only a few entries apart).
EPOCHS = 80
RATE = 0.1
ZERO_BELOW = 0.05
MIN_COUNT = 2  # a feature seen once in all the examples teaches nothing


def questions_path(folder: Path) -> Path:
    return folder / "learned" / "questions.yaml"


def model_path(folder: Path) -> Path:
    return folder / "learned" / "model.json"


def _rows(folder: Path) -> list[object]:
    path = questions_path(folder)
    rows = (read_yaml(path) or []) if path.exists() else []
    return rows if isinstance(rows, list) else [rows]


def _usable(row: object) -> bool:
    return isinstance(row, dict) and bool(row.get("q")) and bool(row.get("entry"))


def load_questions(folder: Path, leave_out: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(question, entry id or "none") pairs: the labelled residents' questions (a row without
    both is left out, and so are those `from` a source in `leave_out`; `bad_rows` names the
    unusable ones for kb check)."""
    skip = set(leave_out)
    return [(str(r["q"]), str(r["entry"])) for r in _rows(folder)
            if isinstance(r, dict) and _usable(r) and r.get("from") not in skip]


def bad_rows(folder: Path) -> list[int]:
    """The 1-based positions of rows that are not a question with its entry."""
    return [i for i, r in enumerate(_rows(folder), 1) if not _usable(r)]


def examples(folder: Path, phrasings: Mapping[str, Iterable[str]],
             leave_out: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Every phrasing of every entry, then the labelled questions of entries that exist (but
    those from the sources in `leave_out`: bench/crossval.py measures a set without it)."""
    out = [(text, entry_id) for entry_id, texts in sorted(phrasings.items()) for text in texts]
    out += [(q, label) for q, label in load_questions(folder, leave_out)
            if label in phrasings or label == NOT_OURS]
    return out


def fingerprint(pairs: list[tuple[str, str]], folder: Path) -> str:
    """The examples, the concepts that are features too, the place names taken out of each
    text and how the model is trained (editing any calls for training again)."""
    read = [(path.name, path.read_text(encoding="utf-8"))
            for path in sorted([*folder.glob("concepts*.yaml"), folder / "places.yaml"])
            if path.exists()]
    how = (f"epochs={EPOCHS} rate={RATE} zero_below={ZERO_BELOW} min_count={MIN_COUNT}",
           "training")
    return examples_hash([*pairs, *read, how])


def fit(pairs: list[tuple[str, str]], prepare: Callable[[str], str],
        concepts: Callable[[str], Iterable[str]] | None, trained_on: str = "") -> TextClassifier:
    """The classifier of (question, label) pairs, each read as a question is read (`prepare`:
    typos fixed, place names stripped; the concepts it carries are features too), with its
    weights as they are stored. About two minutes and a gigabyte of memory for twelve
    thousand examples (it runs offline, not on the bot's server)."""
    model = TextClassifier.train([(prepare(q), label) for q, label in pairs], epochs=EPOCHS,
                                 rate=RATE, min_count=MIN_COUNT, prune=ZERO_BELOW, balanced=False,
                                 decay=False, default=None, fingerprint=trained_on,
                                 extra=concepts)
    return TextClassifier.from_json(model.to_json(sparse=True, below=ZERO_BELOW), np.float32,
                                    concepts)


def train(folder: Path, phrasings: Mapping[str, Iterable[str]], prepare: Callable[[str], str],
          concepts: Callable[[str], Iterable[str]] | None) -> TextClassifier:
    """Train on the examples and write the weights beside the questions."""
    pairs = examples(folder, phrasings)
    model = fit(pairs, prepare, concepts, fingerprint(pairs, folder))
    path = model_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json(sparse=True) + "\n", encoding="utf-8")
    return model


class EntryModel:
    """The trained classifier, read for the entries of the knowledge base."""

    def __init__(self, model: TextClassifier) -> None:
        self.model = model
        self._index = {label: i for i, label in enumerate(model.labels)}

    @classmethod
    def load(cls, folder: Path,
             concepts: Callable[[str], Iterable[str]] | None) -> EntryModel | None:
        """The stored weights, reading questions with `concepts` as they were trained."""
        path = model_path(folder)
        if not path.exists():
            return None
        try:
            return cls(TextClassifier.from_json(path.read_text(encoding="utf-8"), np.float32,
                                                concepts))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            # a file of another version or cut short: the lexical ranking answers alone, and
            # `kb check` says to train again
            log.warning("learned ranking not used: %s is unreadable (%s)", path,
                        type(exc).__name__)
            return None

    def probabilities(self, text: str) -> Callable[[str], float]:
        """For one (prepared) question: entry id -> the probability that it is the answer
        (0 for an entry the model has not seen)."""
        p = self.model.vector(text)
        index = self._index
        return lambda entry_id: float(p[i]) if (i := index.get(entry_id)) is not None else 0.0

    def is_stale(self, folder: Path, phrasings: Mapping[str, Iterable[str]]) -> bool:
        return self.model.trained_on != fingerprint(examples(folder, phrasings), folder)
