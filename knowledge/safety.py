"""Messages about danger, recognised before any ranking: suicidal thoughts, violence now,
domestic violence, a medical emergency, a child being hurt, someone in danger on the street.

The patterns and the replies are data (knowledge/safety/crisis.yaml), edited like the rest of
the knowledge base. Pure functions: no storage, no clock.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.classifier import TextClassifier, examples_hash, normalise
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
    # after the answer, for violence told as over behind a question ("前夫以前打过我，早就离了，
    # 再婚要什么材料"): a line on where to turn if it starts again, instead of the help first
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class Crisis:
    """What a message was recognised as: its kind, and whether it also asks a procedure."""

    kind: CrisisKind
    asks_procedure: bool
    over: bool = False  # violence that has ended, behind a question: the answer, then the note


@dataclass(frozen=True)
class Learned:
    """The classifier trained on knowledge/safety/examples.yaml (`python bot.py kb train`):
    it catches the crisis messages the patterns do not name, when it is sure enough."""

    model: TextClassifier
    none_below: float  # a message is a crisis when P(ordinary) is below this
    overrule_above: float = 1.0  # and a pattern's match is overruled when P(ordinary) is above


def examples_path(folder: Path) -> Path:
    return folder / "safety" / "examples.yaml"


def model_path(folder: Path) -> Path:
    return folder / "safety" / "model.json"


def load_examples(folder: Path) -> list[tuple[str, str]]:
    """(message, kind or "none") pairs the classifier is trained on."""
    path = examples_path(folder)
    rows = (read_yaml(path) or []) if path.exists() else []
    return [(str(r["q"]), str(r["crisis"])) for r in rows]


def train(folder: Path) -> TextClassifier:
    """Train the classifier on the examples (read as the check reads a message: normalised,
    everyday exaggerations removed) and write its weights beside them."""
    examples = load_examples(folder)
    check = SafetyCheck.load(folder)
    model = TextClassifier.train([(check.prepared(q), label) for q, label in examples],
                                 fingerprint=fingerprint(folder, check))
    model_path(folder).write_text(model.to_json() + "\n", encoding="utf-8")
    return model


def fingerprint(folder: Path, check: SafetyCheck) -> str:
    """What the weights were trained on: the examples, and the `not` patterns that prepare
    each message (editing either calls for training again)."""
    return examples_hash([*load_examples(folder), *check.exaggerations()])


def model_is_stale(folder: Path) -> bool:
    """Whether the stored weights were trained on other examples than the current ones."""
    if not examples_path(folder).exists():
        return False
    if not model_path(folder).exists():
        return True
    check = SafetyCheck.load(folder)  # reads the weights when the classifier is switched on
    model = check.learned.model if check.learned is not None else \
        TextClassifier.from_json(model_path(folder).read_text(encoding="utf-8"))
    return model.trained_on != fingerprint(folder, check)


_CLAUSE_END = re.compile(r"[。！？!?;；\n]")  # a match's sentence: 3.5 and "Mr. Li" stay whole
# Where a clause ends, for telling a sentence about the news from one about now in a chat
# message ("刚看新闻说有人跳楼 我现在就想跳下去"): the sentence ends, commas, an English full
# stop before a space, and a space between Chinese words.
_CLAUSE = re.compile(r"[。！？!?;；\n，,]|\.(?=\s)|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# Any question at all, for a suicide that is over ("我想学怎么陪伴她", "are there courses"):
# a story told without one is not read as over.
_QUESTION = re.compile(r"[?？]|吗|怎么|怎样|如何|有没有|哪里|哪个|能不能|可不可以|"
                       r"\b(?:how|what|where|which|are there|is there|can|could|should)\b")


# What a clause that goes on telling what the clause before it saw opens with ("刷到一个视频，
# 说有个小孩被锁在车里"): it is about what was seen, as the clause before it is.
_REPORTED = re.compile(r"\s*(?:说|讲的是|讲|写着|写的是|里面|里头|视频里|画面里|"
                       r"saying|it said|which said)")


def _near(first: str, second: str, gap: int) -> str:
    """A pattern for two groups of words at most `gap` characters apart, in either order,
    within one sentence (no 。！？.!? between them)."""
    between = f"[^。！？.!?\\n]{{0,{gap}}}"
    return f"(?:{first}){between}(?:{second})|(?:{second}){between}(?:{first})"


class SafetyCheck:
    """Recognises crisis messages; built once from the knowledge folder."""

    def __init__(self, kinds: dict[str, CrisisKind], not_: list[re.Pattern[str]],
                 personal: re.Pattern[str], procedure: re.Pattern[str],
                 meta: re.Pattern[str] | None = None, learned: Learned | None = None,
                 past: tuple[frozenset[str], re.Pattern[str], re.Pattern[str]] | None = None,
                 over: tuple[re.Pattern[str], re.Pattern[str]] | None = None,
                 not_meta: re.Pattern[str] | None = None,
                 meta_whole: re.Pattern[str] | None = None,
                 ended: re.Pattern[str] | None = None,
                 going_on: re.Pattern[str] | None = None,
                 meta_urgent: re.Pattern[str] | None = None,
                 live: re.Pattern[str] | None = None,
                 soft: tuple[re.Pattern[str], float] | None = None) -> None:
        self.kinds = kinds
        self._live = live  # "十分钟前发的", "发了定位": what was seen online goes on now
        self._soft = soft  # "哈哈", "就是吐槽一下": the classifier alone must be surer
        self._meta_urgent = meta_urgent  # "我该找谁": a sentence seen online is a report
        self._ended = ended  # "早就离了", "he is in prison": violence that has ended
        self._going_on = going_on  # "他还经常来", "still": and yet it goes on
        self._not_meta = not_meta  # "我没有开玩笑": words that deny a `meta` word
        self._meta_whole = meta_whole  # "开玩笑的": makes the whole message no crisis
        self._past = past
        self._over = over
        self.learned = learned
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
                bool(raw.get("needs_personal")), str(raw.get("note_zh") or "").strip(),
                str(raw.get("note_en") or "").strip())
        learned = None
        if model_path(folder).exists() and data.get("none_below") is not None:
            model = TextClassifier.from_json(model_path(folder).read_text(encoding="utf-8"))
            learned = Learned(model, float(data["none_below"]),
                              float(data.get("overrule_above", 1.0)))
        over = None
        if data.get("over"):
            over = (re.compile(str(data["over"])), re.compile(str(data.get("wish") or "(?!)")))
        past = None
        if data.get("past_kinds"):
            past = (frozenset(str(k) for k in data["past_kinds"]),
                    re.compile(str(data.get("past") or "(?!)")),
                    re.compile(str(data.get("now") or "(?!)")))
        return cls(kinds, [re.compile(p) for p in data.get("not") or ()],
                   re.compile(str(data.get("personal") or "(?!)")),
                   re.compile(str(data.get("procedure") or "(?!)")),
                   re.compile(str(data["meta"])) if data.get("meta") else None, learned, past,
                   over, re.compile(str(data["not_meta"])) if data.get("not_meta") else None,
                   re.compile(str(data["meta_whole"])) if data.get("meta_whole") else None,
                   re.compile(str(data["ended"])) if data.get("ended") else None,
                   re.compile(str(data.get("going_on") or "(?!)")),
                   re.compile(str(data["meta_urgent"])) if data.get("meta_urgent") else None,
                   re.compile(str(data["live"])) if data.get("live") else None,
                   (re.compile(str(data["soft"])), float(data.get("soft_below", 0.0)))
                   if data.get("soft") else None)

    def exaggerations(self) -> list[tuple[str, str]]:
        """The `not` patterns, as (pattern, "not") pairs for the training fingerprint."""
        return [(p.pattern, "not") for p in self._not]

    def prepared(self, text: str) -> str:
        """The message as the patterns read it: normalised, exaggerations removed."""
        norm = normalise(text)
        for pattern in self._not:
            norm = pattern.sub(" ", norm)
        return norm

    def _long_ago(self, kind: str, text: str) -> bool:
        """Whether `text` (the sentence of a match, or the message) tells of the past or of a
        fear rather than of now, for a kind where that makes it a story behind a question."""
        if self._past is None:
            return False
        kinds, past, now = self._past
        return kind in kinds and bool(past.search(text)) and not now.search(text)

    def _suicide_over(self, norm: str) -> bool:
        """Whether the message tells of a suicide that is over (a death years ago, someone
        recovered) and of the past, never of now nor of a wish to die of the writer's own."""
        if self._over is None or self._past is None:
            return False
        over, wish = self._over
        _kinds, past, now = self._past
        return bool(over.search(norm)) and bool(past.search(norm)) and not now.search(norm) \
            and not wish.search(norm)

    @staticmethod
    def _sentence(norm: str, found: re.Match[str], ends: re.Pattern[str] = _CLAUSE_END) -> str:
        """The sentence of the message that holds a match."""
        start = max((m.end() for m in ends.finditer(norm, 0, found.start())), default=0)
        end = ends.search(norm, found.end())
        return norm[start:end.start() if end else len(norm)]

    def _now(self, text: str) -> bool:
        """Whether `text` tells of now or of something going on (现在还, 正在, 天天, right now):
        what a clause needs to be a crisis in a message that also speaks of danger as a
        subject, and what keeps violence from being read as over."""
        going_on = self._going_on is not None and bool(self._going_on.search(text))
        return going_on or (self._past is not None and bool(self._past[2].search(text)))

    def _about(self, text: str, pattern: re.Pattern[str] | None) -> bool:
        """Whether `text` speaks of danger as a subject (`pattern`: meta or meta_whole), once
        the words that deny it ("我不是开玩笑") are taken out."""
        if pattern is None:
            return False
        if self._not_meta is not None:
            text = self._not_meta.sub(" ", text)
        return bool(pattern.search(text))

    def _not_about(self, norm: str) -> str:
        """What the classifier reads when no pattern matched: the message, or in a message
        that speaks of danger as a subject (the news, a film, a training), its sentences
        that do not and tell of now; "" when there are none."""
        if not self._about(norm, self._meta):
            return norm
        urgent, live = self._reported(norm), self._going_on_now(norm)
        kept = [norm[start:stop] for start, stop, about in self._clauses(norm)
                if not about or self._seen_now(norm[start:stop], urgent, live)]
        rest = "".join(kept).strip()
        return rest if self._now(rest) else ""

    def _match(self, kind: CrisisKind, norm: str) -> re.Match[str] | None:
        """The first match of a kind's patterns, in a message that speaks of danger as a
        subject only in a sentence that does not and tells of now ("电视剧里他拿刀威胁老婆。
        我老公现在又拿刀对着我": the second sentence)."""
        about = self._about(norm, self._meta)
        urgent = about and self._reported(norm)  # only a message with a `meta` word needs them
        live = about and self._going_on_now(norm)
        clauses = self._clauses(norm) if about else []
        for pattern in kind.patterns:
            for found in pattern.finditer(norm):
                if not about:
                    return found
                clause = self._sentence(norm, found, _CLAUSE)
                on_subject = any(a for start, stop, a in clauses if start <= found.start() < stop)
                if not on_subject and self._now(clause):
                    return found
                if self._seen_now(clause, urgent, live):
                    return found  # "刷到一个女生说今晚要跳楼,发了定位,我该找谁"
        return None

    def _clauses(self, norm: str) -> list[tuple[int, int, bool]]:
        """The message's clauses (start, end) and whether each speaks of danger as a subject:
        it has a `meta` word, or it goes on telling what the clause before it, which does,
        saw ("刷到一个视频，说有个小孩被锁在车里")."""
        out, start, before = [], 0, False
        for end in [*_CLAUSE.finditer(norm), None]:
            stop = end.end() if end else len(norm)
            clause = norm[start:stop]
            about = self._about(clause, self._meta) or (before and bool(_REPORTED.match(clause)))
            out.append((start, stop, about))
            start, before = stop, about
        return out

    def _reported(self, norm: str) -> bool:
        """Whether a message that speaks of danger seen online or in the news asks what to
        do about it now ("我该找谁", "should I call the police"): then a sentence of it that
        tells of now (今晚, 现在, right now) is a report of danger, not a subject."""
        return self._meta_urgent is not None and bool(self._meta_urgent.search(norm))

    def _seen_now(self, clause: str, urgent: bool, live: bool) -> bool:
        """Whether a clause about something seen online is a report of danger now: it tells
        of now (今晚, 现在) and the message asks what to do or says it goes on (posted minutes
        ago, a live stream), or the message both asks and says it goes on."""
        now = self._past is not None and bool(self._past[2].search(clause))
        return (urgent and (now or live)) or (live and now)

    def _going_on_now(self, norm: str) -> bool:
        """Whether what a message saw online goes on now: posted minutes ago, a location, a
        live stream, still there."""
        return self._live is not None and bool(self._live.search(norm))

    @staticmethod
    def _overruled(learned: Learned, norm: str, found: re.Match[str], kind: str) -> bool:
        """Whether the classifier is sure enough that the sentence holding the match is
        ordinary. Never for suicide: "结婚要带什么？我不想活了" must get the help, and a
        procedural question around it makes the whole message look ordinary."""
        if kind == "suicide":
            return False
        sentence = SafetyCheck._sentence(norm, found)
        return learned.model.predict(sentence).other > learned.overrule_above

    def _ended_behind(self, kind: CrisisKind, norm: str, asks: bool) -> bool:
        """Whether the message tells of violence that has ended (the marriage long over, the
        man in prison), behind a question about a procedure: every clause that names the
        violence tells of the past, and nothing in the message tells of now, of a threat or
        of it going on (天天, 昨天, 威胁, outside, still)."""
        if not (kind.note_zh and asks and self._ended is not None and self._past is not None):
            return False
        past = self._past[1]
        if not (self._ended.search(norm) and past.search(norm)) or self._now(norm):
            return False
        return all(past.search(self._sentence(norm, found, _CLAUSE))
                   for pattern in kind.patterns for found in pattern.finditer(norm))

    def check(self, text: str) -> Crisis | None:
        """The crisis a message is about (the emergency reply first), or None: an ordinary
        message, or violence that has ended told behind a question (see `read`)."""
        crisis = self.read(text)
        return None if crisis is None or crisis.over else crisis

    def read(self, text: str) -> Crisis | None:
        """What a message is about: a crisis, violence that has ended behind a question
        (`over`: the answer, then the kind's note), or None for an ordinary message."""
        plain = normalise(text)  # with the words `not` takes out: "中风三年了" is the past
        if self._about(plain, self._meta_whole):
            return None  # "我不想活了哈哈，开玩笑的": a joke, curiosity, not a crisis
        norm = self.prepared(text)
        personal = bool(self._personal.search(norm))
        learned = self.learned
        asks = bool(self._procedure.search(norm))
        for name in PRIORITY:
            kind = self.kinds.get(name)
            if kind is None or (kind.needs_personal and not personal):
                continue
            found = self._match(kind, norm)
            if found is not None:
                if asks and (self._long_ago(kind.kind, self._sentence(norm, found))
                             or self._long_ago(kind.kind, plain)):
                    continue  # "他小时候走丢过一次，社区有防走失手环吗", "中风三年了"
                if kind.kind == "suicide" and (asks or _QUESTION.search(norm)) \
                        and self._suicide_over(norm):
                    return None  # "我哥两年前自杀走的,嫂子现在打算再婚,要准备什么材料"
                ended = self._ended_behind(kind, norm, asks)
                if not ended and learned and self._overruled(learned, norm, found, kind.kind):
                    return None  # the words match, the sentence they are in is ordinary
                return Crisis(kind, asks, ended)  # violence that has ended: still the note
        if learned is None:
            return None
        norm = self._not_about(norm)  # no pattern matched: the rest of the text decides
        if not norm:
            return None
        ordinary = learned.model.predict(norm)
        kind = self.kinds.get(ordinary.label)
        below = learned.none_below
        if self._soft is not None and self._soft[0].search(plain):
            below = min(below, self._soft[1])  # "哈哈", "还好啦", "问题不大": no words of danger
        if kind is not None and ordinary.other < below:
            if asks and self._long_ago(kind.kind, norm):
                return None  # a fall feared, a child once lost: the question is the service
            return Crisis(kind, asks, self._ended_behind(kind, norm, asks))
        return None

    def with_learned(self, learned: Learned | None) -> SafetyCheck:
        """The same check with another classifier, or with the patterns alone (None)."""
        out = copy.copy(self)
        out.learned = learned
        return out
