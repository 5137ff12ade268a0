"""The learned ranking measured honestly on development sets: for each set, the model is trained
again without that set's questions (knowledge/learned/questions.yaml keeps where each came
from), and the set is measured with the lexical ranking alone and with the learned one.

    python bench/crossval.py [--sets heldout7.yaml ...] [--without SOURCE ...] [--show-errors]

A development set's questions are training examples of the shipped model, so bench/accuracy.py
on it measures how well the model fits them, not how it does on new questions; this does.
About two minutes of training per set. `--without train11b` leaves a batch of training
questions out too: run with and without it to see what it adds.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import learned  # noqa: E402
from knowledge.base import KNOWLEDGE_DIR, KnowledgeBase  # noqa: E402
from knowledge.files import read_yaml  # noqa: E402


def _accuracy() -> ModuleType:
    """bench/accuracy.py, the script beside this one (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("accuracy", ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    one_set = _accuracy().one_set
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="*",
                    default=["heldout7.yaml", "heldout8.yaml", "heldout9.yaml",
                             "heldout14.yaml", "heldout16.yaml", "heldout18.yaml"])
    ap.add_argument("--without", nargs="*", default=[],
                    help="leave these sources (`from`) out of training too: what they add")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    kb = KnowledgeBase.load()
    shipped = kb.learned
    rows = read_yaml(learned.questions_path(KNOWLEDGE_DIR)) or []  # to count a set's questions
    phrasings = kb.phrasings()
    for name in args.sets:
        stem = Path(name).stem
        pairs = learned.examples(KNOWLEDGE_DIR, phrasings, {stem, *args.without})
        t0 = time.perf_counter()
        kb.learned = learned.EntryModel(learned.fit(pairs, kb.prepared, kb.concepts.present))
        print(f"--- {name}: trained without its {sum(1 for r in rows if r.get('from') == stem)}"
              f" questions in {time.perf_counter() - t0:.0f} s; with the learned ranking:")
        one_set(kb, ROOT / "bench" / name, args.show_errors, False)
        kb.learned = None
        print(f"--- {name}: the lexical ranking alone:")
        one_set(kb, ROOT / "bench" / name, False, False)
    kb.learned = shipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
