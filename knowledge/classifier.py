"""A small text classifier (multinomial logistic regression over character n-grams and
English words), trained from labelled examples in the knowledge base and stored as weights.

Pure numpy; training takes a few seconds for a thousand examples, so it runs offline
(`python bot.py kb train`) and the weights are a data file like the rest of knowledge/.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[a-z][a-z']*|\d+")


def normalise(text: str) -> str:
    """Full-width folded, lower case, curly quotes straight, one space between words."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


def features(text: str, extra: Callable[[str], Iterable[str]] | None = None) -> set[str]:
    """Character 1-3-grams of the Chinese (and other non-Latin) text, English words and word
    pairs, and what `extra` names (prefixed "k"). Binary: a long story counts a phrase once,
    as a short message does."""
    norm = normalise(text)
    out: set[str] = {"k" + name for name in extra(text)} if extra is not None else set()
    chars = re.sub(r"[a-z0-9' ]+", " ", norm)
    for n in (1, 2, 3):
        for i in range(len(chars) - n + 1):
            gram = chars[i:i + n]
            if " " not in gram:
                out.add("c" + gram)
    words = _WORD.findall(norm)
    out.update("w" + w for w in words)
    out.update(f"b{x}_{y}" for x, y in zip(words, words[1:], strict=False))
    return out


def examples_hash(examples: Iterable[tuple[str, str]]) -> str:
    """A fingerprint of the labelled examples, to tell when the weights are stale."""
    digest = hashlib.sha256()
    for text, label in examples:
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float  # of that label
    other: float  # probability of the default label ("none")


