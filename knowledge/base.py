"""The knowledge base: loads the YAML data files, ranks entries for a question, decides."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from knowledge.concepts import Concepts
from knowledge.directory import Directory
from knowledge.files import layered, read_yaml, registries
from knowledge.learned import EntryModel
from knowledge.pinyin import (
    TABLE_FILE,
    HomophoneFixer,
    PinyinConcepts,
    PinyinIndex,
    PinyinSpeller,
    PinyinTable,
    concept_words,
    looks_pinyin,
)
from knowledge.places import Gazetteer, PlaceMatch
from knowledge.ranker import Ranker, cached
from knowledge.safety import SafetyCheck
from knowledge.text import Synonyms, guess_language
from knowledge.villages import DisclosureBook
from knowledge.villages import load as load_villages

KNOWLEDGE_DIR = Path(__file__).resolve().parent
TOPICS = ("marriage", "divorce", "certificate", "disclosure", "inspection", "community",
          "volunteer", "hotline", "bot", "out_of_scope", "assistance", "disability", "elderly",
          "funeral", "adoption", "vagrant", "social_org", "family")
PLACE_KINDS = ("district", "community", "any")
MAX_ANSWERS = 3  # answers given to one message of several questions
# Where one question of a message ends and the next begins.
_QUESTION_BREAK = re.compile(r"[？?！!。；;\n]+|还有(?:就是)?|另外|顺便(?:问一下|问问|问)?|"
                             r"再问(?:一下)?|以及|\band also\b|\balso,|[,，]\s*also\b|\bbesides\b|"
                             r",? and (?=(?:how|what|where|when|who|do|does|can|is|are|should|"
                             r"will|if)\b)")


# A clause that asks something: a comma after it may start another question
# ("结婚证丢了能补吗，补要钱不", "低保怎么申请，一个月能拿多少").
_ASKS = re.compile(r"[吗呢嘛?？]\s*$|么\s*$|[?？]|怎|咋|什么|啥|哪|多少|多久|多长|"
                   r"几[天号点次岁级]|是否|能否|可否|要不要|能不能|可不可以|有没有|是不是|会不会|找谁|"
                   r"^\s*(?:how|what|where|when|who|which|can|could|do|does|is|are|should)\b|"
                   r"(?:不|没|没有)\s*$|([\u4e00-\u9fff])[不没]\1|还是(?!没)",
                   re.IGNORECASE)  # 吗 at the end, English words first, 上不上班, A还是B
# a comma, or a space between Chinese clauses (people on phones type one for a comma)
_COMMA = re.compile(r"([,，]|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff]))")


def _split_commas(part: str) -> list[str]:
    """A part cut at the commas where the clauses before and after both ask something; a
    story's clauses (no question in them) stay with the question they lead to."""
    pieces = _COMMA.split(part)  # clauses, with the commas between them kept
    clauses, commas = pieces[::2], [*pieces[1::2], ""]
    out: list[str] = []
    current = ""
    for i, clause in enumerate(clauses):
        rest = clauses[i + 1:]
        if rest and _ASKS.search(clause) and _ASKS.search(rest[0]):
            out.append(current + clause)
            current = ""
        else:
            current += clause + commas[i]
    if current:
        out.append(current)
    return out


def story_clauses(text: str) -> list[str]:
    """Every clause of a message (cut at sentence ends, commas and the spaces people type for
    commas)."""
    return [c.strip() for p in _QUESTION_BREAK.split(text) for c in _COMMA.split(p)[::2]
            if c.strip()]


def _short(part: str) -> bool:
    """Short enough to leave out its subject: a few Chinese characters or English words."""
    if _HANZI.search(part):
        return len(part) <= ELLIPSIS_CHARS
    return len(part.split()) <= ELLIPSIS_WORDS


