"""Builds knowledge/pinyin.json, the pinyin table the bot reads (`python bot.py kb pinyin`),
from pypinyin's dictionaries: run after upgrading pypinyin. Only this tool imports it."""
from __future__ import annotations

import json
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


def build() -> dict[str, dict[str, str]]:
    chars = {}
    for ch in _characters():
        sound = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
        if sound and sound[0].isascii() and sound[0].isalpha():
            chars[ch] = sound[0]
    # every phrase: the longest one wins, as in pypinyin (在哪里弄: 哪里, then 弄 nong; not 里弄)
    phrases = {phrase: " ".join(to_normal(s[0]).replace("ü", "v") for s in sounds)
               for phrase, sounds in phrases_dict.items() if len(phrase) >= 2}
    return {"chars": chars, "phrases": phrases}


def write(path: Path) -> tuple[int, int]:
    """Writes the table; returns how many characters and phrases it reads."""
    data = build()
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0) + "\n",
                    "utf-8")
    return len(data["chars"]), len(data["phrases"])
