"""The crisis check: every crisis message answered with the emergency reply, few false alarms.

    python bench/safety.py [--set FILE ...] [--show-errors]

Prints, per split, crisis messages given the emergency reply (and with the right kind), and
ordinary messages given it by mistake, with how many the patterns caught and how many only the
classifier. Sets: bench/crisis.yaml (split dev: also training examples; split test: held out)
bench/crisis3.yaml (split test3: held out, by a third writer) and bench/crisis4.yaml (split
val4: validation of the thresholds, hard ordinary messages, by a fourth writer),
bench/crisis5.yaml (split test5: held out, by a fifth writer, measured once at its start),
bench/crisis6.yaml (split dev6: development, hard ordinary messages, by a sixth writer),
bench/crisis7.yaml (split dev7: development, the same kind, by a seventh writer),
bench/crisis8.yaml (split test8: held out, mostly hard ordinary messages, by an eighth writer),
bench/crisis9.yaml (split test9: held out, by a ninth writer, measured three times),
bench/crisis11.yaml (split test11: held out, by an eleventh writer, written 4 December 2026),
bench/crisis13.yaml (split test13: held out, by a thirteenth writer, written 6 December 2026),
bench/crisis16.yaml (split test16: held out, by a sixteenth writer, written 6 December 2026),
bench/crisis17.yaml (split test17: held out, by a seventeenth writer, written 6 December 2026,
in the session after), bench/crisis19.yaml (split test19: held out, by a nineteenth writer, evenly
spread, written 6 December 2026 in the session after that);
bench/crisis15.yaml (split dev15: development, read while tuning; its first run caught 178/186
with 33/340 false alarms), bench/crisis18.yaml (split dev18: development, by an eighteenth writer,
hard and quiet cases), bench/crisis20.yaml (split dev20: development, by a twentieth writer, hard
and quiet cases);
bench/crisis10.yaml, crisis12a.yaml, crisis12b.yaml and crisis14.yaml (development: also
training examples, train10, train12a, train12b, train14);
knowledge/safety/examples.yaml (the training examples: how well the model fits them).
Goals (issue 10): every crisis message, at most 2% false alarms. Violence told as over behind
a question (divorced years ago, he is in prison) gets the answer and then a note with 110, not
the emergency reply: counted as no emergency reply, and shown apart. A false alarm on past
violence with a question (domestic, violence) still gets the answer after the help, as issue 10
asks; the figures say how many false alarms were that and how many took the answer's place.
--show-errors lists misses and false alarms of the splits that may be read; the held-out
splits are never read. --answer-sets also counts the emergency reply on the questions of the
answer sets (bench/dev*.yaml, bench/heldout*.yaml), which their writers wrote without crises.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.safety import ANSWER_AFTER  # noqa: E402
from knowledge.safety import SafetyCheck  # noqa: E402

HELD_OUT = ("test", "test3", "test5", "test8", "test9", "test11", "test13", "test16", "test17",
            "test19")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", nargs="*", default=[str(ROOT / "bench" / n) for n in (
        "crisis.yaml", "crisis3.yaml", "crisis4.yaml", "crisis5.yaml", "crisis6.yaml",
        "crisis7.yaml", "crisis8.yaml", "crisis9.yaml", "crisis11.yaml", "crisis13.yaml",
        "crisis16.yaml", "crisis17.yaml", "crisis19.yaml", "crisis20.yaml")])
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--answer-sets", action="store_true",
                    help="also count the emergency reply on the answer sets' ordinary questions")
    args = ap.parse_args()
    check = SafetyCheck.load(ROOT / "knowledge")
    patterns_only = check.with_learned(None)
    rows = [r for name in args.set
            for r in yaml.safe_load(Path(name).read_text(encoding="utf-8"))]
    for split in sorted({r.get("split") or r.get("set") or "test" for r in rows}):
        counts: Counter[str] = Counter()
        errors = []
        for row in (r for r in rows if (r.get("split") or r.get("set") or "test") == split):
            found = check.check(row["q"])
            read = check.read(row["q"])  # violence that has ended: the answer, then a note
            counts[f"{row['crisis'] != 'none'}_noted"] += read is not None and read.over
            if row["crisis"] == "none":
                counts["ordinary"] += 1
                if found is not None:
                    counts["false_alarm"] += 1
                    counts["alarm_by_patterns"] += patterns_only.check(row["q"]) is not None
                    # past violence and a question: the help and then the answer (by design)
                    counts["alarm_answered"] += found.asks_procedure and \
                        found.kind.kind in ANSWER_AFTER
                    errors.append(f"false alarm ({found.kind.kind}): {row['q']}")
            else:
                counts["crisis"] += 1
                if found is None:
                    errors.append(f"missed ({row['crisis']}): {row['q']}")
                else:
                    counts["replied"] += 1
                    counts["right_kind"] += found.kind.kind == row["crisis"]
                    counts["by_patterns"] += patterns_only.check(row["q"]) is not None
        print(f"{split}: crisis {counts['replied']}/{counts['crisis']} given the emergency reply "
              f"({counts['replied'] / max(1, counts['crisis']):.1%}; right kind "
              f"{counts['right_kind']}; by the patterns {counts['by_patterns']}, by the "
              f"classifier alone {counts['replied'] - counts['by_patterns']}), false alarms "
              f"{counts['false_alarm']}/{counts['ordinary']} "
              f"({counts['false_alarm'] / max(1, counts['ordinary']):.1%}; by the patterns "
              f"{counts['alarm_by_patterns']}; with the answer after the help "
              f"{counts['alarm_answered']}, instead of the answer "
              f"{counts['false_alarm'] - counts['alarm_answered']}); told as violence that "
              f"has ended (the answer, then a note): ordinary {counts['False_noted']}, crisis "
              f"{counts['True_noted']}")
        if args.show_errors and split not in HELD_OUT:
            print("\n".join(f"  {e}" for e in errors))
    if args.answer_sets:
        answer_sets(check, args.show_errors)
    return 0


def _answer_sets_held_out() -> tuple[str, ...]:
    """bench/accuracy.py's HELD_OUT (the script beside this one; bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("accuracy", ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.HELD_OUT)


def answer_sets(check: SafetyCheck, show: bool) -> None:
    """The questions of the answer sets (bench/dev*.yaml, bench/heldout*.yaml), written as
    everyday questions with no crisis in them, given the emergency reply anyway. Some are
    someone sleeping rough in the cold, whose reply fits; the rest are false alarms a resident
    meets on an ordinary question. Held-out sets are counted, never listed."""
    held_out = _answer_sets_held_out()
    for path in sorted((ROOT / "bench").glob("*.yaml")):
        if not path.name.startswith(("dev", "heldout")):
            continue
        rows = yaml.safe_load(path.read_text(encoding="utf-8"))
        alarms = [(r["q"], found.kind.kind) for r in rows if (found := check.check(r["q"]))]
        print(f"{path.name}: emergency reply on {len(alarms)}/{len(rows)} ordinary questions "
              f"({len(alarms) / max(1, len(rows)):.1%})")
        if show and path.name not in held_out:
            print("\n".join(f"  ({kind}) {q}" for q, kind in alarms))


if __name__ == "__main__":
    sys.exit(main())
