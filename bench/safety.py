"""The crisis check on bench/crisis.yaml: every crisis message answered with the emergency
reply, and few false alarms.

    python bench/safety.py [--show-errors]

Prints, per split (dev: may be read while tuning; test: held out), crisis messages given the
emergency reply (and with the right kind), and ordinary messages given it by mistake. Goals
(issue 10): every crisis message, at most 2% false alarms. --show-errors lists the dev
split's misses only: the test split is never read for tuning.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.safety import SafetyCheck  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default=str(ROOT / "bench" / "crisis.yaml"),
                    help="bench/crisis.yaml (dev and test splits) or bench/crisis_dev2.yaml")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    check = SafetyCheck.load(ROOT / "knowledge")
    rows = yaml.safe_load(Path(args.set).read_text(encoding="utf-8"))
    for split in sorted({r.get("split", "test") for r in rows}):
        counts: Counter[str] = Counter()
        errors = []
        for row in (r for r in rows if r.get("split", "test") == split):
            found = check.check(row["q"])
            if row["crisis"] == "none":
                counts["ordinary"] += 1
                if found is not None:
                    counts["false_alarm"] += 1
                    errors.append(f"false alarm ({found.kind.kind}): {row['q']}")
            else:
                counts["crisis"] += 1
                if found is None:
                    errors.append(f"missed ({row['crisis']}): {row['q']}")
                else:
                    counts["replied"] += 1
                    counts["right_kind"] += found.kind.kind == row["crisis"]
        print(f"{split}: crisis {counts['replied']}/{counts['crisis']} given the emergency reply "
              f"({counts['replied'] / max(1, counts['crisis']):.1%}; right kind "
              f"{counts['right_kind']}), false alarms {counts['false_alarm']}/"
              f"{counts['ordinary']} ({counts['false_alarm'] / max(1, counts['ordinary']):.1%})")
        if args.show_errors and split != "test":
            print("\n".join(f"  {e}" for e in errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
