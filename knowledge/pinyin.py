"""Questions typed in pinyin ("lihun lengjingqi duojiu") or half in pinyin ("结hun要带啥"):
a second index of the phrasings in toneless pinyin, asked only when the ordinary ranking
declines. Kept apart because pinyin in the main index dilutes the Chinese scores."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from knowledge.ranker import Ranker, Scored
from knowledge.text import Synonyms

# One toneless pinyin syllable (v for ü); a word of them splits into syllables.
_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|uai|ian|iao|uan|van|ai|ei|ui|ao|ou|iu|ie|ve|ue|er|an|"
    r"en|in|un|vn|ia|ua|uo|a|o|e|i|u|v)(?![aeiouv])|(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:ang|eng|ing|ong|an|en|in|un)")
LATIN_WORD = re.compile(r"[a-z]+")
# Chinese characters: the unified ideographs, extension A, the compatibility ones, and 〇
HANZI = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HANZI_WORD = re.compile(f"[{HANZI}]+")


def syllables(word: str) -> list[str] | None:
    """`lengjingqi` -> [leng, jing, qi]; None when the word is not all pinyin."""
    out, pos = [], 0
    while pos < len(word):
        m = _SYLLABLE.match(word, pos)
        if m is None or m.end() == pos:
            return None
        out.append(m.group(0))
        pos = m.end()
    return out


TABLE_FILE = Path(__file__).with_name("pinyin.json")
log = logging.getLogger(__name__)


class PinyinTable:
    """Toneless pinyin from a table built offline with pypinyin (`python bot.py kb pinyin`,
    knowledge/pinyin.json): each character's commonest reading and pypinyin's phrases, read
    longest first as pypinyin does (长沙 chang sha, 银行 yin hang). pypinyin costs about 50 MB
    of memory and a second to load; the table about 10 MB and 40 ms. It depends on pypinyin
    alone, not on the knowledge base: editing phrasings needs no rebuild."""

    def __init__(self, chars: dict[str, str], phrases: dict[str, str]) -> None:
        self._chars, self._phrases = chars, phrases
        self._longest = max(map(len, self._phrases), default=0)

    @classmethod
    def load(cls, path: Path = TABLE_FILE) -> PinyinTable:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            log.warning("%s is missing or unreadable: pinyin questions and sound-alike slips "
                        "are not read (run `python bot.py kb pinyin`)", path)
            return cls({}, {})
        return cls(data.get("chars") or {}, data.get("phrases") or {})

    def of(self, text: str) -> str:
        """Chinese characters to toneless syllables; pinyin words split into syllables; other
        Latin words kept as they are."""
        spaced = _HANZI_WORD.sub(lambda m: f" {self._run(m.group(0))} ", text.lower())
        words: list[str] = []
        for word in LATIN_WORD.findall(spaced):
            words += syllables(word) or [word]
        return " ".join(words)

    def _run(self, run: str) -> str:
        """A run of characters, the longest phrase first (银行 yin hang), else character by
        character."""
        out, i = [], 0
        while i < len(run):
            for n in range(min(self._longest, len(run) - i), 1, -1):
                sound = self._phrases.get(run[i:i + n])
                if sound is not None:
                    out.append(sound)
                    i += n
                    break
            else:
                out.append(self._chars.get(run[i], ""))
                i += 1
        return " ".join(out)


# English words that ask a question and spell no pinyin: a message with one is English, however
# many of its other words happen to be syllables ("how to get hukou in changsha": to, in...).
# Not "can" or "do": 残 can, 都 dou.
_ENGLISH_ASKS = frozenset({"how", "what", "where", "when", "who", "why", "which", "could",
                           "does", "is", "are", "should", "the", "my", "get"})


def looks_pinyin(text: str) -> bool:
    """Most of the Latin words in the text are pinyin (and there is something to read)."""
    words = LATIN_WORD.findall(text.lower())
    if not words or _ENGLISH_ASKS.intersection(words):
        return False
    pinyin = [w for w in words if len(w) >= 2 and syllables(w)]
    return len(pinyin) >= max(1, int(len(words) * 0.7))


def top_level_alternatives(pattern: str) -> list[str]:
    """The alternatives of a regular expression outside any group: in "(?:想|要)分开|离婚",
    "想" alone is not a way of saying it; "离婚" is."""
    out, depth, start, escaped, in_class = [], 0, 0, False, False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"  # nothing nests inside [...]
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    out.append(pattern[start:])
    return out


_LOOKAROUND = re.compile(r"^(?:\(\?<?[=!][^()]*\))+|(?:\(\?<?[=!][^()]*\))+$")


def plain_words(pattern: str) -> list[str]:
    """The words a pattern is a list of: its top-level alternatives, lookarounds stripped, a
    whole group "(?:补领|补办)" opened; an alternative with more in it ("(?:想|要)分开") is
    not a plain word and is left out."""
    out = []
    for alt in top_level_alternatives(pattern):
        alt = _LOOKAROUND.sub("", alt)
        if alt.startswith("(?:") and alt.endswith(")") and _one_group(alt):
            out += plain_words(alt[3:-1])
        elif _HANZI_WORD.fullmatch(alt):
            out.append(alt)
    return out


def _one_group(text: str) -> bool:
    """Whether the parenthesis opening `text` closes at its very end."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(text) - 1
    return False


