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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[a-z][a-z']*|\d+")


def normalise(text: str) -> str:
    """Full-width folded, lower case, curly quotes straight, one space between words."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


def features(text: str) -> set[str]:
    """Character 1-3-grams of the Chinese (and other non-Latin) text, English words and word
    pairs. Binary: a long story counts a phrase once, as a short message does."""
    norm = normalise(text)
    out: set[str] = set()
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
                 bias: Sequence[float], trained_on: str = "") -> None:
        self.labels = tuple(labels)
        # One matrix (a row per feature) and a row index: small and quick to sum rows of.
        self._row = {f: i for i, f in enumerate(weights)}
        self._matrix = np.asarray(list(weights.values()), dtype=np.float64).reshape(
            len(weights), len(self.labels))
        self._bias = np.asarray(bias, dtype=np.float64)
        self.trained_on = trained_on

    @property
    def feature_count(self) -> int:
        return len(self._row)

    def probabilities(self, text: str) -> dict[str, float]:
        rows = [i for f in features(text) if (i := self._row.get(f)) is not None]
        scores = self._bias + self._matrix[rows].sum(axis=0)
        scores -= scores.max()
        p = np.exp(scores)
        p /= p.sum()
        return {label: float(x) for label, x in zip(self.labels, p, strict=True)}

    def predict(self, text: str, default: str = "none") -> Prediction:
        probs = self.probabilities(text)
        others = {k: v for k, v in probs.items() if k != default}
        label = max(others, key=lambda k: others[k]) if others else default
        return Prediction(label, probs.get(label, 0.0), probs.get(default, 0.0))

    # --- storage ------------------------------------------------------------------------
    def to_json(self) -> str:
        data = {"labels": list(self.labels), "trained_on": self.trained_on,
                "bias": [round(float(b), 4) for b in self._bias],
                "weights": {f: [round(float(x), 4) for x in self._matrix[i]]
                            for f, i in sorted(self._row.items())}}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TextClassifier:
        data = json.loads(text)
        return cls(data["labels"], data["weights"], data["bias"], data.get("trained_on", ""))

    # --- training -----------------------------------------------------------------------
    @classmethod
    def train(cls, examples: Sequence[tuple[str, str]], *, l2: float = 1e-4,
              epochs: int = 300, rate: float = 0.5, min_count: int = 1,
              prune: float = 0.03, fingerprint: str = "") -> TextClassifier:
        """Full-batch gradient descent (Adam) on the softmax loss; deterministic. Needs the
        default label ("none") and at least one other: a model that has never seen an
        ordinary message would call every message a crisis."""
        labels = sorted({label for _t, label in examples})
        if "none" not in labels or len(labels) < 2:
            raise ValueError("training needs ordinary examples (none) and at least one kind")
        label_index = {label: i for i, label in enumerate(labels)}
        feats = [features(t) for t, _l in examples]
        counts: dict[str, int] = {}
        for fs in feats:
            for f in fs:
                counts[f] = counts.get(f, 0) + 1
        vocab = sorted(f for f, c in counts.items() if c >= min_count)
        index = {f: i for i, f in enumerate(vocab)}
        rows, cols = [], []
        for r, fs in enumerate(feats):
            for f in fs:
                j = index.get(f)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
        row = np.asarray(rows, dtype=np.intp)
        col = np.asarray(cols, dtype=np.intp)
        n, d, k = len(examples), len(vocab), len(labels)
        y = np.zeros((n, k))
        y[np.arange(n), [label_index[label] for _t, label in examples]] = 1.0
        # Balance the classes: each label weighs as much in the loss as the others together.
        per_class = y.sum(axis=0)
        sample_weight = (y @ (n / (k * np.maximum(per_class, 1.0))))[:, None]
        w = np.zeros((d, k))
        b = np.zeros(k)
        m_w, v_w = np.zeros_like(w), np.zeros_like(w)
        m_b, v_b = np.zeros_like(b), np.zeros_like(b)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, epochs + 1):
            scores = np.zeros((n, k))
            np.add.at(scores, row, w[col])
            scores += b
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - y) * sample_weight / n
            grad_w = np.zeros_like(w)
            np.add.at(grad_w, col, g[row])
            grad_w += l2 * w
            grad_b = g.sum(axis=0)
            for param, grad, m, v in ((w, grad_w, m_w, v_w), (b, grad_b, m_b, v_b)):
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * grad * grad
                m_hat = m / (1 - beta1 ** step)
                v_hat = v / (1 - beta2 ** step)
                param -= rate * m_hat / (np.sqrt(v_hat) + eps) * (1.0 / math.sqrt(step))
        keep = {vocab[j]: w[j].tolist() for j in range(d) if np.abs(w[j]).max() >= prune}
        return cls(labels, keep, b.tolist(), fingerprint or examples_hash(examples))
