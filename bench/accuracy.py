"""Answer quality and latency on the labelled question set (bench/questions.yaml).

    python bench/accuracy.py [--show-errors] [--questions FILE]

Prints, for in-scope questions: right / wrong / declined (a clarifying question whose options
include the right entry counts as right, and is also shown apart); for out-of-scope questions:
declined; and p50/p99 latency of one answer decision. Goals (issue 2): right >= 90%,
wrong <= 3%, out-of-scope declined >= 90%, p99 < 20 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.faq import decide  # noqa: E402
from knowledge.base import Decision, KnowledgeBase  # noqa: E402


def outcome(decision: Decision, expect: list[str]) -> str:
    if decision.fallback:
        return "declined"
    if decision.kind == "clarify":
        options = {e.id for e, _s in decision.candidates}
        return "clarified" if options & set(expect) else "wrong"
    return "right" if decision.entry and decision.entry.id in expect else "wrong"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", default=str(ROOT / "bench" / "questions.yaml"))
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    kb = KnowledgeBase.load()
    build_ms = (time.perf_counter() - t0) * 1000
    questions = yaml.safe_load(Path(args.questions).read_text(encoding="utf-8"))
    counts: dict[str, dict[str, int]] = {"in": {}, "out": {}, "en_in": {}}
    timings: list[float] = []
    errors: list[str] = []
    for _ in range(2):  # the first pass warms caches; timings come from the second
        timings.clear()
        errors.clear()
        counts = {"in": {}, "out": {}, "en_in": {}}
        for q in questions:
            start = time.perf_counter()
            d = decide(kb, q["q"])
            timings.append((time.perf_counter() - start) * 1000)
            res = outcome(d, q["expect"]) if q["kind"] == "in" else (
                "declined" if d.fallback else "answered")
            groups = [q["kind"]] + (["en_in"] if q["kind"] == "in" and q["lang"] == "en" else [])
            for g in groups:
                counts[g][res] = counts[g].get(res, 0) + 1
            if res in ("wrong", "answered") or (res == "declined" and q["kind"] == "in"):
                got = d.entry.id if d.entry else None
                errors.append(f"{res:9} {d.kind:12} {d.score:.2f} got={got} "
                              f"want={q['expect']} q={q['q']}")
    n_in = sum(counts["in"].values())
    n_out = sum(counts["out"].values())
    c = counts["in"]
    right = c.get("right", 0) + c.get("clarified", 0)
    pct = lambda k, n: 100.0 * k / n if n else 0.0  # noqa: E731
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"knowledge base: {len(kb.entries)} entries, index built in {build_ms:.0f} ms")
    print(f"questions: {len(questions)} ({n_in} in scope, {n_out} out of scope, "
          f"{sum(1 for q in questions if q['lang'] == 'en')} English)")
    print(f"in scope: right {right}/{n_in} ({pct(right, n_in):.1f}%) "
          f"[answered {c.get('right', 0)}, clarified with the right option "
          f"{c.get('clarified', 0)}], wrong {c.get('wrong', 0)} "
          f"({pct(c.get('wrong', 0), n_in):.1f}%), declined {c.get('declined', 0)} "
          f"({pct(c.get('declined', 0), n_in):.1f}%)")
    e = counts["en_in"]
    n_en = sum(e.values())
    print(f"  of which English: right {e.get('right', 0) + e.get('clarified', 0)}/{n_en}, "
          f"wrong {e.get('wrong', 0)}, declined {e.get('declined', 0)}")
    o = counts["out"]
    print(f"out of scope: declined {o.get('declined', 0)}/{n_out} "
          f"({pct(o.get('declined', 0), n_out):.1f}%)")
    print(f"latency per question: p50 {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms, "
          f"max {timings[-1]:.2f} ms")
    if args.show_errors:
        print("\n".join(sorted(errors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
