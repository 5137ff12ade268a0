"""`python bot.py kb check`: validates the knowledge base files a clerk edits."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from knowledge import directory as directory_check
from knowledge.base import PLACE_KINDS, TOPICS, KnowledgeBase, entry_from_data
from knowledge.files import layered, read_yaml
from knowledge.learned import NOT_OURS, bad_rows, load_questions, model_path
from knowledge.safety import KINDS, load_examples, model_is_stale
from knowledge.text import normalise

MIN_ZH = 5
MIN_EN = 1
_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
ALLOWED_PLACEHOLDERS = {"place", "office"}


def check(directory: Path, overlay: Path | None = None) -> tuple[list[str], list[str]]:
    """Returns (errors, warnings) for the shipped knowledge base and the operator's data
    layered over it. Errors make `kb check` exit non-zero."""
    errors: list[str] = []
    warnings: list[str] = []
    entries = []
    for path in sorted((directory / "entries").glob("*.yaml")):
        try:
            data = read_yaml(path) or []
        except yaml.YAMLError as exc:
            errors.append(f"{path.name}: not valid YAML: {exc}")
            continue
        if not isinstance(data, list):
            errors.append(f"{path.name}: must be a list of entries")
            continue
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                errors.append(f"{path.name}: item {i + 1} is not a mapping")
                continue
            entries.append(entry_from_data(raw, path.name))
    if errors:
        return errors, warnings
    try:
        kb = KnowledgeBase.load(directory, overlay)
    except (yaml.YAMLError, KeyError, TypeError, ValueError, re.error) as exc:
        return [f"places/synonyms/menu/ranking file: {exc!r}"], warnings
    seen_ids: dict[str, str] = {}
    owners: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        where = f"{e.file}: {e.id or '(no id)'}"
        if not _ID.match(e.id):
            errors.append(f"{where}: id must look like topic.name (lower case)")
        if e.id in seen_ids:
            errors.append(f"{where}: duplicate id (also in {seen_ids[e.id]})")
        seen_ids[e.id] = e.file
        if e.topic not in TOPICS:
            errors.append(f"{where}: unknown topic {e.topic!r}")
        if len(e.q_zh) < MIN_ZH:
            errors.append(f"{where}: needs at least {MIN_ZH} Chinese phrasings (q_zh)")
        if len(e.q_en) < MIN_EN:
            errors.append(f"{where}: needs at least {MIN_EN} English phrasing (q_en)")
        if not e.a_zh or not e.a_en:
            errors.append(f"{where}: missing answer translation (a_zh and a_en are both needed)")
        zh_ph, en_ph = set(_PLACEHOLDER.findall(e.a_zh)), set(_PLACEHOLDER.findall(e.a_en))
        if zh_ph != en_ph:
            errors.append(f"{where}: placeholders differ between a_zh {sorted(zh_ph)} and "
                          f"a_en {sorted(en_ph)}")
        if zh_ph - ALLOWED_PLACEHOLDERS:
            errors.append(f"{where}: unknown placeholders {sorted(zh_ph - ALLOWED_PLACEHOLDERS)}")
        if zh_ph and not e.needs_place:
            errors.append(f"{where}: placeholders need `needs_place`")
        if e.needs_place and e.needs_place not in PLACE_KINDS:
            errors.append(f"{where}: needs_place must be one of {PLACE_KINDS}")
        for q in (*e.q_zh, *e.q_en):
            owners[normalise(q).replace(" ", "")].add(e.id)
        if e.historical and not re.search(r"历史|historical", e.a_zh + e.a_en, re.IGNORECASE):
            warnings.append(f"{where}: historical entry whose answer does not say so")
    ids = set(seen_ids)
    for e in entries:
        for ref in e.see_also:
            if ref not in ids:
                errors.append(f"{e.file}: {e.id}: see_also names unknown entry {ref!r}")
        for place in e.places:
            if place not in kb.gazetteer.places:
                errors.append(f"{e.file}: {e.id}: unknown place {place!r}")
    for text, who in owners.items():
        if len(who) > 1:
            errors.append(f"phrasing {text!r} appears in several entries: {sorted(who)}")
    for topic in kb.menu:
        for eid, _zh, _en in topic.items:
            if eid not in ids:
                errors.append(f"menu.yaml: topic {topic.id} names unknown entry {eid!r}")
    errors += _check_villages(directory, kb, overlay)
    for level, message in directory_check.check(kb.directory):
        (errors if level == "error" else warnings).append(message)
    warnings += _self_retrieval(kb)
    empty = sum(1 for p in kb.gazetteer.districts() for v in p.registry.values() if not v)
    if empty:
        warnings.append(f"places.yaml: {empty} registry field(s) await the operator "
                        "(the bot tells residents to confirm via 12345 meanwhile)")
    errors += _concepts_and_safety(directory, kb)
    known = set(kb.entries) | {NOT_OURS}
    try:
        errors += [f"learned/questions.yaml: {q!r} is labelled with unknown entry {label!r}"
                   for q, label in load_questions(directory) if label not in known]
        errors += [f"learned/questions.yaml: row {i} needs a question (q) and its entry"
                   for i in bad_rows(directory)]
        stale = kb.learned is not None and kb.learned.is_stale(directory, kb.phrasings())
    except yaml.YAMLError as exc:
        errors.append(f"learned/questions.yaml: not valid YAML: {exc}")
        stale = False
    if kb.learned is None and model_path(directory).exists():
        errors.append("learned/model.json cannot be read (another version?): run "
                      "`python bot.py kb train`")
    elif stale:
        warnings.append("learned/model.json was trained on other phrasings, questions, "
                        "concepts or places than today's: run `python bot.py kb train`")
    return errors, warnings


def _concepts_and_safety(directory: Path, kb: KnowledgeBase) -> list[str]:
    """concepts.yaml names only defined concepts and known entries; every crisis kind has
    patterns and both replies."""
    out = [f"concepts.yaml: concept {c!r} is used but not defined"
           for c in kb.concepts.unknown()]
    out += [f"concepts.yaml: entry {e!r} does not exist" for e in kb.concepts.entries
            if e not in kb.entries]
    for name in KINDS:
        kind = kb.safety.kinds.get(name)
        if kind is None or not kind.patterns or not (kind.reply_zh and kind.reply_en):
            out.append(f"safety/crisis.yaml: crisis kind {name!r} needs patterns and replies "
                       "in both languages")
    labels = {label for _q, label in load_examples(directory)}
    out += [f"safety/examples.yaml: unknown crisis kind {label!r}"
            for label in sorted(labels - {*KINDS, "none"})]
    if model_is_stale(directory):
        out.append("safety/model.json was trained on other examples or `not` patterns than "
                   "those in safety/: run `python bot.py kb train`")
    return out


def _check_villages(directory: Path, kb: KnowledgeBase, data: Path | None = None) -> list[str]:
    """Disclosure rules and villages: every id resolves, every rule is usable."""
    out = []
    book = kb.villages
    for rule in book.rules.values():
        if rule.period not in ("month", "quarter"):
            out.append(f"disclosure/rules.yaml: {rule.id}: period must be month or quarter")
        if not (rule.due == "end" or re.match(r"^next:([1-9]|[12]\d|3[01])$", rule.due)):
            out.append(f"disclosure/rules.yaml: {rule.id}: due must be end or next:N")
        if rule.applies not in ("all", "monthly_finance", "quarterly_finance"):
            out.append(f"disclosure/rules.yaml: {rule.id}: unknown applies {rule.applies!r}")
        out += [f"disclosure/rules.yaml: {rule.id}: unknown item {i!r}" for i in rule.items
                if i not in book.items]
    for path in layered(directory / "disclosure", "villages*.yaml",
                        data / "disclosure" if data else None):
        for raw in (read_yaml(path) or {}).get("villages") or ():
            vid = str(raw.get("id", ""))
            if vid not in book.villages:
                out.append(f"{path.name}: village {vid!r} is neither a place in places.yaml "
                           "nor has name_zh and district")
            elif not book.villages[vid].place.district:
                out.append(f"{path.name}: village {vid!r} has no district")
    return out


def _self_retrieval(kb: KnowledgeBase) -> list[str]:
    """Phrasings that would be answered by another entry: a hint to reword one of them."""
    out = []
    for e in kb.entries.values():
        for q in (*e.q_zh, *e.q_en):
            d = kb.decide(q)
            if d.entry is not None and d.entry.id != e.id and d.kind == "answer":
                out.append(f"{e.id}: phrasing {q!r} is answered by {d.entry.id}")
    return out