def split_questions(text: str) -> list[str]:
    """The questions of a message (one, or several separated by ？。; 还有, 另外..., or by a
    comma between two clauses that each ask something)."""
    parts = [p.strip(" ，,") for p in _QUESTION_BREAK.split(text) if len(p.strip(" ，,")) >= 2]
    return [c.strip(" ，,") for p in parts for c in _split_commas(p)
            if len(c.strip(" ，,")) >= 2]


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    q_zh: tuple[str, ...]
    q_en: tuple[str, ...]
    a_zh: str
    a_en: str
    source: str = ""
    confidence: str = ""
    historical: bool = False
    places: tuple[str, ...] = ()
    see_also: tuple[str, ...] = ()
    needs_place: str | None = None
    directory: bool = False  # about services a resident can look up in the directory
    flow: str | None = None  # a conversation the answer starts (e.g. volunteer sign-up)
    label_zh: str = ""  # a short label for buttons ("结婚登记带什么"); else the first phrasing
    label_en: str = ""
    file: str = field(default="", compare=False)

    @property
    def out_of_scope(self) -> bool:
        return self.topic == "out_of_scope"


ELSEWHERE = "oos.other_city"  # the answer for a service in another city
_HANZI = re.compile(r"[\u4e00-\u9fff]")
ELLIPSIS_CHARS = 12  # a part this short may leave out its subject ("要不要钱", "周六能办不")
ELLIPSIS_WORDS = 10  # ...or this many English words ("does my girlfriend have to come too")
# Words of 湖南话 and 西南官话 that mark a question typed as said.
_DIALECT = re.compile(r"冇|咯|哒|么子|啥子|咋个|啷个|屋里|堂客|伢|搞得成|要得不|晓得|莫得|脑壳"
                      r"|嘛$")
MAX_FIXES = 4  # sound-alike fixes of a declined question tried, the longest words first


@dataclass(frozen=True)
class Decision:
    """What the ranking decided for one question; rendering into text is the handlers' job."""

    kind: str  # answer | clarify | need_place | out_of_scope | fallback | empty
    lang: str
    entry: Entry | None = None
    score: float = 0.0
    candidates: tuple[tuple[Entry, float], ...] = ()
    places: tuple[PlaceMatch, ...] = ()
    also: tuple[Decision, ...] = ()  # the other questions of the same message, answered

    @property
    def fallback(self) -> bool:
        return self.kind in ("fallback", "out_of_scope", "empty")


@dataclass(frozen=True)
class MenuTopic:
    id: str
    title_zh: str
    title_en: str
    items: tuple[tuple[str, str, str], ...]  # (entry id, label zh, label en)
    actions: tuple[tuple[str, str, str], ...] = ()  # (button payload, label zh, label en)


def entry_from_data(raw: dict, file: str) -> Entry:
    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(x) for x in (raw.get(key) or ()))

    return Entry(
        id=str(raw.get("id", "")), topic=str(raw.get("topic", "")),
        q_zh=strings("q_zh"), q_en=strings("q_en"),
        a_zh=str(raw.get("a_zh") or "").strip(), a_en=str(raw.get("a_en") or "").strip(),
        source=str(raw.get("source") or ""), confidence=str(raw.get("confidence") or ""),
        historical=bool(raw.get("historical")), places=strings("places"),
        see_also=strings("see_also"), needs_place=raw.get("needs_place"),
        directory=bool(raw.get("directory")), flow=raw.get("flow"), file=file,
        label_zh=str(raw.get("label_zh") or ""), label_en=str(raw.get("label_en") or ""),
    )


