"""Every user-facing string has a translation in both catalogues, with the same placeholders."""
from __future__ import annotations

import asyncio
import re

from babel.messages.pofile import read_po

from core import i18n
from tools.msgids import msgids

_PH = re.compile(r"\{(\w*)\}")


def catalog(lang):
    with i18n.po_path(lang).open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def test_every_msgid_translated_in_both_languages():
    code = msgids()
    assert len(code) > 20
    for lang in i18n.LANGUAGES:
        cat = catalog(lang)
        missing = [m for m in code if not cat.get(m)]
        assert not missing, f"{lang}: untranslated {missing}"


def test_placeholders_match_between_languages():
    for lang in i18n.LANGUAGES:
        for msgid, msgstr in catalog(lang).items():
            assert sorted(_PH.findall(msgid)) == sorted(_PH.findall(msgstr)), (lang, msgid)


def test_chinese_catalogue_is_really_chinese():
    zh = catalog("zh")
    untranslated = [m for m, s in zh.items() if s == m and re.search(r"[a-z]{4}", m)]
    assert not untranslated


async def test_language_is_per_task_not_global():
    async def say(lang, delay):
        with i18n.use(lang):
            await asyncio.sleep(delay)
            return i18n._("Cancelled.")

    zh, en = await asyncio.gather(say("zh", 0.02), say("en", 0.0))
    assert zh == "已取消。" and en == "Cancelled."
