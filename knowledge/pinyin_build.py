"""Builds knowledge/pinyin.json, the pinyin table the bot reads (`python bot.py kb pinyin`),
with pypinyin: run after editing phrasings or concepts. Only this tool imports pypinyin."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.phrases_dict import phrases_dict

from knowledge.pinyin import HANZI, LATIN_WORD, syllables


def _characters() -> list[str]:
    """Every character of the ranges in HANZI."""
    out, i = [], 0
    while i < len(HANZI):
        if i + 2 < len(HANZI) and HANZI[i + 1] == "-":
            out += [chr(c) for c in range(ord(HANZI[i]), ord(HANZI[i + 2]) + 1)]
            i += 3
        else:
            out.append(HANZI[i])
            i += 1
    return out


def reading(text: str) -> str:
    """What `PinyinTable.of` gives, read with pypinyin's phrase dictionary."""
    words: list[str] = []
    for token in lazy_pinyin(text.lower(), style=Style.NORMAL, errors="default"):
        for word in LATIN_WORD.findall(token):
            words += syllables(word) or [word]
    return " ".join(words)


def build(texts: Iterable[str]) -> dict[str, dict[str, str]]:
    chars = {}
    for ch in _characters():
        sound = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
        if sound and sound[0].isascii() and sound[0].isalpha():
            chars[ch] = sound[0]
    # every phrase: the longest one wins, as in pypinyin (在哪里弄: 哪里, then 弄 nong; not 里弄)
    phrases = {phrase: " ".join(to_normal(s[0]).replace("ü", "v") for s in sounds)
               for phrase, sounds in phrases_dict.items() if len(phrase) >= 2}
    words = {t.lower(): reading(t) for t in sorted(set(texts))}
    return {"chars": chars, "phrases": phrases, "words": words}


def write(texts: Iterable[str], path: Path) -> int:
    data = build(texts)
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0) + "\n",
                    "utf-8")
    return len(data["words"])
