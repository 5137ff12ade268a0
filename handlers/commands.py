"""Every chat command, who may use it and what it does: one list for /help, the platform's
command menus (Telegram: one per role) and the README's command table (a test compares all
three with the commands the features register)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.i18n import _

ROLES = ("resident", "cadre", "admin")  # each role also has the commands of the ones before


@dataclass(frozen=True)
class Command:
    name: str
    role: str  # the least role that may use it
    usage: str  # how it is typed, e.g. "/cadre CODE"
    describe: Callable[[], str]  # translated when called

    def allowed(self, role: str) -> bool:
        return ROLES.index(role if role in ROLES else "resident") >= ROLES.index(self.role)


COMMANDS: tuple[Command, ...] = (
    Command("start", "resident", "/start", lambda: _("Start and show the menu")),
    Command("menu", "resident", "/menu", lambda: _("Show the topic menu")),
    Command("help", "resident", "/help", lambda: _("What I can do")),
    Command("lang", "resident", "/lang", lambda: _("Switch language 中文/English")),
    Command("cancel", "resident", "/cancel", lambda: _("Stop the current step")),
    Command("volunteer", "resident", "/volunteer", lambda: _("Join a volunteer team")),
    Command("my", "resident", "/my", lambda: _("My volunteer sign-ups")),
    Command("forget", "resident", "/forget", lambda: _("Delete my data")),
    Command("disclosure", "resident", "/disclosure", lambda: _(
        "What a village published, and when it publishes")),
    Command("subscribe", "resident", "/subscribe VILLAGE", lambda: _(
        "Be told when a village records a disclosure")),
    Command("unsubscribe", "resident", "/unsubscribe", lambda: _("Stop those notifications")),
    Command("whoami", "resident", "/whoami", lambda: _("Show my id and role")),
    Command("cadre", "resident", "/cadre CODE", lambda: _(
        "Register as a cadre with an invite code")),
    Command("volunteers", "cadre", "/volunteers", lambda: _(
        "Volunteer sign-ups of my area, and exports")),
    Command("disclose", "cadre", "/disclose", lambda: _("Record a village's disclosure")),
    Command("disclosures", "cadre", "/disclosures", lambda: _(
        "Disclosures recorded in my area")),
    Command("reminders", "admin", "/reminders [ID]", lambda: _(
        "Reminder rules and who acknowledged")),
    Command("special", "admin", "/special DATE AREA TITLE", lambda: _(
        "Add a special inspection")),
    Command("remind", "admin", "/remind LEVEL AREA WHEN TITLE", lambda: _(
        "Add a one-off or recurring reminder")),
    Command("reminder_leads", "admin", "/reminder_leads ID LEADS", lambda: _(
        "Change when a rule reminds")),
    Command("reminder_off", "admin", "/reminder_off ID", lambda: _("Switch a rule off")),
    Command("reminder_on", "admin", "/reminder_on ID", lambda: _("Switch a rule on")),
    Command("cadres", "admin", "/cadres", lambda: _("Every cadre and area")),
    Command("promote", "admin", "/promote USER LEVEL AREA", lambda: _("Make a user a cadre")),
    Command("demote", "admin", "/demote USER", lambda: _("Take back a user's cadre areas")),
    Command("invite", "admin", "/invite LEVEL AREA", lambda: _(
        "A single-use invite code for a new cadre")),
    Command("setarea", "admin", "/setarea USER LEVEL AREA", lambda: _(
        "Replace a cadre's area")),
)


def for_role(role: str) -> list[Command]:
    return [c for c in COMMANDS if c.allowed(role)]


def help_lines(role: str) -> list[str]:
    """'/usage - what it does' for every command the role may use, grouped by role."""
    lines: list[str] = []
    titles = {"resident": _("Commands:"), "cadre": _("For cadres:"),
              "admin": _("For administrators:")}
    for level in ROLES:
        group = [c for c in COMMANDS if c.role == level and c.allowed(role)]
        if group:
            lines.append(titles[level])
            lines += [f"{c.usage} - {c.describe()}" for c in group]
    return lines
