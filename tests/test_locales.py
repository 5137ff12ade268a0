"""Every user-facing string has a translation in both catalogues, with the same placeholders."""
from __future__ import annotations

import asyncio
import re

from babel.messages.pofile import read_po

from core import i18n
from tools.msgids import msgids, plurals

_PH = re.compile(r"\{(\w*)\}")


def catalog(lang):
    """msgid -> msgstr; a plural entry gives its singular and plural ids, each with a form."""
    out = {}
    with i18n.po_path(lang).open("rb") as fh:
        for m in read_po(fh):
            if isinstance(m.id, tuple):
                out[m.id[0]], out[m.id[1]] = m.string[0], m.string[-1]
            elif m.id:
                out[str(m.id)] = str(m.string)
    return out


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
            return i18n._("Choose a topic:")

    zh, en = await asyncio.gather(say("zh", 0.02), say("en", 0.0))
    assert zh == "请选择主题：" and en == "Choose a topic:"


def test_plurals_are_real_plural_entries():
    """ngettext finds its translation (a plain entry per form would never be used)."""
    pairs = plurals()
    assert pairs
    for singular, plural in pairs.items():
        for n in (1, 2):
            with i18n.use("zh"):
                zh = i18n.ngettext(singular, plural, n)
            with i18n.use("en"):
                en = i18n.ngettext(singular, plural, n)
            assert zh not in (singular, plural) and re.search(r"[\u4e00-\u9fff]", zh)
            assert en == (singular if n == 1 else plural)
