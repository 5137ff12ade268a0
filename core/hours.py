"""Times of day and quiet hours (`22:00-08:00`): when the bot sends no reminders."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
Quiet = tuple[time, time] | None


def parse_hhmm(text: str) -> time:
    """`9:05` -> 09:05; ValueError for anything else."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def parse_quiet(text: str) -> Quiet:
    """`22:00-08:00` -> (22:00, 08:00); empty or `off` -> None."""
    if not text.strip() or text.strip().lower() == "off":
        return None
    start, _sep, end = text.partition("-")
    return parse_hhmm(start), parse_hhmm(end)


def in_quiet(moment: datetime, quiet: Quiet, tz: ZoneInfo) -> bool:
    if quiet is None:
        return False
    local = moment.astimezone(tz).time()
    start, end = quiet
    return (start <= local or local < end) if start > end else (start <= local < end)


def quiet_end(moment: datetime, quiet: Quiet, tz: ZoneInfo) -> datetime:
    """When the quiet period containing `moment` ends (or `moment` itself outside it)."""
    if not in_quiet(moment, quiet, tz):
        return moment
    assert quiet is not None
    local = moment.astimezone(tz)
    end = datetime.combine(local.date(), quiet[1], tzinfo=tz)
    return end if end > local else end + timedelta(days=1)
