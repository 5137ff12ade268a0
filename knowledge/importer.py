"""`python bot.py directory import FILE.csv`: loads an operator's spreadsheet into the directory.

Accepted rows go to knowledge/directory/{kind}_imported.yaml (services, teams or communities),
which the next import of the same kind replaces; the hand-edited files are never touched.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from knowledge.base import KnowledgeBase
from knowledge.directory import ID_SHAPE, LAT_RANGE, LON_RANGE, in_changsha
from knowledge.directory import check as check_directory
from knowledge.files import layered, read_yaml
from knowledge.places import Gazetteer, Place
from knowledge.text import normalise

KINDS = ("services", "teams", "communities")
MAX_LEN = 200
FIELDS = {
    "services": ("id", "name_zh", "name_en", "type", "community", "district", "address", "hours",
                 "phone", "lat", "lon", "source"),
    "teams": ("id", "name_zh", "name_en", "community", "service_type", "description_zh",
              "description_en", "coordinator", "capacity", "source"),
    "communities": ("id", "name_zh", "name_en", "aliases", "district", "street", "source"),
}
REQUIRED = {"services": ("name_zh", "type"), "teams": ("name_zh", "community"),
            "communities": ("name_zh",)}
_COMMON = {"编号": "id", "名称": "name_zh", "中文名称": "name_zh", "英文名称": "name_en",
           "英文名": "name_en", "社区": "community", "所属社区": "community", "区县": "district",
           "区": "district", "所属区县": "district", "来源": "source", "数据来源": "source"}
_ALIASES = {
    "services": {**_COMMON, "类型": "type", "服务类型": "type", "地址": "address",
                 "开放时间": "hours", "服务时间": "hours", "办公时间": "hours", "电话": "phone",
                 "联系电话": "phone", "纬度": "lat", "经度": "lon", "服务点名称": "name_zh"},
    "teams": {**_COMMON, "队伍名称": "name_zh", "团队名称": "name_zh", "服务类型": "service_type",
              "类型": "service_type", "简介": "description_zh", "中文简介": "description_zh",
              "英文简介": "description_en", "联系人": "coordinator", "协调人": "coordinator",
              "人数上限": "capacity"},
    "communities": {**_COMMON, "社区": "name_zh", "社区名称": "name_zh", "别名": "aliases",
                    "街道": "street", "街道乡镇": "street", "乡镇": "street"},
}
# Header words (squashed) that tell the kind of a file when --kind is not given.
_TEAM_MARKS = {"coordinator", "servicetype", "capacity", "descriptionzh", "descriptionen",
               "队伍名称", "团队名称", "协调人", "人数上限", "简介", "英文简介"}
_TYPE_MARKS = {"type", "类型", "服务类型"}
_PLACE_MARKS = {"address", "地址", "hours", "开放时间", "服务时间", "办公时间", "phone", "电话",
                "联系电话", "lat", "纬度", "lon", "经度"}
_PHONE = re.compile(r"^\+?[0-9 ()-]+$")
_COORDINATOR = re.compile(r"^([0-9]+|[a-z][a-z0-9_]*:\S+)$", re.IGNORECASE)
_LIST_SPLIT = re.compile(r"[,，;；、|/]")


class CsvImportError(Exception):
    """The file cannot be imported at all (unreadable, undecodable, no usable header)."""


@dataclass
class ImportReport:
    """What an import did; `format_report` turns it into text for the operator."""

    csv_path: Path
    kind: str
    encoding: str  # "UTF-8" or "GB18030"
    kind_detected: bool = False  # True when the kind was guessed from the header
    rows: int = 0  # non-blank data rows read
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (spreadsheet row, reason)
    ignored_columns: list[str] = field(default_factory=list)
    output: Path = Path()
    written: bool = False
    check_errors: list[str] = field(default_factory=list)  # `kb check` errors that undid it

    @property
    def ok(self) -> bool:
        return self.written and not self.check_errors


class _Reject(Exception):
    """One row is rejected; the message is the reason shown to the operator."""


def _squash(text: str) -> str:
    """For comparing names and headers: NFKC, lower case, no punctuation, no spaces."""
    return normalise(text).replace(" ", "")


def _decode(csv_path: Path) -> tuple[str, str]:
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise CsvImportError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc
    for encoding, label in (("utf-8-sig", "UTF-8"), ("gb18030", "GB18030")):
        try:
            return data.decode(encoding), label
        except UnicodeDecodeError:
            pass
    raise CsvImportError(f"{csv_path.name} is neither UTF-8 nor GB18030 text; in the spreadsheet "
                         "use 'Save as' > 'CSV UTF-8 (comma delimited)' and try again")


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(spreadsheet row, stripped cells) of the non-blank records; delimiter from the header."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=max(",\t;", key=first.count))
    try:
        return [(n, cells) for n, row in enumerate(rows, start=1)
                if any(cells := [c.strip() for c in row])]
    except csv.Error as exc:
        raise CsvImportError(f"not a readable CSV file: {exc}") from exc


def _detect(keys: set[str]) -> str:
    if keys & _TEAM_MARKS or ("联系人" in keys and not keys & _PLACE_MARKS):
        return "teams"
    if keys & {"street", "aliases", "街道", "别名", "街道乡镇"} and not keys & (
            _TYPE_MARKS | _PLACE_MARKS):
        return "communities"
    return "services"


class _Rows:
    """Validates rows against the places, types and ids defined outside the file it writes."""

    def __init__(self, knowledge_dir: Path, kind: str, out_name: str, source: str,
                 data_dir: Path | None = None) -> None:
        self.kind, self.source, self.seen = kind, source, dict[str, int]()  # id/name -> row
        folder = knowledge_dir / "directory"
        overlay = data_dir / "directory" if data_dir else None
        own = data_dir or knowledge_dir  # where the output goes: its old copy is replaced
        places: dict = read_yaml(knowledge_dir / "places.yaml") or {}
        self.taken = {str(p["id"]): "places.yaml" for p in [
            places["city"], *(places.get("districts") or ()), *(places.get("communities") or ())]}
        for path in layered(folder, "communities*.yaml", overlay):
            if not (path.name == out_name and path.parent == own / "directory"):
                extra = (read_yaml(path) or {}).get("communities") or []
                places["communities"] = [*(places.get("communities") or []), *extra]
                self.taken.update({str(c["id"]): path.name for c in extra})
        self.gazetteer = Gazetteer.from_data(places)
        if kind != "communities":  # ids of places are not ids of services or teams
            self.taken = {str(raw.get("id", "")): path.name
                          for path in reversed(layered(folder, f"{kind}*.yaml", overlay))
                          if not (path.name == out_name and path.parent == own / "directory")
                          for raw in (read_yaml(path) or {}).get(kind) or ()}
        types = (read_yaml(folder / "types.yaml") or {}).get("types") or []
        self.types = {_squash(str(word)): str(t["id"]) for t in reversed(types)
                      for word in (*(t.get("keywords") or ()), t["name_en"], t["name_zh"])}
        self.types.update({str(t["id"]): str(t["id"]) for t in types})

    def place(self, text: str, kind: str) -> Place | None:
        """The place a cell names (id, name, alias or former name), which must be of `kind`."""
        if not text:
            return None
        found = self.gazetteer.places.get(text) or self.gazetteer.places.get(text.lower())
        if found is None:  # the whole cell is a name, or names one place (长沙市雨花区)
            matches = self.gazetteer.find(text)
            fits = [m.place for m in matches if m.place.kind == kind]
            whole = [m.place for m in matches if m.matched == normalise(text)]
            if not whole and len(fits) == 1 and not self.gazetteer.strip(text).strip():
                whole = fits
            found = whole[0] if whole else None
        if found is None:
            raise _Reject(f"unknown {kind} {text!r}")
        if found.kind != kind:
            raise _Reject(f"{kind} {text!r} is a {found.kind}, not a {kind}")
        return found

    def type_id(self, text: str, what: str) -> str:
        if text not in self.types and _squash(text) not in self.types:
            raise _Reject(f"unknown {what} {text!r} (use an id, name or keyword from types.yaml)")
        return self.types.get(text) or self.types[_squash(text)]

    def row(self, number: int, cells: dict[str, str]) -> dict:
        """The YAML mapping of one row, or _Reject with the reason."""
        if not cells.get("name_zh"):
            raise _Reject("the Chinese name (name_zh / 名称) is empty")
        given = cells.get("id", "")
        if given in self.seen:
            raise _Reject(f"id {given!r} is already used on row {self.seen[given]}")
        if given:
            self.seen[given] = number  # even if this row fails, a second one is a duplicate
        out: dict[str, Any] = {"id": given, "name_zh": cells["name_zh"],
                               "name_en": cells.get("name_en", "")}
        getattr(self, self.kind)(cells, out)
        if not given:
            seed = "|".join((out["name_zh"], out.get("community", ""), out.get("district", "")))
            out["id"] = "imp-" + hashlib.sha1(seed.encode("utf-8")).hexdigest()[:10]
            if out["id"] in self.seen:
                raise _Reject(f"same name and place as row {self.seen[out['id']]}; give the "
                              "rows different ids if both are wanted")
        if not ID_SHAPE.match(out["id"]):
            raise _Reject(f"id {out['id']!r} must be 1-40 letters, digits, _ or -")
        if out["id"] in self.taken:
            raise _Reject(f"id {out['id']!r} is already defined in {self.taken[out['id']]}; "
                          "edit it there or remove it from the spreadsheet")
        self.seen[out["id"]] = number
        for name in (out["name_zh"], out["name_en"], *out.get("aliases", ())):
            if self.kind == "communities" and _squash(name):
                self.seen.setdefault(f"name:{_squash(name)}", number)
        out["source"] = cells.get("source") or f"import: {self.source}"
        out["historical"] = False
        return out

    def services(self, cells: dict[str, str], out: dict) -> None:
        if not cells.get("type"):
            raise _Reject("the type (类型) is empty")
        out["type"] = self.type_id(cells["type"], "type")
        community = self.place(cells.get("community", ""), "community")
        district = self.place(cells.get("district", ""), "district")
        if community is None and district is None:
            raise _Reject("give a community or a district (社区 / 区县)")
        if community and district and community.district not in ("", district.id):
            home = self.gazetteer.places.get(community.district)
            where = home.name_zh if home else community.district
            raise _Reject(f"community {community.name_zh} is in {where}, not {district.name_zh}")
        phone = unicodedata.normalize("NFKC", cells.get("phone", ""))
        if phone and not (_PHONE.match(phone) and 7 <= sum(c.isdigit() for c in phone) <= 20):
            raise _Reject(f"phone {phone!r} must be 7-20 digits (spaces, -, ( ) and a leading + "
                          "allowed; one number per row)")
        out.update(community=community.id if community else "",
                   district=district.id if district else "", address=cells.get("address", ""),
                   hours=cells.get("hours", ""), phone=phone)
        out["lat"], out["lon"] = _coordinates(cells.get("lat", ""), cells.get("lon", ""))

    def teams(self, cells: dict[str, str], out: dict) -> None:
        community = self.place(cells.get("community", ""), "community")
        if community is None:
            raise _Reject("the community (社区) is empty")
        stype, coordinator = cells.get("service_type", ""), cells.get("coordinator", "")
        if coordinator and not _COORDINATOR.match(coordinator):
            raise _Reject(f"coordinator {coordinator!r} must be a Telegram user id (digits) or "
                          "channel:id")
        capacity = cells.get("capacity", "")
        if capacity and not (capacity.isascii() and capacity.isdigit() and int(capacity) > 0):
            raise _Reject(f"capacity {capacity!r} must be a whole number of at least 1, or empty")
        out.update(community=community.id,
                   service_type=self.type_id(stype, "service type") if stype else "",
                   description_zh=cells.get("description_zh", ""),
                   description_en=cells.get("description_en", ""), coordinator=coordinator,
                   capacity=int(capacity) if capacity else None)

    def communities(self, cells: dict[str, str], out: dict) -> None:
        aliases = [a.strip() for a in _LIST_SPLIT.split(cells.get("aliases", "")) if a.strip()]
        district = self.place(cells.get("district", ""), "district")
        for name in (out["name_zh"], out["name_en"], *aliases):
            key = _squash(name)
            clash = [m.place for m in self.gazetteer.find(name) if _squash(m.matched) == key]
            if key and clash:
                raise _Reject(f"the name {name!r} already means {clash[0].name_zh} "
                              f"({clash[0].id}, in {self.taken.get(clash[0].id, '?')})")
            if key and f"name:{key}" in self.seen:
                raise _Reject(f"the name {name!r} is already used on row "
                              f"{self.seen['name:' + key]}")
        out.update(aliases=aliases, district=district.id if district else "",
                   street=cells.get("street", ""))


def _coordinates(lat_text: str, lon_text: str) -> tuple[float | None, float | None]:
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        raise _Reject("give both latitude and longitude (纬度 and 经度), or neither")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise _Reject(f"coordinates {lat_text!r}, {lon_text!r} are not decimal numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and in_changsha(lat, lon)):
        hint = "; latitude and longitude seem swapped" if in_changsha(lon, lat) else ""
        raise _Reject(f"coordinates {lat},{lon} are not in Changsha (latitude {LAT_RANGE[0]}-"
                      f"{LAT_RANGE[1]}, longitude {LON_RANGE[0]}-{LON_RANGE[1]}){hint}")
    return lat, lon


def import_csv(csv_path: Path, knowledge_dir: Path, kind: str | None = None, *,
               data_dir: Path | None = None) -> ImportReport:
    """Imports a CSV export into data_dir/directory/{kind}_imported.yaml (the operator's
    data, BOT_DATA_DIR; without it, into knowledge_dir/directory/).

    `kind` is services, teams or communities; None = guess it from the header. Rows that fail
    validation are listed in the report; the others replace the previous import of that kind
    (unless none is accepted). Raises CsvImportError when the file cannot be used at all.
    """
    if kind is not None and kind not in KINDS:
        raise CsvImportError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    text, encoding = _decode(csv_path)
    records = _records(text)
    if not records:
        raise CsvImportError(f"{csv_path.name} is empty: it needs a header row and data rows")
    (_, header), data = records[0], records[1:]
    keys = [_squash(h) for h in header]
    detected, kind = kind is None, kind or _detect(set(keys))
    pairs = (*_ALIASES[kind].items(), *((f, f) for f in FIELDS[kind]))
    lookup = {_squash(name): target for name, target in pairs}
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for i, (name, key) in enumerate(zip(header, keys, strict=True)):
        if lookup.get(key) is not None and lookup[key] not in columns.values():
            columns[i] = lookup[key]
        elif name or any(i < len(cells) and cells[i] for _, cells in data):
            ignored.append(name or f"column {i + 1} (no header)")
    missing = [f for f in REQUIRED[kind] if f not in columns.values()]
    if missing:
        raise CsvImportError(f"{csv_path.name} read as {kind} has no column for "
                             f"{', '.join(missing)} (found: {', '.join(header)})")
    out_name = f"{kind}_imported.yaml"
    report = ImportReport(csv_path, kind, encoding, detected, len(data),
                          ignored_columns=ignored,
                          output=(data_dir or knowledge_dir) / "directory" / out_name)
    try:
        rows = _Rows(knowledge_dir, kind, out_name, csv_path.name, data_dir)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise CsvImportError(f"the knowledge files do not load ({exc!r}); run "
                             "`python bot.py kb check` first") from exc
    accepted = []
    for number, cells in data:
        values = {f: cells[i] for i, f in columns.items() if i < len(cells)}
        try:
            for i, f in columns.items():
                if len(values.get(f, "")) > MAX_LEN:
                    raise _Reject(f"{header[i]} is longer than {MAX_LEN} characters "
                                  f"({len(values[f])})")
            accepted.append(rows.row(number, values))
        except _Reject as exc:
            report.rejected.append((number, str(exc)))
    report.accepted = len(accepted)
    if accepted:
        _write_checked(report, accepted, knowledge_dir, data_dir)
    return report


def _errors(knowledge_dir: Path, data_dir: Path | None = None) -> list[str]:
    try:
        kb = KnowledgeBase.load(knowledge_dir, data_dir)
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"the knowledge base does not load: {exc!r}"]
    return [message for level, message in check_directory(kb.directory) if level == "error"]


def _write_checked(report: ImportReport, rows: list[dict], knowledge_dir: Path,
                   data_dir: Path | None = None) -> None:
    """Writes the file, then puts the previous one back if `kb check` finds new errors."""
    output, before = report.output, set(_errors(knowledge_dir, data_dir))
    output.parent.mkdir(parents=True, exist_ok=True)
    old = output.read_bytes() if output.exists() else None
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    hand = "places.yaml" if report.kind == "communities" else f"{report.kind}.yaml"
    text = (f"# Generated by `python bot.py directory import` from "
            f"{report.csv_path.name.replace(chr(10), ' ')} at {when}.\n"
            f"# A new import of {report.kind} replaces this file: do not edit it by hand; fix\n"
            f"# the spreadsheet and import it again, or put hand-written data in {hand}.\n"
            + yaml.safe_dump({report.kind: rows}, allow_unicode=True, sort_keys=False, width=1000))
    _atomic_write(output, text.encode("utf-8"))
    after = _errors(knowledge_dir, data_dir)
    report.check_errors = [e for e in after if e not in before or output.name in e]
    if report.check_errors and old is None:
        output.unlink()
    elif report.check_errors:
        _atomic_write(output, old)  # type: ignore[arg-type]
    report.written = not report.check_errors


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:  # mkstemp makes the file private (0600): give it the usual mode instead
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_report(report: ImportReport) -> str:
    """The report as text for the operator: what was imported, and why rows were rejected."""
    try:
        out = str(report.output.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        out = str(report.output)
    how = " (detected from the header)" if report.kind_detected else ""
    head = f"Read {report.rows} row(s) ({report.encoding}) as {report.kind}{how}: "
    rejected = len(report.rejected)
    if report.check_errors:
        state = "restored" if report.output.exists() else "not created"
        lines = [head + f"{report.accepted} row(s) passed, but `kb check` then found errors, so "
                 f"{out} was {state}:", *(f"  {e}" for e in report.check_errors)]
        lines += [f"{rejected} row(s) were rejected:"] if rejected else []
    elif report.written:
        tail = f", {rejected} rejected:" if rejected else ", none rejected."
        lines = [head + f"{report.accepted} imported into {out}{tail}"]
    else:
        state = "left unchanged" if report.output.exists() else "not created"
        lines = [head + (f"nothing imported ({rejected} rejected), so {out} was {state}:"
                         if rejected else f"nothing imported, so {out} was {state}.")]
    lines += [f"  row {number}: {reason}" for number, reason in report.rejected]
    if report.ignored_columns:
        lines.append("Ignored columns (not directory fields): "
                     + ", ".join(report.ignored_columns))
    if report.written:
        lines.append("Restart the bot to use the new data.")
    return "\n".join(lines)
