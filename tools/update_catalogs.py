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
from tools.msgids import msgids  # noqa: E402


def main() -> int:
    used = msgids()
    for lang in i18n.LANGUAGES:
        path = i18n.po_path(lang)
        with path.open("rb") as fh:
            old = read_po(fh)
        known = {m.id: m.string for m in old if m.id}
        cat = Catalog(locale=old.locale, project=old.project, fuzzy=False)
        todo = 0
        for msgid, where in used.items():
            file, line = where.rsplit(":", 1)
            string = known.get(msgid) or (msgid if lang == "en" else "")
            todo += not string
            cat.add(msgid, string, locations=[(file, int(line))])
        with path.open("wb") as fh:
            write_po(fh, cat, width=99)
        print(f"{path}: {len(used)} strings, {todo} to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