class TextClassifier:
    """Softmax regression: score(label) = bias + sum of the weights of the text's features."""

    def __init__(self, labels: Sequence[str], weights: dict[str, list[float]],
                 bias: Sequence[float], trained_on: str = "",
                 dtype: type[np.floating] = np.float64,
                 extra: Callable[[str], Iterable[str]] | None = None) -> None:
        self.labels = tuple(labels)
        self.extra = extra  # more features of a text than its n-grams (the entries' concepts)
        # One matrix (a row per feature) and a row index: small and quick to sum rows of.
        self._row = {f: i for i, f in enumerate(weights)}
        self._matrix = np.asarray(list(weights.values()), dtype=dtype).reshape(
            len(weights), len(self.labels))
        self._bias = np.asarray(bias, dtype=dtype)
        self.trained_on = trained_on
        # or, for a model of hundreds of labels where a feature tells only a few apart, the
        # rows compressed: feature i's weights are _weight[_start[i]:_start[i + 1]], for the
        # labels _label[...] (a tenth of a dense matrix's memory)
        self._sparse: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def feature_count(self) -> int:
        return len(self._row)

    def _scores(self, rows: list[int]) -> np.ndarray:
        if self._sparse is None:
            return self._bias + self._matrix[rows].sum(axis=0)
        start, label, weight = self._sparse
        if not rows:
            return self._bias.copy()
        spans = [slice(start[i], start[i + 1]) for i in rows]
        summed = np.bincount(np.concatenate([label[x] for x in spans]),
                             weights=np.concatenate([weight[x] for x in spans]),
                             minlength=len(self.labels))
        return self._bias + summed.astype(self._bias.dtype)

    def _dense_row(self, i: int) -> np.ndarray:
        if self._sparse is None:
            return self._matrix[i]
        start, label, weight = self._sparse
        row = np.zeros(len(self.labels))
        row[label[start[i]:start[i + 1]]] = weight[start[i]:start[i + 1]]
        return row

    def vector(self, text: str) -> np.ndarray:
        """The probability of each label, in the order of `labels`."""
        rows = [i for f in features(text, self.extra)
                if (i := self._row.get(f)) is not None]
        scores = self._scores(rows)
        scores -= scores.max()
        p = np.exp(scores)
        p /= p.sum()
        return p

    def probabilities(self, text: str) -> dict[str, float]:
        p = self.vector(text)
        return {label: float(x) for label, x in zip(self.labels, p, strict=True)}

    def predict(self, text: str, default: str = "none") -> Prediction:
        probs = self.probabilities(text)
        others = {k: v for k, v in probs.items() if k != default}
        label = max(others, key=lambda k: others[k]) if others else default
        return Prediction(label, probs.get(label, 0.0), probs.get(default, 0.0))

    # --- storage ------------------------------------------------------------------------
    def to_json(self, *, sparse: bool = False, below: float = 0.0) -> str:
        """Weights rounded to 4 places. `sparse` keeps, per feature, only the labels whose
        weight is not under `below` in size, as four flat lists (features, how many weights
        each has, their labels' indexes, the weights); a feature left without any is
        dropped."""
        data: dict[str, object] = {"labels": list(self.labels), "trained_on": self.trained_on,
                                   "bias": [round(float(b), 4) for b in self._bias]}
        if sparse:
            names: list[str] = []
            counts: list[int] = []
            labels: list[int] = []
            weights: list[float] = []
            for f, i in sorted(self._row.items()):
                row = self._dense_row(i)
                kept = [(j, round(float(x), 4)) for j, x in enumerate(row)
                        if abs(x) >= below and round(float(x), 4) != 0.0]
                if kept:
                    names.append(f)
                    counts.append(len(kept))
                    labels += [j for j, _x in kept]
                    weights += [x for _j, x in kept]
            data["sparse"] = {"features": names, "counts": counts, "labels": labels,
                              "weights": weights}
        else:
            data["weights"] = {f: [round(float(x), 4) for x in self._dense_row(i)]
                               for f, i in sorted(self._row.items())}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, dtype: type[np.floating] = np.float64,
                  extra: Callable[[str], Iterable[str]] | None = None) -> TextClassifier:
        data = json.loads(text)
        if "weights" in data:
            return cls(data["labels"], data["weights"], data["bias"],
                       data.get("trained_on", ""), dtype, extra)
        sparse = data["sparse"]
        k = len(data["labels"])
        label = np.asarray(sparse["labels"], dtype=np.intp)
        if len(data["bias"]) != k or len(sparse["features"]) != len(sparse["counts"]) or \
                not sum(sparse["counts"]) == len(label) == len(sparse["weights"]) or \
                (len(label) and (label.min() < 0 or label.max() >= k)):
            raise ValueError("the stored weights do not fit their labels")
        model = cls(data["labels"], {}, data["bias"], data.get("trained_on", ""), dtype, extra)
        model._row = {f: i for i, f in enumerate(sparse["features"])}
        start = np.zeros(len(sparse["counts"]) + 1, dtype=np.intp)
        np.cumsum(sparse["counts"], out=start[1:])
        model._sparse = (start, label, np.asarray(sparse["weights"], dtype=dtype))
        return model

    # --- training -----------------------------------------------------------------------
    @classmethod
    def train(cls, examples: Sequence[tuple[str, str]], *, l2: float = 1e-4,
              epochs: int = 300, rate: float = 0.5, min_count: int = 1,
              prune: float = 0.03, fingerprint: str = "", balanced: bool = True,
              decay: bool = True, default: str | None = "none",
              extra: Callable[[str], Iterable[str]] | None = None) -> TextClassifier:
        """Full-batch gradient descent (Adam) on the softmax loss; deterministic. Needs the
        default label ("none") and at least one other: a model that has never seen an
        ordinary message would call every message a crisis (`default=None` for a model
        without one). `balanced` weighs each label as much as the others together; `decay`
        shrinks the steps as 1/sqrt(step). Features seen fewer than `min_count` times and
        weights under `prune` are dropped. `extra` adds features of its own to each text's
        n-grams (the same function must read the texts the model is used on)."""
        labels = sorted({label for _t, label in examples})
        if default is not None and default not in labels:
            raise ValueError(f"training needs ordinary examples ({default}) and at least one "
                             "kind")
        if len(labels) < 2:
            raise ValueError("training needs examples of at least two labels")
        label_index = {label: i for i, label in enumerate(labels)}
        feats = [features(t, extra) for t, _l in examples]
        counts: dict[str, int] = {}
        for fs in feats:
            for f in fs:
                counts[f] = counts.get(f, 0) + 1
        vocab = sorted(f for f, c in counts.items() if c >= min_count)
        index = {f: i for i, f in enumerate(vocab)}
        rows, cols = [], []
        for r, fs in enumerate(feats):
            for f in sorted(fs):
                j = index.get(f)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
        n, d, k = len(examples), len(vocab), len(labels)
        # The text x feature matrix is sparse: a text's scores are a sum over its features'
        # rows (segments of `col` by text), a feature's gradient a sum over its texts' rows
        # (segments of the same pairs sorted by feature). np.add.reduceat sums the segments.
        row = np.asarray(rows, dtype=np.intp)
        col = np.asarray(cols, dtype=np.intp)
        by_feature = np.argsort(col, kind="stable")
        f_row, f_col = row[by_feature], col[by_feature]
        text_start = np.searchsorted(row, np.arange(n))
        feature_start = np.searchsorted(f_col, np.arange(d))
        empty = np.bincount(row, minlength=n) == 0
        y = np.zeros((n, k))
        y[np.arange(n), [label_index[label] for _t, label in examples]] = 1.0
        if balanced:  # each label weighs as much in the loss as the others together
            per_class = y.sum(axis=0)
            sample_weight = (y @ (n / (k * np.maximum(per_class, 1.0))))[:, None]
        else:
            sample_weight = np.ones((n, 1))
        w = np.zeros((d, k))
        b = np.zeros(k)
        m_w, v_w = np.zeros_like(w), np.zeros_like(w)
        m_b, v_b = np.zeros_like(b), np.zeros_like(b)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, epochs + 1):
            scores = _segment_sums(w[col], text_start, n, empty) + b
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - y) * sample_weight / n
            grad_w = _segment_sums(g[f_row], feature_start, d, None) + l2 * w
            grad_b = g.sum(axis=0)
            step_size = rate / math.sqrt(step) if decay else rate
            for param, grad, m, v in ((w, grad_w, m_w, v_w), (b, grad_b, m_b, v_b)):
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * grad * grad
                m_hat = m / (1 - beta1 ** step)
                v_hat = v / (1 - beta2 ** step)
                param -= step_size * m_hat / (np.sqrt(v_hat) + eps)
        keep = {vocab[j]: w[j].tolist() for j in range(d) if np.abs(w[j]).max() >= prune}
        return cls(labels, keep, b.tolist(), fingerprint or examples_hash(examples),
                   extra=extra)


def _segment_sums(values: np.ndarray, starts: np.ndarray, count: int,
                  empty: np.ndarray | None) -> np.ndarray:
    """Row sums of `values` over consecutive segments beginning at `starts` (one per text or
    feature, each non-empty unless `empty` marks it: those get zeros)."""
    if empty is None or not empty.any():
        return np.add.reduceat(values, starts, axis=0)
    out = np.zeros((count, values.shape[1]))
    keep = ~empty
    out[keep] = np.add.reduceat(values, starts[keep], axis=0)
    return out