def concept_patterns(patterns: dict[str, re.Pattern[str]], table: PinyinTable,
                     shortest: int = 2) -> dict[str, re.Pattern[str]]:
    """The concepts in pinyin: each concept's plain Chinese words of `shortest` or more
    characters (补办, 冷静期), as syllables ("bu ban"), matched on whole syllables of
    `PinyinTable.of`."""
    out = {}
    for name, pattern in patterns.items():
        words = {table.of(w) for w in plain_words(pattern.pattern) if len(w) >= shortest}
        if words:
            alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            out[name] = re.compile(f"(?<![a-z])(?:{alts})(?![a-z])")
    return out


class PinyinIndex:
    def __init__(self, phrasings: dict[str, list[str]], table: PinyinTable) -> None:
        self._table = table
        self._ranker = Ranker({eid: [table.of(p) for p in texts]
                               for eid, texts in phrasings.items()}, Synonyms({}, {}, {}))

    def rank(self, question: str, limit: int = 5) -> list[Scored]:
        return self._ranker.rank(self._table.of(question), limit)


class PinyinConcepts:
    """Which concepts a (half) pinyin question carries, read in pinyin. A one-character word
    (钱 qian) has many homophones (前, 千): it may let an entry answer, never rule one out."""

    def __init__(self, patterns: dict[str, re.Pattern[str]], table: PinyinTable) -> None:
        self._table = table
        self._words = concept_patterns(patterns, table)
        self._chars = concept_patterns(patterns, table, shortest=1)

    def present(self, question: str) -> tuple[frozenset[str], frozenset[str]]:
        """(concepts surely present, concepts perhaps present)."""
        text = self._table.of(question)
        sure = frozenset(name for name, p in self._words.items() if p.search(text))
        return sure, frozenset(name for name, p in self._chars.items() if p.search(text))


def concept_words(patterns: dict[str, re.Pattern[str]],
                  table: PinyinTable) -> dict[tuple[str, ...], dict[str, set[str]]]:
    """The concepts' plain words of two or more characters, by their syllables: sound ->
    {word: the concepts it belongs to}."""
    out: dict[tuple[str, ...], dict[str, set[str]]] = {}
    for name, pattern in patterns.items():
        for word in plain_words(pattern.pattern):
            if len(word) >= 2:
                sound = tuple(table.of(word).split())
                out.setdefault(sound, {}).setdefault(word, set()).add(name)
    return out


