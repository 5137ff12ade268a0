"""Answer quality and latency on a labelled question set.

    python bench/accuracy.py [--questions FILE ...] [--show-errors] [--by-topic]

For each set: in-scope questions answered right directly (a clarifying question does NOT count
as right), asked back (and whether the right entry was among the options), wrong, declined;
off-topic questions declined; per language (and per topic with --by-topic); p50/p99 latency of
one decision; and once, the crisis check on the held-out crisis sets and the cold
start of `python bot.py ask`. A question with `parts` (two questions in one message) is right
when the answers given cover every part that an entry answers (a part labelled [] is another
office's with no entry of ours to route it: leaving it unanswered is right). Goals (issue 10):
right directly >= 90%, wrong <= 2%, asked back <= 5%, off-topic declined >= 95%, p99 < 30 ms,
`bot.py ask` cold start < 2 s.

bench/questions.yaml and bench/heldout.yaml have been read while tuning: their figures are
optimistic. The sets in HELD_OUT (heldout3, heldout10-13, heldout15, heldout17) are held out:
report them, do not tune on them (--show-errors on them is refused).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.faq import decide  # noqa: E402
from knowledge.base import Decision, KnowledgeBase  # noqa: E402
from knowledge.safety import SafetyCheck  # noqa: E402

HELD_OUT = ("heldout3.yaml", "heldout10.yaml", "heldout11.yaml", "heldout12.yaml",
            "heldout13.yaml", "heldout15.yaml", "heldout17.yaml")


def answered_ids(d: Decision) -> list[str]:
    return [x.entry.id for x in (d, *d.also) if x.entry is not None]


def outcome(d: Decision, q: dict) -> str:
    """right | asked_right | asked_wrong | wrong | declined (in scope); declined | answered
    (off-topic: declined, or answered with the entry its label expects)."""
    if q["kind"] != "in":
        # Off-topic by its writer, yet the labeller found an entry of ours that answers it
        # ("你好", "老人去世以后户口怎么注销"): that answer is not a wrong one.
        got = answered_ids(d)
        return "declined" if d.fallback or (got and got[0] in q["expect"]) else "answered"
    if d.kind == "out_of_scope" and d.entry is not None and d.entry.id in q["expect"]:
        return "right"  # "that is the court's business, call 12345" is the answer expected
    if d.fallback:
        return "declined"
    if d.kind == "clarify":
        options = {e.id for e, _s in d.candidates}
        return "asked_right" if options & set(q["expect"]) else "asked_wrong"
    got = answered_ids(d)
    if q.get("parts"):  # a part no entry answers (its list is empty) is rightly left out
        parts = [part for part in q["parts"] if part]
        return "right" if parts and all(set(part) & set(got) for part in parts) else "wrong"
    return "right" if got and got[0] in q["expect"] else "wrong"


def report(name: str, rows: list[tuple[dict, str]], key: str) -> None:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for q, res in rows:
        groups[str(q.get(key, "?"))][res if q["kind"] == "in" else f"off_{res}"] += 1
    for group, c in sorted(groups.items()):
        n_in = sum(v for k, v in c.items() if not k.startswith("off_"))
        asked = c["asked_right"] + c["asked_wrong"]
        line = (f"  {name} {group:18} in scope {n_in:3}: right {c['right']:3}, asked {asked:2}, "
                f"wrong {c['wrong']:2}, declined {c['declined']:3}")
        n_off = c["off_declined"] + c["off_answered"]
        if n_off:
            line += f"; off-topic declined {c['off_declined']}/{n_off}"
        print(line)


def one_set(kb: KnowledgeBase, path: Path, show_errors: bool, by_topic: bool) -> None:
    questions = yaml.safe_load(path.read_text(encoding="utf-8"))
    timings: list[float] = []
    for q in questions:  # warm caches once
        decide(kb, q["q"])
    rows: list[tuple[dict, str]] = []
    errors = []
    for q in questions:
        start = time.perf_counter()
        d = decide(kb, q["q"])
        timings.append((time.perf_counter() - start) * 1000)
        res = outcome(d, q)
        rows.append((q, res))
        if res not in ("right", "declined") or (res == "declined" and q["kind"] == "in"):
            errors.append(f"{res:11} {d.kind:12} {d.score:.2f} got={answered_ids(d)} "
                          f"want={q['expect']} q={q['q']}")
    inn = Counter(res for q, res in rows if q["kind"] == "in")
    out = Counter(res for q, res in rows if q["kind"] != "in")
    n_in, n_out = sum(inn.values()), sum(out.values())
    pct = lambda k, n: 100.0 * k / n if n else 0.0  # noqa: E731
    asked = inn["asked_right"] + inn["asked_wrong"]
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"{path.name}: {len(questions)} questions ({n_in} in scope, {n_out} off-topic, "
          f"{sum(1 for q in questions if q['lang'] == 'en')} English)")
    print(f"  in scope: right directly {inn['right']} ({pct(inn['right'], n_in):.1f}%), asked "
          f"back {asked} ({pct(asked, n_in):.1f}%; right option offered {inn['asked_right']}), "
          f"wrong {inn['wrong']} ({pct(inn['wrong'], n_in):.1f}%), declined {inn['declined']} "
          f"({pct(inn['declined'], n_in):.1f}%)")
    print(f"  off-topic: declined (or answered as labelled) {out['declined']}/{n_out} "
          f"({pct(out['declined'], n_out):.1f}%)")
    report("lang", rows, "lang")
    if by_topic:
        report("topic", rows, "topic")
    print(f"  latency per question: p50 {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms, "
          f"max {timings[-1]:.2f} ms")
    if show_errors:
        if path.name in HELD_OUT:
            print("  (errors of a held-out set are not shown: do not tune on it)")
        else:
            print("\n".join(f"    {e}" for e in sorted(errors)))


def crisis(kb: KnowledgeBase) -> None:
    """The crisis check on the held-out crisis sets (bench/safety.py has the details)."""
    check: SafetyCheck = kb.safety
    for name, split in (("crisis.yaml", "test"), ("crisis3.yaml", "test3"),
                        ("crisis5.yaml", "test5"), ("crisis8.yaml", "test8"),
                        ("crisis9.yaml", "test9"), ("crisis11.yaml", "test11"),
                        ("crisis13.yaml", "test13"), ("crisis16.yaml", "test16"),
                        ("crisis17.yaml", "test17"), ("crisis19.yaml", "test19")):
        path = ROOT / "bench" / name
        if not path.exists():
            continue
        rows = [r for r in yaml.safe_load(path.read_text(encoding="utf-8"))
                if r.get("split") == split]
        hits = sum(1 for r in rows if r["crisis"] != "none" and check.check(r["q"]))
        n_crisis = sum(1 for r in rows if r["crisis"] != "none")
        alarms = sum(1 for r in rows if r["crisis"] == "none" and check.check(r["q"]))
        n_none = len(rows) - n_crisis
        print(f"crisis (bench/{name}, held-out split {split}): emergency reply {hits}/{n_crisis}"
              f" ({100.0 * hits / max(1, n_crisis):.1f}%), false alarms {alarms}/{n_none} "
              f"({100.0 * alarms / max(1, n_none):.1f}%)")


def cold_start() -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "bot.py"), "ask", "结婚登记要带什么材料"],
                   check=True, capture_output=True, cwd=ROOT)
    print(f"cold start of `python bot.py ask`: {time.perf_counter() - t0:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", nargs="*",
                    default=[str(ROOT / "bench" / n) for n in ("questions.yaml", "heldout.yaml")])
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--by-topic", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    kb = KnowledgeBase.load()
    print(f"knowledge base: {len(kb.entries)} entries, loaded in "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    for name in args.questions:
        one_set(kb, Path(name), args.show_errors, args.by_topic)
    crisis(kb)
    cold_start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
