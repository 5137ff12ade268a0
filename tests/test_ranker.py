"""The ranking's index kept between runs: read back only when built from the same phrasings."""
from __future__ import annotations

from pathlib import Path

from knowledge.ranker import Ranker, cached
from knowledge.text import Synonyms

PHRASINGS = {"marriage.documents": ["结婚登记要带什么材料", "what to bring to get married"],
             "divorce.cooling": ["离婚冷静期多久", "how long is the cooling-off period"]}
SYNONYMS = Synonyms({"领证": "结婚登记"}, {"wed": "married"})


def test_a_second_run_reads_the_index_it_wrote(tmp_path: Path, monkeypatch) -> None:
    first = cached(PHRASINGS, SYNONYMS, 0.7, tmp_path)
    (kept,) = tmp_path.glob("ranker-*.pickle")
    built: list[object] = []
    real_init = Ranker.__init__

    def counting(self, *args, **kwargs):  # noqa: ANN001 - Ranker's own signature
        built.append(args)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Ranker, "__init__", counting)
    again = cached(PHRASINGS, SYNONYMS, 0.7, tmp_path)
    assert built == []  # read, not built
    for question in ("领证要带什么", "cooling off how long"):
        assert again.rank(question)[:1] == first.rank(question)[:1]
        assert again.rank(question)[0].entry_id in PHRASINGS
    changed = {**PHRASINGS, "bot.greeting": ["你好"]}
    cached(changed, SYNONYMS, 0.7, tmp_path)
    assert len(built) == 1  # other phrasings: built again, and the old file replaced
    assert [p.name for p in tmp_path.glob("ranker-*.pickle")] != [kept.name]
    assert len(list(tmp_path.glob("ranker-*.pickle"))) == 1


def test_a_broken_or_unwritable_cache_only_costs_a_build(tmp_path: Path) -> None:
    cached(PHRASINGS, SYNONYMS, 0.7, tmp_path)
    (kept,) = tmp_path.glob("ranker-*.pickle")
    kept.write_bytes(b"not a pickle")
    ranker = cached(PHRASINGS, SYNONYMS, 0.7, tmp_path)
    assert ranker.rank("离婚冷静期")[0].entry_id == "divorce.cooling"
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    assert cached(PHRASINGS, SYNONYMS, 0.7, blocked).rank("结婚材料")[0].entry_id \
        == "marriage.documents"