class HomophoneFixer:
    """Puts back the words of the concepts a resident typed with a character of the same sound
    (地保 for 低保, 婚捡 for 婚检, 冷经期 for 冷静期): a pinyin keyboard's commonest slip.
    Asked when the ordinary ranking declined, or answered less surely than the fixed text
    answers another entry (knowledge/base.py), so a right word is seldom "corrected"."""

    def __init__(self, patterns: dict[str, re.Pattern[str]], table: PinyinTable,
                 words: dict[tuple[str, ...], dict[str, set[str]]]) -> None:
        self._patterns, self._table = patterns, table
        self._words = words  # concept_words(patterns, table)
        self._longest = max((len(s) for s in self._words), default=0)

    def _word_for(self, run: str, sound: tuple[str, ...]) -> str | None:
        """The concept word sounding like `run` and written with one character else, when
        the words that could be meant all name one concept (低保, 底保: dibao)."""
        near = {w: names for w, names in self._words.get(sound, {}).items()
                if sum(a != b for a, b in zip(w, run, strict=True)) == 1}
        if not near or not set.intersection(*near.values()):
            return None
        return min(near)

    def _present(self, text: str) -> set[str]:
        return {name for name, p in self._patterns.items() if p.search(text)}

    def fixes(self, text: str) -> list[str]:
        """The text with one run of characters that sounds like a concept word, but is one
        character off, replaced by that word: each such fix, the longest runs first."""
        sounds = [self._table.of(c) if _HANZI_WORD.fullmatch(c) else "" for c in text]
        candidates: list[str] = []
        for n in range(min(self._longest, len(text)), 1, -1):
            for i in range(len(text) - n + 1):
                sound = tuple(sounds[i:i + n])
                word = self._word_for(text[i:i + n], sound) if all(sound) else None
                if word is not None:
                    candidates.append(text[:i] + word + text[i + n:])
        if not candidates:  # most questions: no concept scan at all
            return []
        present = self._present(text)
        # A concept it lacked (离婚 is no slip for 离昏), and more gained than lost: 领证 is a
        # word, not a slip for 领征 (marriage lost for 征地), while 生活不贴 -> 补贴 loses only
        # "不贴" (not posted) and gains the subsidies.
        return [fixed for fixed, now in ((f, self._present(f)) for f in candidates)
                if len(now - present) > len(present - now)]


# A run of Latin words inside a Chinese message ("领证可以网上yuyue吗", "结婚证bu ling")
_LATIN_RUN = re.compile(r"[a-z]+(?: [a-z]+)*")


class PinyinSpeller:
    """Writes the pinyin words of a half-Chinese message in characters: each run of Latin
    words that is all pinyin, where its syllables spell concept words of two or more
    characters (yuyue 预约, xieyi 协议, bu ling 补领); syllables no such word spells stay as
    they are. The ordinary ranking then reads 预约 where the resident typed yuyue: the pinyin
    index is asked only when it declines, and a half-pinyin question it answered was read on
    its Chinese words alone. Of words that sound alike, the one the phrasings use most
    (离婚, not the typo 离昏) is written."""

    def __init__(self, words: dict[tuple[str, ...], dict[str, set[str]]],
                 phrasings: Iterable[str]) -> None:
        corpus = "\n".join(phrasings)
        spelt = {sound: hanzi for sound, alike in words.items()
                 if (hanzi := [w for w in alike if _HANZI_WORD.fullmatch(w)])}
        # only words that sound alike need counting (a fifth of a second at start-up if all do)
        self._words = {sound: hanzi[0] if len(hanzi) == 1
                       else max(hanzi, key=lambda w: (corpus.count(w), w))
                       for sound, hanzi in spelt.items()}
        self._longest = max((len(s) for s in self._words), default=0)

    def spell(self, text: str) -> str:
        """The text with its pinyin runs spelled in characters where they can be (the text
        itself when there is nothing to spell)."""
        lower = text.lower()
        if not self._words or not LATIN_WORD.search(lower):
            return text
        spelled = _LATIN_RUN.sub(self._run, lower)
        return text if spelled == lower else spelled

    def _run(self, found: re.Match[str]) -> str:
        sounds: list[str] = []
        for word in found.group(0).split():
            parts = syllables(word)
            if parts is None:
                return found.group(0)  # an English word: the run is not pinyin
            sounds += parts
        out, i, spelled = [], 0, False
        while i < len(sounds):
            for n in range(min(self._longest, len(sounds) - i), 1, -1):
                spelt = self._words.get(tuple(sounds[i:i + n]))
                if spelt is not None:
                    out.append(spelt)
                    i, spelled = i + n, True
                    break
            else:
                out.append(f" {sounds[i]} ")
                i += 1
        return "".join(out).replace("  ", " ") if spelled else found.group(0)
