"""The disclosure chart: on time / late / missing per month, as a PNG made in memory.

Chinese labels need a CJK font (e.g. the fonts-noto-cjk package). When none is installed the
picture uses English labels; the message around it is in the user's language either way.
"""
from __future__ import annotations

import io
from collections import Counter
from datetime import date
from functools import lru_cache

COLOURS = {"on_time": "#2e7d32", "late": "#f9a825", "missing": "#c62828"}
ENGLISH = {"on_time": "on time", "late": "late", "missing": "missing"}
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


def last_months(today: date, n: int) -> list[str]:
    """The n months up to and including today's, oldest first ("2026-11")."""
    out, year, month = [], today.year, today.month
    for _ in range(n):
        out.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    # matplotlib takes about a second to import: only the chart needs it, not start-up.
    from matplotlib import font_manager  # noqa: PLC0415

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


def render(counts: dict[str, Counter[str]], title: str, labels: dict[str, str]) -> bytes:
    """A stacked bar per month. `labels` are used when a CJK font exists, else English."""
    import matplotlib  # noqa: PLC0415 - see cjk_font: import cost paid by the chart only

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415 - as above
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - as above

    font = cjk_font()
    ascii_only = font is None and any(ord(c) > 127 for c in title + "".join(labels.values()))
    if ascii_only:
        title, labels = "Village-affairs disclosure", ENGLISH
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    if font:
        for text_kind in ("font.family",):
            matplotlib.rcParams[text_kind] = font
    months = list(counts)
    bottom = [0] * len(months)
    for state in ("on_time", "late", "missing"):
        values = [counts[m][state] for m in months]
        ax.bar([m[2:] for m in months], values, bottom=bottom, label=labels[state],
               color=COLOURS[state])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
