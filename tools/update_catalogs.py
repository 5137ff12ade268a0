"""Brings locales/*/LC_MESSAGES/bot.po in line with the strings the code uses.

    python tools/update_catalogs.py

New msgids are added (English: msgstr = msgid; Chinese: empty, to be translated - the locale
test fails until it is); strings no longer used are dropped; existing translations are kept.
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import i18n  # noqa: E402
from tools.msgids import msgids, plurals  # noqa: E402


def main() -> int:
    used = msgids()
    plural = plurals()
    plural_forms = set(plural.values())
    for lang in i18n.LANGUAGES:
        path = i18n.po_path(lang)
        with path.open("rb") as fh:
            old = read_po(fh)
        known: dict[str, object] = {}
        for m in old:
            if m.id:
                key = m.id[0] if isinstance(m.id, tuple | list) else m.id
                known[str(key)] = m.string
        cat = Catalog(locale=old.locale, project=old.project, fuzzy=False)
        todo = 0
        for msgid, where in used.items():
            if msgid in plural_forms and msgid not in plural:
                continue  # the plural half of an ngettext pair: part of its singular's entry
            file, line = where.rsplit(":", 1)
            string = known.get(msgid)
            if msgid in plural:
                string = _plural_string(lang, msgid, plural[msgid], string, cat.num_plurals)
                todo += not all(string)
                cat.add((msgid, plural[msgid]), string, locations=[(file, int(line))])
                continue
            string = (string if isinstance(string, str) else "") or (
                msgid if lang == "en" else "")
            todo += not string
            cat.add(msgid, string, locations=[(file, int(line))])
        with path.open("wb") as fh:
            write_po(fh, cat, width=99)
        print(f"{path}: {len(used)} strings, {todo} to translate")
    return 0


def _plural_string(lang: str, singular: str, plural: str, old: object,
                   forms: int) -> tuple[str, ...]:
    """The msgstr[] forms: English = the two msgids; else keep what was translated."""
    if lang == "en":
        return (singular, plural)
    if isinstance(old, tuple) and any(old):
        first = next(s for s in old if s)
        return tuple((list(old) + [first] * forms)[:forms])
    if isinstance(old, str) and old:  # was a plain entry before plurals were supported
        return (old,) * forms
    return ("",) * forms


if __name__ == "__main__":
    sys.exit(main())
