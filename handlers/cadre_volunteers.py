"""Cadres' view of volunteer sign-ups in their area: counts by team and week, and exports.
Every action re-checks the role and area on the server; button data carries no area."""
from __future__ import annotations

from datetime import date, timedelta

from core import i18n
from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Button, Document, Reply
from handlers.context import App, Context, stale_button
from handlers.router import Feature, on_button
from services import exports
from services.visibility import visible_team_ids
from storage.volunteers import Signup

WEEKS = 4


class Export(CallbackData, prefix="ve"):
    format: str  # a key of services.exports.FORMATS


async def _visible(app: App, ctx: Context) -> tuple[bool, list[Signup]]:
    """(allowed, sign-ups the user may see)."""
    if ctx.user.role not in ("cadre", "admin"):
        return False, []
    team_ids = await visible_team_ids(app.users, app.kb.directory, ctx.user)
    return True, await app.volunteers.of_teams(team_ids)


def _refuse() -> list[Reply]:
    return [Reply(_("Only cadres can see volunteer sign-ups, and only for their own area."))]


def week_label(key: str) -> str:
    """2026-W49 as its days: 11月30日—12月6日 / 30 Nov-6 Dec."""
    year, week = key.split("-W")
    first = date.fromisocalendar(int(year), int(week), 1)
    last = first + timedelta(days=6)
    if i18n.current() == "zh":
        end = f"{last.day}日" if last.month == first.month else f"{last.month}月{last.day}日"
        return f"{first.month}月{first.day}日—{end}"
    return f"{first:%-d %b}-{last:%-d %b}"


async def on_volunteers(app: App, ctx: Context) -> list[Reply]:
    """/volunteers: sign-ups per team in the cadre's area, this week and the weeks before."""
    allowed, signups = await _visible(app, ctx)
    if not allowed:
        return _refuse()
    tz = app.settings.tz
    now = app.clock.now().astimezone(tz)
    weeks = []
    for i in range(WEEKS):
        year, week, _d = (now - timedelta(weeks=i)).isocalendar()
        weeks.append(f"{year}-W{week:02d}")
    counts = exports.weekly_counts(signups, tz)
    lang = i18n.current()
    lines = [_("Volunteer sign-ups in your area: {count} in total.").format(count=len(signups))]
    if not signups:
        lines.append(_("None yet."))
    else:
        lines.append(_("Per team, in total and in each of the last {n} weeks:").format(n=WEEKS))
    for team_id, by_week in sorted(counts.items()):
        team = app.kb.directory.teams.get(team_id)
        title = team.name(lang) if team else team_id
        recent = i18n.pick("；", "; ").join(
            _("{week}: {n}").format(week=week_label(w), n=by_week.get(w, 0)) for w in weeks)
        lines.append("• " + _("{team}: {total} in total ({weeks})").format(
            team=title, total=sum(by_week.values()), weeks=recent))
    buttons = ((Button(_("Export CSV"), Export("csv").pack()),
                Button(_("Export Excel"), Export("xlsx").pack())),)
    return [Reply("\n".join(lines), buttons=buttons if signups else ())]


async def on_export_button(app: App, ctx: Context, data: Export) -> list[Reply]:
    """The file (CSV or XLSX) of the sign-ups this user may see, checked again now."""
    fmt = data.format
    if fmt not in exports.FORMATS:
        return await stale_button(app, ctx)
    allowed, signups = await _visible(app, ctx)
    if not allowed:
        return _refuse()
    if not signups:
        return [Reply(_("There are no sign-ups in your area to export."))]
    tz = app.settings.tz
    content = exports.build(fmt, app.kb.directory, signups, tz)
    stamp = app.clock.now().astimezone(tz).strftime("%Y%m%d-%H%M")
    doc = Document(f"volunteers-{stamp}.{fmt}", content, exports.FORMATS[fmt])
    return [Reply(_("{count} sign-ups. The file holds personal data: keep it safe and delete "
                    "it when done.").format(count=len(signups)), document=doc)]


FEATURE = Feature(
    "cadre_volunteers",
    private="volunteers",
    commands={"volunteers": on_volunteers},
    buttons=(on_button(Export, on_export_button),),
)
