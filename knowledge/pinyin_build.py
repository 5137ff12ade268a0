"""Builds knowledge/pinyin.json, the pinyin table the bot reads (`python bot.py kb pinyin`),
with pypinyin: run after editing phrasings or concepts. Only this tool imports pypinyin."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.phrases_dict import phrases_dict

from knowledge.pinyin import _LATIN_WORD, syllables

CJK = range(0x4E00, 0xA000)  # the unified ideographs of the basic plane


def reading(text: str) -> str:
    """What `PinyinTable.of` gives, read with pypinyin's phrase dictionary."""
    words: list[str] = []
    for token in lazy_pinyin(text.lower(), style=Style.NORMAL, errors="default"):
        for word in _LATIN_WORD.findall(token):
            words += syllables(word) or [word]
    return " ".join(words)


def build(texts: Iterable[str]) -> dict[str, dict[str, str]]:
    chars = {}
    for code in CJK:
        ch = chr(code)
        sound = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
        if sound and sound[0].isascii() and sound[0].isalpha():
            chars[ch] = sound[0]
    # the phrases read otherwise than their characters one by one (长沙 chang sha, not zhang)
    phrases = {}
    for phrase, sounds in phrases_dict.items():
        sound = [to_normal(s[0]).replace("ü", "v") for s in sounds]
        if len(phrase) >= 2 and sound != [chars.get(c, "") for c in phrase]:
            phrases[phrase] = " ".join(sound)
    words = {t.lower(): reading(t) for t in sorted(set(texts))}
    return {"chars": chars, "phrases": phrases, "words": words}


def write(texts: Iterable[str], path: Path) -> int:
    data = build(texts)
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0) + "\n",
                    "utf-8")
    return len(data["words"])
