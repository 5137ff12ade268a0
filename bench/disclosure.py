"""Village-affairs disclosure at scale.

    python bench/disclosure.py [--villages 5000]

Prints: the time of the daily overdue detection (what the reminder service runs at 09:00:
every village's statuses from its records in SQLite, the overdue ones matched to their village
and township cadres, with 5,000 villages, their 5,000 cadres and about three records each;
goal: under 1 s), beside the status computation alone; and the chart's rendering time (the
first one, which loads matplotlib, and the next ones).
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.places import Place  # noqa: E402
from knowledge.villages import DisclosureBook, Village  # noqa: E402
from schedules import charts  # noqa: E402
from schedules.disclosure import DisclosureWatch, monthly_counts, statuses  # noqa: E402
from schedules.kinds import Plan  # noqa: E402
from schedules.rules import Instant  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.disclosures import DisclosureRepo  # noqa: E402
from storage.reminder_types import DisclosureCheck, Rule, RuleKind  # noqa: E402
from storage.users import UserRepo  # noqa: E402

NOW = datetime(2027, 6, 10, 1, 0, tzinfo=UTC)  # 09:00 in Changsha


def synthetic(kb: KnowledgeBase, n: int) -> DisclosureBook:
    rng = random.Random(5)
    districts = kb.gazetteer.districts()
    villages = []
    for i in range(n):
        d = rng.choice(districts)
        place = Place(f"b{i}", "community", f"村{i}", f"Village {i}", district=d.id,
                      street=f"镇{i % 400}")
        villages.append(Village(place.id, place, place.street, rng.random() < 0.3))
    old = kb.villages
    return DisclosureBook(list(old.items.values()), list(old.rules.values()), villages,
                          old.tracking_starts)


async def fill(path: Path, book: DisclosureBook,
               names: dict[str, str]) -> tuple[DisclosureRepo, UserRepo]:
    db = await open_database(path)
    rng = random.Random(6)
    ts = NOW.isoformat()
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO users (channel, external_id, role, first_seen, last_seen) "
            "VALUES ('telegram', ?, 'cadre', ?, ?)", [(str(i), ts, ts) for i in range(len(
                book.villages))])
        await conn.executemany(
            "INSERT INTO cadre_areas (user_id, level, area_path, granted_at) "
            "VALUES (?, 'village', ?, ?)",
            [(i + 1, f"长沙市/{names[v.place.district]}/{v.township}/{v.place.name_zh}", ts)
             for i, v in enumerate(book.villages.values())])
        rows = []
        for v in book.villages.values():
            for _ in range(3):
                day = NOW - timedelta(days=rng.randint(0, 240))
                period = f"{day.year}-{day.month:02d}"
                rows.append((v.id, period, rng.choice(["finance", "land", "finance,other"]),
                             "x", None, 1, "bench", day.isoformat()))
        await conn.executemany(
            "INSERT INTO disclosures (village_id, period, items, summary, photo_file_id, "
            "recorded_by, recorded_by_label, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return DisclosureRepo(db), UserRepo(db)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--villages", type=int, default=5000)
    args = ap.parse_args()
    kb = KnowledgeBase.load()
    kb.villages = synthetic(kb, args.villages)
    tz = Settings().tz
    with tempfile.TemporaryDirectory() as tmp:
        names = {d.id: d.name_zh for d in kb.gazetteer.districts()}
        repo, users = await fill(Path(tmp) / "bench.sqlite3", kb.villages, names)
        watch = DisclosureWatch(kb, repo, users, tz)
        inst = Instant(0, "2027-06-10/check", "2027-06-10", NOW.astimezone(tz), "disclosure")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            owed = await watch.owed(_rule(), inst, Plan(NOW, NOW, False))
            runs.append(time.perf_counter() - t0)
        records = await repo.current()
        today = NOW.astimezone(tz).date()
        by_village: dict[str, list] = {}
        for r in records:
            by_village.setdefault(r.village_id, []).append(r)
        t0 = time.perf_counter()
        sts = [s for v in kb.villages.villages.values()
               for s in statuses(kb.villages, v, by_village.get(v.id, []), today, tz)]
        pure = time.perf_counter() - t0
        await repo._db.close()
    missing = sum(1 for s in sts if s.state == "missing")
    print(f"overdue detection, {args.villages} villages, {len(records)} records, "
          f"{args.villages} cadres: median {statistics.median(runs) * 1000:.0f} ms "
          f"(goal < 1000 ms); statuses alone {pure * 1000:.0f} ms for {len(sts)} periods; "
          f"{missing} missing -> {len(owed)} deliveries owed")
    months = charts.last_months(today, 12)
    counts = monthly_counts(sts, months)
    labels = {"on_time": "on time", "late": "late", "missing": "missing"}
    t0 = time.perf_counter()
    png = charts.render(counts, "Village-affairs disclosure", labels)
    first = time.perf_counter() - t0
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        charts.render(counts, "Village-affairs disclosure", labels)
        warm.append(time.perf_counter() - t0)
    print(f"chart: first {first * 1000:.0f} ms (loads matplotlib), then median "
          f"{statistics.median(warm) * 1000:.0f} ms; PNG {len(png) // 1024} KB")


def _rule() -> Rule:
    return Rule(0, RuleKind.DISCLOSURE, "bench", ("village",), (),
                DisclosureCheck(escalate_days=7))


if __name__ == "__main__":
    asyncio.run(main())
