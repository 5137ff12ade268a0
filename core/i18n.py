"""gettext with the language in a ContextVar: set per incoming message, never process-global."""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
_LOCALE_DIRS = {"zh": "zh_CN", "en": "en"}
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "bot"

_current: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)
_catalogs: dict[str, NullTranslations] = {}


def po_path(lang: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / _LOCALE_DIRS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compile(path: Path) -> NullTranslations:
    with path.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def load(locales_dir: Path = LOCALES_DIR) -> None:
    """Compile the .po catalogues in memory (no build step; they cannot drift from a .mo)."""
    for lang in LANGUAGES:
        _catalogs[lang] = _compile(po_path(lang, locales_dir))


def language_from_code(code: str | None) -> str:
    """Telegram's language_code -> our language: en* gives English, anything else Chinese."""
    if code and code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def current() -> str:
    return _current.get()


@contextmanager
def use(lang: str) -> Iterator[None]:
    """Run a block in one language; concurrent tasks keep their own."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def _catalog() -> NullTranslations:
    if not _catalogs:
        load()
    return _catalogs[_current.get()]


def _(msgid: str) -> str:
    """Translate into the current message's language."""
    return _catalog().gettext(msgid)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalog().ngettext(singular, plural, n)


def pick(zh: str, en: str) -> str:
    """Choose between two data-file texts (knowledge base) by the current language."""
    return en if _current.get() == "en" else zh
