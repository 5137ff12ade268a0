"""Lexical ranking: TF-IDF over char n-grams (Chinese) and words (English), best phrasing wins."""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.text import Synonyms, features, l2


class _Postings:
    """Feature -> (row indexes, weights), all in two flat arrays: a small array per feature
    costs a hundred bytes or more of overhead, and the index has tens of thousands of
    features (English words and their letter trigrams)."""

    def __init__(self, lists: dict[str, list[tuple[int, float]]]) -> None:
        self._span: dict[str, tuple[int, int]] = {}
        rows: list[int] = []
        weights: list[float] = []
        for f, ps in lists.items():
            self._span[f] = (len(rows), len(rows) + len(ps))
            rows.extend(i for i, _w in ps)
            weights.extend(w for _i, w in ps)
        self._rows = np.array(rows, dtype=np.intp)
        self._weights = np.array(weights)

    def get(self, feature: str) -> tuple[np.ndarray, np.ndarray] | None:
        span = self._span.get(feature)
        if span is None:
            return None
        return self._rows[span[0]:span[1]], self._weights[span[0]:span[1]]


@dataclass(frozen=True)
class Scored:
    entry_id: str
    score: float


class Ranker:
    """Scores every entry against a question; an entry's score blends its best phrasing and all."""

    def __init__(
        self, phrasings: dict[str, list[str]], synonyms: Synonyms, *, best_weight: float = 0.7
    ) -> None:
        self._synonyms = synonyms
        self._best_weight = best_weight
        per_entry: dict[str, list[dict[str, float]]] = {
            eid: [features(p, synonyms) for p in texts] for eid, texts in phrasings.items()
        }
        df: Counter[str] = Counter()
        for feats in per_entry.values():
            df.update(set().union(*feats) if feats else set())
        n = len(per_entry) or 1
        self._idf = {f: math.log((1 + n) / (1 + c)) + 1.0 for f, c in df.items()}
        self._default_idf = math.log(1 + n) + 1.0
        self._owner: list[str] = []
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        joined_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for eid, phrasing_feats in per_entry.items():
            joined: dict[str, float] = defaultdict(float)
            for one in phrasing_feats:
                idx = len(self._owner)
                self._owner.append(eid)
                for f, w in self._weigh(one).items():
                    postings[f].append((idx, w))
                for f, c in one.items():
                    joined[f] += c
            for f, w in self._weigh(joined).items():
                joined_postings[f].append((eid, w))
        # As arrays, so that a question costs a few vector operations per feature instead of a
        # Python step per phrasing that shares it (common n-grams are in hundreds of them).
        self._entries = list(per_entry)
        entry_index = {eid: i for i, eid in enumerate(self._entries)}
        self._owner_index = np.array([entry_index[e] for e in self._owner], dtype=np.intp)
        self._postings = _Postings(postings)
        self._joined = _Postings({f: [(entry_index[e], w) for e, w in ps]
                                  for f, ps in joined_postings.items()})

    def _weigh(self, feats: Mapping[str, float]) -> dict[str, float]:
        return l2({f: math.sqrt(c) * self._idf.get(f, self._default_idf)
                   for f, c in feats.items() if c > 0})

    def rank(self, text: str, limit: int = 5) -> list[Scored]:
        """The best entries for the text, highest score first (scores in 0..1)."""
        # Unknown features stay in the norm: a question mostly about other things scores low.
        query = self._weigh(features(text, self._synonyms))
        if not query:
            return []
        sims = np.zeros(len(self._owner))
        joined = np.zeros(len(self._entries))
        for f, qw in query.items():
            found = self._postings.get(f)
            if found is not None:
                sims[found[0]] += qw * found[1]  # a phrasing appears once per feature
            shared = self._joined.get(f)
            if shared is not None:
                joined[shared[0]] += qw * shared[1]
        best = np.zeros(len(self._entries))
        np.maximum.at(best, self._owner_index, sims)
        a = self._best_weight
        total = a * best + (1 - a) * joined
        touched = np.flatnonzero(joined)  # entries sharing at least one feature
        order = touched[np.argsort(-total[touched], kind="stable")][:limit]
        scores = [Scored(self._entries[i], float(total[i])) for i in order]
        return scores[:limit]


_SOURCES = (Path(__file__), Path(__file__).with_name("text.py"))  # the code an index depends on


def cached(phrasings: dict[str, list[str]], synonyms: Synonyms, best_weight: float,
           folder: Path | None) -> Ranker:
    """The ranker for these phrasings, read from `folder` when an earlier run built it from
    the very same phrasings, synonyms, weight and code (building it costs about a second at
    start-up, reading it a tenth of that), else built and written there for the next run.
    The file is ours (the operator's data folder); a missing, unreadable or read-only folder
    only means building it each time."""
    if folder is None:
        return Ranker(phrasings, synonyms, best_weight=best_weight)
    key = hashlib.sha256(json.dumps([phrasings, synonyms.fingerprint(), best_weight],
                                    ensure_ascii=False, sort_keys=True).encode())
    for source in _SOURCES:
        key.update(source.read_bytes())
    path = folder / f"ranker-{key.hexdigest()[:20]}.pickle"
    try:
        ranker = pickle.loads(path.read_bytes())  # noqa: S301 - a file this function wrote
        if isinstance(ranker, Ranker):
            return ranker
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            TypeError, ValueError):
        pass
    ranker = Ranker(phrasings, synonyms, best_weight=best_weight)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("ranker-*.pickle"):  # built from other phrasings
            old.unlink(missing_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(ranker, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, path)
    except OSError:
        pass
    return ranker
