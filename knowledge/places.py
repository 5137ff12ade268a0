"""Recognises Changsha's districts, counties and the seed's communities in a question."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.text import normalise


@dataclass(frozen=True)
class Place:
    id: str
    kind: str  # city | district | community
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()
    former: tuple[str, ...] = ()
    former_note_zh: str = ""
    former_note_en: str = ""
    district: str = ""  # for communities, when the sources say
    street: str = ""  # for communities: the 街道/乡镇 name, when the operator records it
    registry: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class PlaceMatch:
    place: Place
    matched: str  # the text as it stood in the question
    former: bool  # matched an old name (望城县, 宁乡县)


def _place(kind: str, raw: dict) -> Place:
    return Place(
        id=raw["id"], kind=kind, name_zh=raw["name_zh"], name_en=raw["name_en"],
        aliases=tuple(raw.get("aliases") or ()), former=tuple(raw.get("former") or ()),
        former_note_zh=raw.get("former_note_zh", ""), former_note_en=raw.get("former_note_en", ""),
        district=raw.get("district") or "", street=raw.get("street") or "",
        registry=dict(raw.get("registry") or {}),
    )


_EN_KINDS = ("village", "community", "district", "county", "city")


def english_names(place: Place) -> list[str]:
    """"Huoyan Community" is also "Huoyan Village" (people use either)."""
    name = place.name_en.lower().strip()
    if not name:
        return []
    out = [name]
    stem, _sep, kind = name.rpartition(" ")
    if stem and kind in _EN_KINDS and place.kind == "community":
        out += [f"{stem} village", f"{stem} community"]  # not the bare stem: Wuyi Square
    return out


class Gazetteer:
    """Longest-match recognition of place names (current names, aliases and former names)."""

    def __init__(self, places: list[Place]) -> None:
        self.places = {p.id: p for p in places}
        self._names: dict[str, tuple[Place, bool]] = {}
        self._all: dict[str, list[Place]] = {}  # every place a name may mean
        for p in places:
            for name in {normalise(n) for n in (p.name_zh, *english_names(p), *p.aliases,
                                                *p.former) if n}:
                self._all.setdefault(name, []).append(p)
        for p in places:
            for name in (p.name_zh, *english_names(p), *p.aliases):
                self._names.setdefault(normalise(name), (p, False))
            for name in p.former:
                self._names[normalise(name)] = (p, True)
        names = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(n) for n in names if n))

    @classmethod
    def from_data(cls, data: dict) -> Gazetteer:
        places = [_place("city", data["city"])]
        places += [_place("district", d) for d in data.get("districts") or ()]
        places += [_place("community", c) for c in data.get("communities") or ()]
        return cls(places)

    def find(self, text: str) -> list[PlaceMatch]:
        """All places named in the text, most specific first (community before district)."""
        norm = normalise(text)
        seen: dict[str, PlaceMatch] = {}
        for m in self._pattern.finditer(norm):
            place, former = self._names[m.group(0)]
            seen.setdefault(place.id, PlaceMatch(place, m.group(0), former))
        order = {"community": 0, "district": 1, "city": 2}
        return sorted(seen.values(), key=lambda pm: order[pm.place.kind])

    def candidates(self, text: str) -> list[list[Place]]:
        """For each place name in the text, every place it may mean (more than one when two
        villages share a name: the caller asks back)."""
        norm = normalise(text)
        out: list[list[Place]] = []
        for m in self._pattern.finditer(norm):
            places = self._all.get(m.group(0), [])
            if places and places not in out:
                out.append(places)
        return out

    def strip(self, text: str) -> str:
        """The text without place names, so they do not sway the ranking."""
        return self._pattern.sub(" ", normalise(text))

    def districts(self) -> list[Place]:
        return [p for p in self.places.values() if p.kind == "district"]

    def communities(self, district_id: str | None = None) -> list[Place]:
        """Communities of a district; `""` = those whose district is not recorded."""
        return [p for p in self.places.values() if p.kind == "community"
                and (district_id is None or p.district == district_id)]

    @property
    def city(self) -> Place:
        return next(p for p in self.places.values() if p.kind == "city")
