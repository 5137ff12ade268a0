"""What the reminder tables hold, as types: rules and their schedules (one dataclass per kind),
delivery statuses and kinds, and the body of each kind of message.

The JSON stored in `reminder_rules.schedule` and `deliveries.body` is what these types turn
into; `schedule_from_json` reads both the rows written before the types existed and new ones.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict


class RuleKind(StrEnum):
    QUARTERLY = "quarterly"  # county and township inspections every quarter
    SPECIAL = "special"  # a city special inspection on a date
    CUSTOM = "custom"  # an administrator's one-off or cron reminder
    SPECIAL_CHECK = "special_check"  # early December: are two special inspections planned?
    DISCLOSURE = "disclosure"  # village disclosures on time (daily check, monthly summary)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    SKIPPED = "skipped"


class DeliveryKind(StrEnum):
    """What the message asks of its recipient: a reminder is acknowledged, the others not."""

    REMINDER = "reminder"
    ESCALATION = "escalation"
    WARNING = "warning"


class MessageKind(StrEnum):
    """Which text a delivery carries (stored with it, not guessed from its body)."""

    REMINDER = "reminder"
    ESCALATION = "escalation"
    SPECIAL_CHECK = "special_check"
    BLOCKED = "blocked"
    DISCLOSURE_DUE = "disclosure_due"
    DISCLOSURE_OVERDUE = "disclosure_overdue"
    DISCLOSURE_SUMMARY = "disclosure_summary"


# --- schedules -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quarterly:
    leads: tuple[str, ...] = ()  # no lead: no reminder before the due date
    at: str = "09:00"


@dataclass(frozen=True)
class Special:
    date: str
    leads: tuple[str, ...] = ()
    at: str = "09:00"


@dataclass(frozen=True)
class Custom:
    """Exactly one of `cron` (`0 9 1 * *`) and `once` (`2027-01-05T09:00`)."""

    cron: str | None = None
    once: str | None = None


@dataclass(frozen=True)
class SpecialCheck:
    month: int = 12
    day: int = 1
    at: str = "09:00"


@dataclass(frozen=True)
class DisclosureCheck:
    at: str = "09:00"
    escalate_days: int = 7  # after the due date, the township gets the list of late villages
    summary_day: int = 1  # day of the month of the administrators' summary


Schedule = Quarterly | Special | Custom | SpecialCheck | DisclosureCheck
SCHEDULES: dict[RuleKind, type[Schedule]] = {
    RuleKind.QUARTERLY: Quarterly, RuleKind.SPECIAL: Special, RuleKind.CUSTOM: Custom,
    RuleKind.SPECIAL_CHECK: SpecialCheck, RuleKind.DISCLOSURE: DisclosureCheck,
}


def schedule_to_json(schedule: Schedule) -> str:
    data = {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(schedule).items() if v is not None}
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def schedule_from_json(kind: str, text: str) -> Schedule:
    """A stored schedule of a rule kind; unknown keys are ignored, values take the field's
    type (lists become tuples, "12" becomes 12). ValueError when the row cannot be one."""
    cls = SCHEDULES[RuleKind(kind)]
    raw: dict[str, Any] = json.loads(text or "{}")
    hints = typing.get_type_hints(cls)
    args: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value, hint = raw[f.name], hints[f.name]
        try:
            if hint is int:
                value = int(value)
            elif hint == tuple[str, ...]:
                value = tuple(str(v) for v in value)
            elif value is not None:
                value = str(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{kind} schedule: bad {f.name} {value!r}") from exc
        args[f.name] = value
    try:
        return cls(**args)
    except TypeError as exc:  # a required field (a special inspection's date) is missing
        raise ValueError(f"{kind} schedule: {exc}") from exc


@dataclass(frozen=True)
class Rule:
    id: int
    kind: RuleKind
    title_zh: str
    levels: tuple[str, ...]  # cadre levels reminded; () = administrators
    scope: tuple[str, ...]  # area paths; () = the whole city
    schedule: Schedule = field(default_factory=Quarterly)
    escalate: bool = True
    active: bool = True
    created_at: str = ""
    title_en: str | None = None  # default rules have both; an administrator's title is one

    @property
    def leads(self) -> tuple[str, ...]:
        return getattr(self.schedule, "leads", ())


# --- message bodies --------------------------------------------------------------------------
class EscalationItem(TypedDict):
    who: str
    level: str
    area: str
    snoozed: bool


class EscalationBody(TypedDict):
    due: str
    items: list[EscalationItem]


class SpecialCheckBody(TypedDict):
    year: int
    count: int
    titles: list[str]


class BlockedBody(TypedDict):
    blocked: str
    areas: list[str]


class DisclosureDueBody(TypedDict):
    village: str
    rule: str
    period: str
    due: str
    names: list[str]  # village zh, en; rule zh, en


class DisclosureOverdueBody(TypedDict):
    villages: list[str]
    rule: str
    period: str
    due: str
    names: list[Any]  # [village names zh], [village names en], rule zh, rule en


class DisclosureSummaryBody(TypedDict):
    month: str
    summary: dict[str, dict[str, int]]


class ReminderBody(TypedDict):
    """A plain reminder needs nothing but its rule."""


Body = (ReminderBody | EscalationBody | SpecialCheckBody | BlockedBody | DisclosureDueBody
        | DisclosureOverdueBody | DisclosureSummaryBody)
