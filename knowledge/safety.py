"""Messages about danger, recognised before any ranking: suicidal thoughts, violence now,
domestic violence, a medical emergency, a child being hurt, someone in danger on the street.

The patterns and the replies are data (knowledge/safety/crisis.yaml), edited like the rest of
the knowledge base. Pure functions: no storage, no clock.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from knowledge.files import read_yaml

KINDS = ("suicide", "violence", "domestic", "medical", "child", "street")
# Earlier kinds win when a message matches several: a suicidal message about a violent
# partner gets the suicide reply (which names 110 and 120) first.
PRIORITY = ("suicide", "medical", "child", "domestic", "violence", "street")


@dataclass(frozen=True)
class CrisisKind:
    kind: str
    patterns: tuple[re.Pattern[str], ...]
    reply_zh: str
    reply_en: str
    needs_personal: bool = False


@dataclass(frozen=True)
class Crisis:
    """What a message was recognised as: its kind, and whether it also asks a procedure."""

    kind: CrisisKind
    asks_procedure: bool


def normalise(text: str) -> str:
    """Full-width folded, lower case, curly quotes straight, one space between words."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


def _near(first: str, second: str, gap: int) -> str:
    """A pattern for two groups of words at most `gap` characters apart, in either order,
    within one sentence (no 。！？.!? between them)."""
    between = f"[^。！？.!?\\n]{{0,{gap}}}"
    return f"(?:{first}){between}(?:{second})|(?:{second}){between}(?:{first})"


class SafetyCheck:
    """Recognises crisis messages; built once from the knowledge folder."""

    def __init__(self, kinds: dict[str, CrisisKind], not_: list[re.Pattern[str]],
                 personal: re.Pattern[str], procedure: re.Pattern[str],
                 meta: re.Pattern[str] | None = None) -> None:
        self.kinds = kinds
        self._not = not_
        self._meta = meta
        self._personal = personal
        self._procedure = procedure

    @classmethod
    def load(cls, folder: Path) -> SafetyCheck:
        path = folder / "safety" / "crisis.yaml"
        data = read_yaml(path) if path.exists() else {}
        data = data or {}
        kinds = {}
        for kind, raw in (data.get("kinds") or {}).items():
            patterns = [str(p) for p in raw.get("patterns") or ()]
            patterns += [_near(str(x), str(y), int(gap)) for x, y, gap in raw.get("near") or ()]
            kinds[str(kind)] = CrisisKind(
                str(kind), tuple(re.compile(p) for p in patterns),
                str(raw.get("reply_zh") or "").strip(), str(raw.get("reply_en") or "").strip(),
                bool(raw.get("needs_personal")))
        return cls(kinds, [re.compile(p) for p in data.get("not") or ()],
                   re.compile(str(data.get("personal") or "(?!)")),
                   re.compile(str(data.get("procedure") or "(?!)")),
                   re.compile(str(data["meta"])) if data.get("meta") else None)

    def check(self, text: str) -> Crisis | None:
        """The crisis a message is about, or None for an ordinary message."""
        norm = normalise(text)
        if self._meta is not None and self._meta.search(norm):
            return None  # danger as a subject (the news, a training, a joke), not a crisis
        for pattern in self._not:
            norm = pattern.sub(" ", norm)
        personal = bool(self._personal.search(norm))
        for name in PRIORITY:
            kind = self.kinds.get(name)
            if kind is None or (kind.needs_personal and not personal):
                continue
            if any(p.search(norm) for p in kind.patterns):
                return Crisis(kind, bool(self._procedure.search(norm)))
        return None