class KnowledgeBase:
    """Entries, places, synonyms and menu from knowledge/, with the ranking built once."""

    def __init__(self, entries: list[Entry], gazetteer: Gazetteer, synonyms: Synonyms,
                 menu: list[MenuTopic], ranking: dict[str, float],
                 directory: Directory | None = None,
                 villages: DisclosureBook | None = None,
                 safety: SafetyCheck | None = None,
                 concepts: Concepts | None = None,
                 pinyin_table: Path = TABLE_FILE,
                 learned: EntryModel | None = None,
                 cache: Path | None = None) -> None:
        self.entries = {e.id: e for e in entries}
        self.cache = cache  # where the ranking's index is kept between runs (None: nowhere)
        self.gazetteer = gazetteer
        self.directory = directory or Directory([], [], [], gazetteer)
        self.villages = villages or DisclosureBook([], [], [], date(2026, 10, 1))
        self.concepts = concepts or Concepts({}, {}, {})
        self.safety = safety or SafetyCheck({}, [], re.compile("(?!)"), re.compile("(?!)"))
        self.synonyms = synonyms
        self.menu = menu
        self.ranking = ranking
        self.pinyin_table_file = pinyin_table
        self.learned = learned

    @functools.cached_property
    def ranker(self) -> Ranker:
        """The index of every phrasing, built at the first question (loading the knowledge
        base for `kb check`, an import or the CLI's other commands does not need it)."""
        phrasings = {e.id: [self.gazetteer.strip(q) for q in (*e.q_zh, *e.q_en)]
                     for e in self.entries.values()}
        return cached(phrasings, self.synonyms, self.ranking.get("best_weight", 0.7),
                      self.cache)

    @classmethod
    def load(cls, directory: Path = KNOWLEDGE_DIR, data: Path | None = None) -> KnowledgeBase:
        """The shipped knowledge base in `directory`, with the operator's data (`data`,
        BOT_DATA_DIR) layered over it: registry office details, service points, teams,
        communities and villages, and what `directory import`/`disclosure import` wrote."""
        entries = [entry_from_data(raw, path.name)
                   for path in sorted((directory / "entries").glob("*.yaml"))
                   for raw in (read_yaml(path) or [])]
        places = read_yaml(directory / "places.yaml") or {}
        own = registries(data)
        for district in places.get("districts") or ():
            if str(district.get("id")) in own:
                district["registry"] = {**(district.get("registry") or {}),
                                        **own[str(district["id"])]}
        for path in layered(directory / "directory", "communities*.yaml",
                            data / "directory" if data else None):
            extra = (read_yaml(path) or {}).get("communities") or []
            places["communities"] = [*(places.get("communities") or []), *extra]
        gazetteer = Gazetteer.from_data(places)
        book, new_places = load_villages(directory / "disclosure", gazetteer.places, read_yaml,
                                         data / "disclosure" if data else None)
        if new_places:  # villages not in places.yaml are recognised in questions too
            gazetteer = Gazetteer([*gazetteer.places.values(), *new_places])
        synonyms = Synonyms.from_data(read_yaml(directory / "synonyms.yaml"))
        menu_data = read_yaml(directory / "menu.yaml") or {}
        menu = [MenuTopic(t["id"], t["title_zh"], t["title_en"],
                          tuple((i["entry"], i["zh"], i["en"]) for i in t.get("items") or ()),
                          tuple((a["button"], a["zh"], a["en"]) for a in t.get("actions") or ()))
                for t in menu_data.get("topics", [])]
        ranking = {k: float(v) for k, v in (read_yaml(directory / "ranking.yaml") or {}).items()}
        services = Directory.load(directory / "directory", gazetteer,
                                  data / "directory" if data else None)
        concepts = Concepts.load(directory)
        return cls(entries, gazetteer, synonyms, menu, ranking, services, book,
                   SafetyCheck.load(directory), concepts,
                   table if (table := directory / TABLE_FILE.name).exists() else TABLE_FILE,
                   EntryModel.load(directory, concepts.present),
                   data / "cache" if data else None)

    def phrasings(self) -> dict[str, tuple[str, ...]]:
        """Every entry's phrasings, Chinese and English: what the ranking learns from."""
        return {e.id: (*e.q_zh, *e.q_en) for e in self.entries.values()}

    def prepared(self, question: str) -> str:
        """A question as the ranking reads it: typos put right, place names taken out."""
        return self.gazetteer.strip(self.concepts.fix_typos(question))

    def decide(self, question: str, lang: str | None = None) -> Decision:
        """Answer, ask back (near tie or missing place), or decline. A message of several
        questions gets the answers of up to three (`also`); a long story the answer to the
        question inside it."""
        lang = lang or ("zh" if looks_pinyin(question) else guess_language(question))
        elsewhere = self._elsewhere(question, lang)
        if elsewhere is not None:
            return elsewhere
        if "translate_request" in self.concepts.present(question):
            return Decision("fallback", lang)  # a translation is not a question for us
        if _HANZI.search(question):
            question = self.speller.spell(question)  # 网上yuyue -> 网上预约
        whole = self._decide_one(question, lang)
        if looks_pinyin(question) and not _HANZI.search(question):
            # All in pinyin ("jiuzhuzhan zai nali"): the pinyin index of the Chinese phrasings
            # reads it as a whole; the main ranking, where English phrasings carry pinyin words
            # ("jiuzhuzhan what help they give"), only when that declines.
            pinyin = self._decide_pinyin(question, whole)
            whole = pinyin if not pinyin.fallback or whole.kind == "fallback" else whole
        elif whole.kind == "fallback" and looks_pinyin(question):
            whole = self._decide_pinyin(question, whole)
        elif whole.kind == "fallback" and _HANZI.search(question):
            for fixed in self.homophones.fixes(question)[:MAX_FIXES]:  # 地保 for 低保
                d = self._decide_one(fixed, lang)
                if not d.fallback and d.score >= self.ranking.get("threshold_homophone", 0.25):
                    whole, question = d, fixed
                    break
        elif _HANZI.search(question) and whole.score < self.ranking.get("homophone_below", 0.4):
            # An answered question may carry a slip too (残疾人生活不贴, 救助站电化多少): the fix
            # is taken when it answers with another entry, clearly surer (a sure answer is not
            # read again: it costs a ranking per fix).
            gain = self.ranking.get("homophone_gain", 0.1)
            bar = max(self.ranking.get("threshold_homophone", 0.25), whole.score + gain)
            for fixed in self.homophones.fixes(question)[:MAX_FIXES]:
                d = self._decide_one(fixed, lang)
                if d.kind == "answer" and d.entry is not None and d.score >= bar and (
                        whole.entry is None or d.entry.id != whole.entry.id):
                    whole, question = d, fixed
                    break
        parts = split_questions(question)
        if len(parts) < 2:
            return whole
        context = self.concepts.present(question) & self.concepts.context
        if whole.kind == "answer" and whole.entry is not None:
            # The parts are read in the topic the whole message is about: "要准备什么材料" in a
            # story of an adoption that mentions a marriage asks for the adoption's papers.
            rule = self.concepts.rule(whole.entry.id, whole.entry.topic)
            topic = context & {*rule.needs, *rule.also}
            context = topic or context
        found: list[Decision] = []
        previous = ""
        for part in parts:
            d = self._decide_one(part, lang, context)
            if d.kind == "fallback" and d.candidates and whole.kind == "answer" and whole.entry \
                    and found and _ASKS.search(part):
                d = self._follow_up(d, whole.entry)
            if d.kind == "fallback" and found and _ASKS.search(previous) and _ASKS.search(part) \
                    and _short(part):
                d = self._elliptical(previous, part, lang, context, found, d)
            elif d.kind in ("answer", "clarify") and d.entry and found and found[-1].entry \
                    and d.entry.topic != found[-1].entry.topic and _short(part) \
                    and _ASKS.search(part) \
                    and not self.concepts.present(part) & self.concepts.context:
                # "补领结婚证多少钱 要等几天": a short part naming no subject of its own asks about
                # the one before it, not whatever other topic its words fit (a divorce's wait)
                read = self._elliptical(previous, part, lang, context, found, d)
                rule = self.concepts.rule(d.entry.id, d.entry.topic)
                if read.kind in ("answer", "out_of_scope") and read.entry \
                        and read.entry.topic != d.entry.topic:
                    d = read
                elif found[-1].kind == "out_of_scope" or (
                        rule.also and not self.concepts.present(part) & set(rule.also)):
                    # "How do I renew my passport, and how long does it take?": how long the
                    # passport takes, the other office's business too, not a divorce's wait;
                    # "救助站可以住几天? 要不要钱?": the station's price, not a registration's
                    # (the fee entry's subject is not in the part)
                    d = replace(d, kind="fallback")
            previous = part
            if d.kind == "clarify" and d.entry is not None and (
                    not d.entry.needs_place or self.place_for(d.entry, d.places)):
                # one question among several is not asked back: its best entry answers it
                d = replace(d, kind="answer", candidates=d.candidates[1:])
            if d.kind in ("answer", "out_of_scope") and d.entry and all(
                    d.entry.id != f.entry.id for f in found if f.entry):
                found.append(d)  # "婚假几天" beside a registration question: whose it is
        if whole.kind == "answer" and whole.entry and found and all(
                whole.entry.id != f.entry.id for f in found if f.entry):
            found.append(whole)  # what the whole message asks that no single part did
        if len(found) >= 2 and any(f.kind == "answer" for f in found):
            lead = next((i for i, f in enumerate(found) if whole.entry and f.entry
                         and f.entry.id == whole.entry.id), None)
            if lead is not None and (whole.score >= max(f.score for f in found) or len(
                    question) > self.ranking.get("long_chars", 60)):
                # What the whole asks leads when it is surest, and always in a long story: its
                # telling ("在家里走了") decides as much as the question at its end does.
                found.insert(0, found.pop(lead))
            found.sort(key=lambda f: f.kind != "answer")  # ours first, then whose the rest is
            return replace(found[0], also=tuple(found[1:MAX_ANSWERS]))
        found = [f for f in found if f.kind == "answer"]
        if whole.kind != "answer" and found:
            return found[0]
        return whole

    def _elliptical(self, previous: str, part: str, lang: str, context: frozenset[str],
                    found: list[Decision], declined: Decision) -> Decision:
        """A short part that leaves out its subject ("补办离婚证要啥材料 另一方要到场不"): read
        with the part before it, for an entry not answered yet."""
        answered = {f.entry.id for f in found if f.entry}
        joined = f"{previous} {part}"
        places = tuple(self.gazetteer.find(joined))
        # Both parts' words rank. The concepts that allow are the whole's but for those only the
        # part before asked ("有什么区别" is not asked again by "能同时领吗"; 低保 and 特困 carry
        # over as the subject), and the part must add one of the entry's own concepts ("要不要钱":
        # a fee; "能同时领吗" after 低保和特困: both at once), or any entry of the topic would do.
        before = self.concepts.present(previous)
        both = self.concepts.present(joined)
        added = (both - before) | self.concepts.present(part)
        present = added | (both & self.concepts.context) | context
        scored = [(e, s) for e, s in self._scored(joined, {pm.place.id for pm in places}, context,
                                                  present=present)
                  if e.id not in answered and added & self._own_concepts(e)]
        if not scored or scored[0][1] < self.ranking.get("threshold_ellipsis", 0.1):
            return declined
        entry, score = scored[0]
        if entry.needs_place and not self.place_for(entry, places):
            return declined
        kind = "out_of_scope" if entry.out_of_scope else "answer"
        return Decision(kind, lang, entry, score, places=places)

    def _inseparable(self, question: str, context: frozenset[str], top: Entry,
                     siblings: list[Entry]) -> bool:
        """Whether a sibling this close carries its own concept, or the top one carries none
        either (the concepts are read only when there is such a sibling: most questions have
        none)."""
        if not siblings:
            return False
        present = self._story_concepts(question) | context
        return not self._specific(top, present) or any(
            self._specific(e, present) for e in siblings)

    def _specific(self, entry: Entry, present: frozenset[str]) -> bool:
        """Whether the question carries a concept the entry's own rule needs, beyond the
        topic words (材料 for divorce.documents; not 离婚 for divorce.procedure)."""
        rule = self.concepts.entries.get(entry.id)
        return rule is not None and bool(present.intersection(rule.needs) - self.concepts.context)

    def _own_concepts(self, entry: Entry) -> frozenset[str]:
        """The concepts an entry's own rule asks for (none when it has only its topic's)."""
        rule = self.concepts.entries.get(entry.id)
        return frozenset((*rule.needs, *rule.also)) if rule else frozenset()

    def _follow_up(self, part: Decision, whole: Entry) -> Decision:
        """A short part of a message about the same subject as the whole ("临时救助能给多少钱?
        要不要本地户口") scores low on its own words; its best entry of the whole's topic answers
        it at a lower bar."""
        entry, score = part.candidates[0]
        if score < self.ranking.get("threshold_follow_up", 0.06) or entry.needs_place:
            return part
        if entry.out_of_scope:  # its concept is there ("社保个人账户"): whose business it is
            return replace(part, kind="out_of_scope", entry=entry, score=score, candidates=())
        if entry.topic != whole.topic:
            return part
        return replace(part, kind="answer", entry=entry, score=score, candidates=())

    def _elsewhere(self, question: str, lang: str) -> Decision | None:
        """A service in another city ("湘潭低保怎么申请") that names no place of Changsha: we
        have nothing on it, so say where to ask there instead of answering with Changsha's."""
        entry = self.entries.get(ELSEWHERE)
        if entry is None or "elsewhere" not in self.concepts.present(question):
            return None
        if self.gazetteer.find(question):
            return None
        return Decision("out_of_scope", lang, entry, 1.0)

    @functools.cached_property
    def pinyin_table(self) -> PinyinTable:
        return PinyinTable.load(self.pinyin_table_file)

    @functools.cached_property
    def pinyin(self) -> PinyinIndex:
        """The pinyin index of the Chinese phrasings, built at the first pinyin question."""
        return PinyinIndex({e.id: [self.gazetteer.strip(q) for q in e.q_zh]
                            for e in self.entries.values()}, self.pinyin_table)

    @functools.cached_property
    def pinyin_concepts(self) -> PinyinConcepts:
        return PinyinConcepts(self.concepts.patterns, self.pinyin_table)

    @functools.cached_property
    def concept_sounds(self) -> dict[tuple[str, ...], dict[str, set[str]]]:
        """The concepts' words by their syllables, shared by the speller and the fixer."""
        return concept_words(self.concepts.patterns, self.pinyin_table)

    @functools.cached_property
    def speller(self) -> PinyinSpeller:
        return PinyinSpeller(self.concept_sounds,
                             (q for e in self.entries.values() for q in e.q_zh))

    @functools.cached_property
    def homophones(self) -> HomophoneFixer:
        return HomophoneFixer(self.concepts.patterns, self.pinyin_table, self.concept_sounds)

    def _decide_pinyin(self, question: str, declined: Decision) -> Decision:
        """A question in (half) pinyin the ordinary ranking declined: the pinyin index may
        answer it, when it is clearly one entry."""
        found = self.pinyin.rank(question, limit=10)
        # the concepts decide here too, read in pinyin ("jiehunzheng diule": a replacement)
        sure, perhaps = self.pinyin_concepts.present(question)
        sure |= self.concepts.present(question)
        tries = [(found, self.ranking.get("threshold_pinyin", 0.35))]
        if sure:
            tries = [([s for s in found if self.concepts.allows(
                s.entry_id, self.entries[s.entry_id].topic, sure | perhaps, excluding=sure)],
                      tries[0][1]),
                     # The concepts an entry needs are not always readable in pinyin
                     # ("binyiguan dianhua"): a clear pinyin match that nothing present rules
                     # out may answer, at a higher bar.
                     ([s for s in found if not self.concepts.excludes(
                         s.entry_id, self.entries[s.entry_id].topic, sure)],
                      self.ranking.get("threshold_pinyin_unsure", 0.55))]
        margin = self.ranking.get("margin", 0.05)
        for ranked, threshold in tries:
            second = ranked[1].score if len(ranked) > 1 else 0.0
            if ranked and ranked[0].score >= threshold and ranked[0].score - second >= margin:
                entry = self.entries[ranked[0].entry_id]
                kind = "out_of_scope" if entry.out_of_scope else "answer"
                return Decision(kind, "zh", entry, ranked[0].score, places=declined.places)
        return declined

    def _decide_one(self, question: str, lang: str,
                    context: frozenset[str] = frozenset()) -> Decision:
        asked_in = guess_language(question)
        places = tuple(self.gazetteer.find(question))
        scored = self._scored(question, {pm.place.id for pm in places}, context)
        if not scored:
            return Decision("fallback", lang, places=places)
        (top, top_score), rest = scored[0], scored[1:]
        threshold = self.ranking.get(f"threshold_{asked_in}", 0.4)
        if len(question) > self.ranking.get("long_chars", 60):
            # a long story dilutes every score; the concepts still decide what may answer
            threshold *= self.ranking.get("long_factor", 1.0)
        if _DIALECT.search(question):
            # dialect words (冇得, 咯, 搞得成不) match no phrasing and dilute the score the
            # same way; the concepts still decide what may answer
            threshold *= self.ranking.get("dialect_factor", 1.0)
        if top_score < threshold:
            return Decision("fallback", lang, score=top_score, places=places,
                            candidates=tuple(scored[:3]))
        if top.out_of_scope:
            return Decision("out_of_scope", lang, top, top_score, places=places)
        margin = self.ranking.get("margin", 0.05)
        close = tuple((e, s) for e, s in rest[:2] if top_score - s < margin and s >= threshold)
        if any(e.out_of_scope for e, _s in close):
            # a near tie with something that is not ours: decline rather than guess
            return Decision("fallback", lang, score=top_score, places=places,
                            candidates=tuple(scored[:3]))
        # Ask back when the near tie is between topics (marriage or divorce?), or within a topic
        # when the two are closer than margin_within_topic and the words cannot separate them:
        # the second carries its own concept too, or the first carries none either. (协议离婚要
        # 什么材料: 材料 is the documents' own concept, 离婚 only the topic's, so it answers.)
        # Otherwise answer, and offer the others as related.
        tie = self.ranking.get("margin_within_topic", 0.0)
        if any(e.topic != top.topic for e, _s in close) or self._inseparable(
                question, context, top, [e for e, s in close if top_score - s < tie]):
            return Decision("clarify", lang, top, top_score, ((top, top_score), *close), places)
        related = tuple((e, s) for e, s in rest[:3]
                        if not e.out_of_scope and s >= threshold and top_score - s < 2 * margin)
        if top.needs_place and not self.place_for(top, places):
            return Decision("need_place", lang, top, top_score, related, places)
        return Decision("answer", lang, top, top_score, related, places)

    def _scored(self, question: str, place_ids: set[str],
                context: frozenset[str] = frozenset(),
                present: frozenset[str] | None = None) -> list[tuple[Entry, float]]:
        """Ranked entries the question may be answered with (its concepts, or `present`,
        allow them)."""
        bonus = self.ranking.get("place_bonus", 0.1)
        if present is None:
            present = self._story_concepts(question) | context
        out = []
        text = self.prepared(question)
        weight = self.ranking.get("learned_weight", 0.0)
        learned = self.learned.probabilities(text) if self.learned and weight else None
        sure = self.ranking.get("learned_overrule", 1.1)
        for s in self.ranker.rank(text, limit=40):
            entry = self.entries[s.entry_id]
            p = learned(entry.id) if learned is not None else 0.0
            if not self.concepts.allows(entry.id, entry.topic, present) and (
                    p < sure or self.concepts.excludes(entry.id, entry.topic, present)):
                # The concepts it needs are not there; unless the learned ranking is sure of it
                # (吃低保每月能拿几多: 几多 is 多少 to the examples, not to the amount's pattern),
                # and never against a concept that rules it out (its `not`)
                continue
            score = s.score + (bonus if place_ids & set(entry.places) else 0.0)
            score += weight * p  # what the examples taught tells siblings apart
            out.append((entry, min(score, 1.0)))
        out.sort(key=lambda es: -es[1])
        return out

    def _story_concepts(self, question: str) -> frozenset[str]:
        """The concepts that decide which entries may answer. In a long Chinese story the
        topics count wherever they are, but the rest only in the clauses that ask something:
        "我在外面打工" in the story of a mother's 低保 is not the non-local applicant's question,
        "怎么帮她申请" is the question."""
        present = self.concepts.present(question)
        if len(question) <= self.ranking.get("long_chars", 60) or not _HANZI.search(question):
            return present
        asking = [c for c in story_clauses(question) if _ASKS.search(c)]
        if not asking:
            return present
        return frozenset().union(*(self.concepts.present(c) for c in asking)) | (
            present & (self.concepts.context | self.concepts.situation))

    def place_for(self, entry: Entry, places: tuple[PlaceMatch, ...]) -> PlaceMatch | None:
        """The recognised place that fits what the entry needs (a district, or any place)."""
        for pm in places:
            if entry.needs_place == "any" and pm.place.kind != "city":
                return pm
            if entry.needs_place == "district" and pm.place.kind == "district":
                return pm
        if entry.needs_place == "district":
            for pm in places:
                if pm.place.district:
                    parent = self.gazetteer.places[pm.place.district]
                    return PlaceMatch(parent, pm.matched, False)
        return None
