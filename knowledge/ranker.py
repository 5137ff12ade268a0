"""Lexical ranking: TF-IDF over char n-grams (Chinese) and words (English), best phrasing wins."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from knowledge.text import Synonyms, features, l2


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
        self._postings = dict(postings)
        self._joined = dict(joined_postings)

    def _weigh(self, feats: Mapping[str, float]) -> dict[str, float]:
        return l2({f: math.sqrt(c) * self._idf.get(f, self._default_idf)
                   for f, c in feats.items() if c > 0})

    def rank(self, text: str, limit: int = 5) -> list[Scored]:
        """The best entries for the text, highest score first (scores in 0..1)."""
        # Unknown features stay in the norm: a question mostly about other things scores low.
        query = self._weigh(features(text, self._synonyms))
        if not query:
            return []
        best: dict[str, float] = defaultdict(float)
        sims: dict[int, float] = defaultdict(float)
        for f, qw in query.items():
            for idx, w in self._postings.get(f, ()):
                sims[idx] += qw * w
        for idx, s in sims.items():
            eid = self._owner[idx]
            if s > best[eid]:
                best[eid] = s
        joined: dict[str, float] = defaultdict(float)
        for f, qw in query.items():
            for eid, w in self._joined.get(f, ()):
                joined[eid] += qw * w
        a = self._best_weight
        scores = [Scored(e, a * best[e] + (1 - a) * joined[e]) for e in joined]
        scores.sort(key=lambda s: -s.score)
        return scores[:limit]
