"""Areas: where a cadre works and where a team, service point or village lies.

A cadre's area is a path of names below and including the city, `长沙市/区县/乡镇街道/村社区`; its
depth is its level (city, district, township, village). A place's area has the same four names,
some of which the operator may not have recorded. Unknown names never match (privacy first): a
district cadre does not see a community whose district is not recorded; only city-level cadres
and administrators do. The one exception is a community whose street is not recorded: its own
village-level cadre still covers it.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.i18n import _

LEVELS = ("city", "district", "township", "village")


def level_name(level: str) -> str:
    """A level in the user's language."""
    names = {"city": _("city"), "district": _("district/county"),
             "township": _("township/street"), "village": _("village/community")}
    return names.get(level, level)


@dataclass(frozen=True)
class PlaceArea:
    """Where something lies; None where the operator has not recorded the name."""

    city: str
    district: str | None = None
    street: str | None = None
    community: str | None = None

    @property
    def names(self) -> tuple[str | None, str | None, str | None, str | None]:
        return (self.city, self.district, self.street, self.community)


@dataclass(frozen=True)
class AreaPath:
    """A cadre's (or a rule's) area: one to four names, the city first."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> AreaPath:
        return cls(tuple(p for p in text.split("/") if p))

    def __str__(self) -> str:
        return "/".join(self.parts)

    @property
    def level(self) -> str:
        return LEVELS[min(max(len(self.parts), 1), len(LEVELS)) - 1]

    def contains(self, other: AreaPath) -> bool:
        """Does this area contain `other` (whole names, so 长沙市/雨花 is not 长沙市/雨花区)?
        An empty path (data gone wrong) contains nothing."""
        return bool(self.parts) and other.parts[: len(self.parts)] == self.parts

    def overlaps(self, other: AreaPath) -> bool:
        return self.contains(other) or other.contains(self)

    def covers(self, place: PlaceArea) -> bool:
        """Does this area include the place? See the module docstring for unknown names."""
        names = place.names
        if not 1 <= len(self.parts) <= len(names):
            return False  # a malformed stored path covers nothing
        for i, part in enumerate(self.parts):
            if names[i] is None and i == 2 and len(self.parts) == 4:
                continue  # a village cadre covers their community whatever its street
            if names[i] != part:
                return False
        return True
