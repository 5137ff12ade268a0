"""What a person typed, made safe to store and show: compatibility forms folded (NFKC: full-width
letters and digits become plain ones), and control, format and bidi-override characters removed
(NUL, BEL, zero-width spaces, right-to-left overrides), which would otherwise be stored, fail
the database's checks or rearrange what cadres see in lists and exports."""
from __future__ import annotations

import unicodedata

# Cc control, Cf format (zero-width, bidi controls), Co private use, Cs surrogates, Cn unassigned
_DROP = frozenset(("Cc", "Cf", "Co", "Cs", "Cn"))
_KEEP = frozenset("\n\t")


def strip_invisible(text: str) -> str:
    """Remove control, format and bidi characters (new lines and tabs stay)."""
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _DROP)


def clean_line(text: str | None) -> str:
    """One line of free text to store (a name, a remark, a summary): NFKC, invisible characters
    removed, runs of white space made one space."""
    folded = unicodedata.normalize("NFKC", text or "")
    return " ".join(strip_invisible(folded).split())
