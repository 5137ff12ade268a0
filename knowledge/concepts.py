"""Core concepts of questions, and which entries each question may be answered with
(knowledge/concepts.yaml): an entry needs one of its concepts in the question, and none of the
concepts that make the question another one."""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from knowledge.files import read_yaml


@dataclass(frozen=True)
class Rule:
    needs: tuple[str, ...] = ()  # at least one present (none listed: no condition)
    excludes: tuple[str, ...] = ()  # none present
    also: tuple[str, ...] = ()  # and at least one of these too (a fee needs a registration)


def _rules(raw: dict[str, dict[str, list[str]]] | None) -> dict[str, Rule]:
    return {str(k): Rule(tuple(v.get("needs") or ()), tuple(v.get("not") or ()),
                         tuple(v.get("also") or ()))
            for k, v in (raw or {}).items()}


class Concepts:
    def __init__(self, patterns: dict[str, re.Pattern[str]], topics: dict[str, Rule],
                 entries: dict[str, Rule], context: frozenset[str] = frozenset(),
                 typos: dict[str, str] | None = None,
                 situation: frozenset[str] = frozenset()) -> None:
        self.patterns = patterns
        # Common homophone typos read as what was meant ("结婚正" -> "结婚证") for concepts.
        self.typos = typos or {}
        self._typo = re.compile("|".join(re.escape(t) for t in sorted(self.typos, key=len,
                                                                      reverse=True))) \
            if self.typos else None
        self.topics = topics
        self.entries = entries
        # Concepts one question of a message lends the others ("结婚要带啥，要钱吗": the fee is
        # a marriage registration's).
        self.context = context
        # Concepts that tell the asker's situation ("在家里走了", "户口在湘潭", "外籍"): in a long
        # story they count wherever they are, as the topics do, not only in what it asks.
        self.situation = situation

    @classmethod
    def load(cls, folder: Path) -> Concepts:
        """concepts.yaml and any concepts_*.yaml beside it (one per group of topics)."""
        patterns: dict[str, re.Pattern[str]] = {}
        topics: dict[str, Rule] = {}
        entries: dict[str, Rule] = {}
        context: set[str] = set()
        situation: set[str] = set()
        typos: dict[str, str] = {}
        for path in sorted(folder.glob("concepts*.yaml")):
            data = read_yaml(path) or {}
            typos.update({str(k): str(v) for k, v in (data.get("typos") or {}).items()})
            context.update(str(c) for c in data.get("context") or ())
            situation.update(str(c) for c in data.get("situation") or ())
            for k, v in (data.get("concepts") or {}).items():
                patterns[str(k)] = re.compile(str(v))
            topics.update(_rules(data.get("topics")))
            entries.update(_rules(data.get("entries")))
        return cls(patterns, topics, entries, frozenset(context), typos, frozenset(situation))

    def fix_typos(self, text: str) -> str:
        """The text with the common homophone typos read as meant."""
        if self._typo is None:
            return text
        return self._typo.sub(lambda m: self.typos[m.group(0)], text)

    def present(self, question: str) -> frozenset[str]:
        """The concepts a question carries (remembered for the last few hundred questions:
        deciding one asks for them several times, for the whole and for its parts)."""
        return self._present(question)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one Concepts per knowledge base, kept for
    def _present(self, question: str) -> frozenset[str]:  # the process's life
        text = self.fix_typos(unicodedata.normalize("NFKC", question).lower())
        return frozenset(name for name, p in self.patterns.items() if p.search(text))

    def rule(self, entry_id: str, topic: str) -> Rule:
        return self.entries.get(entry_id) or self.topics.get(topic) or Rule()

    def allows(self, entry_id: str, topic: str, present: frozenset[str],
               excluding: frozenset[str] | None = None) -> bool:
        """Whether a question with these concepts may be answered with the entry
        (`excluding`: the concepts that may rule it out, when only some of them are sure)."""
        rule = self.rule(entry_id, topic)
        if rule.needs and not present.intersection(rule.needs):
            return False
        if rule.also and not present.intersection(rule.also):
            return False
        return not (present if excluding is None else excluding).intersection(rule.excludes)

    def excludes(self, entry_id: str, topic: str, present: frozenset[str]) -> bool:
        """Whether a concept present rules the entry out (its `not`), whatever it needs."""
        return bool(present.intersection(self.rule(entry_id, topic).excludes))

    def unknown(self) -> list[str]:
        """Concept names used by a rule, `context` or `situation` but not defined (reported by
        kb check)."""
        used = {c for r in (*self.topics.values(), *self.entries.values())
                for c in (*r.needs, *r.excludes, *r.also)} | self.context | self.situation
        return sorted(used - set(self.patterns))
