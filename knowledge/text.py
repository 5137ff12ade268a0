"""Text normalisation, language guess and features for the lexical ranker."""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import defaultdict
from typing import Any

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[a-z]")
_KEEP = re.compile(r"[^\u3400-\u9fffa-z0-9 ]+")
_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff0-9]+")

EN_STOP = frozenset((  # noqa: SIM905 - one string reads and edits better than 90 quoted words
    "a an the is are was were be been am do does did i me my we our us you your he she they "
    "it its to of in on at for with about and or if can could should would will shall may "
    "might please tell know want need there this that these those what which who whom how "
    "when where why any some get got just also so as by from into than then").split())
NGRAM_WEIGHTS = ((1, 0.3), (2, 1.0))  # Chinese character n-grams and their weights (tuned)
# Particles and fillers that carry no meaning in a question.
ZH_FILLERS = ("累死了", "烦死了", "气死了", "急死了", "吓死人了", "笑死了", "真要命",  # venting
              "请问一下", "请问", "问一下", "问问", "我想知道", "想知道", "我想问",
              "麻烦", "一下", "啊", "呀", "吧", "呢", "哦", "嘛", "哈", "了", "吗", "么", "咯")


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), lower case, punctuation and emoji to spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", _KEEP.sub(" ", text)).strip()


def guess_language(text: str) -> str:
    """'zh' when the text has Chinese characters, 'en' when it has only Latin letters."""
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text.lower()):
        return "en"
    return "zh"


def has_content(text: str) -> bool:
    return bool(normalise(text).replace(" ", ""))


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def en_words(text: str, synonyms: dict[str, str]) -> list[str]:
    """The meaningful English words, stemmed; a text of stop words only ("what can you do",
    "who are you") keeps them, or it would have nothing to be matched by."""
    words = [synonyms.get(w, w) for w in _WORD.findall(text)]
    kept = [_stem(w) for w in words if w not in EN_STOP]
    return kept or [_stem(w) for w in words if w not in ("a", "an", "the")]


def zh_strip(text: str) -> str:
    for filler in ZH_FILLERS:
        text = text.replace(filler, " ")
    return text


def features(text: str, synonyms: Synonyms) -> dict[str, float]:
    """Weighted sparse features: Chinese char n-grams (NGRAM_WEIGHTS), English words, 3-grams."""
    norm = synonyms.apply_zh(normalise(text))
    feats: dict[str, float] = defaultdict(float)
    for run in _CJK_RUN.findall(zh_strip(norm)):
        for n, weight in NGRAM_WEIGHTS:
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                feats[gram] += weight * synonyms.key_weight.get(gram, 1.0)
    words = en_words(norm, synonyms.en)
    for w in words:
        feats["w:" + w] += 1.0
        padded = f"<{w}>"
        for i in range(len(padded) - 2):
            feats["c:" + padded[i : i + 3]] += 0.25
    for a, b in zip(words, words[1:], strict=False):
        feats[f"b:{a}_{b}"] += 0.5
    return dict(feats)


class Synonyms:
    """Domain synonym list: variants (typos, slang, English forms) mapped to one canonical form."""

    def __init__(self, zh: dict[str, str], en: dict[str, str],
                 key_terms: dict[str, float] | None = None) -> None:
        self.key_weight = key_terms or {}
        self._zh = sorted(zh.items(), key=lambda kv: -len(kv[0]))
        self.en = en
        self._pattern = re.compile("|".join(re.escape(k) for k, _ in self._zh)) if zh else None
        self._map = dict(zh)

    def fingerprint(self) -> str:
        """What the list holds, as a stable text (for keying an index built with it)."""
        return json.dumps([sorted(self._map.items()), sorted(self.en.items()),
                           sorted(self.key_weight.items())], ensure_ascii=False)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Synonyms:
        zh: dict[str, str] = {}
        en: dict[str, str] = {}
        for canonical, variants in (data.get("zh") or {}).items():
            for v in variants:
                zh[normalise(v).replace(" ", "")] = canonical
        for canonical, variants in (data.get("en") or {}).items():
            for v in variants:
                en[normalise(v)] = canonical
        keys = {normalise(k).replace(" ", ""): float(w)
                for k, w in (data.get("key_terms") or {}).items()}
        return cls(zh, en, keys)

    def apply_zh(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._map[m.group(0)], text)


def l2(vec: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: v / norm for k, v in vec.items()} if norm else {}
