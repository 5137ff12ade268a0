"""The learned ranking: trained from phrasings and labelled questions, stored sparse, read by
the knowledge base beside the lexical ranking, and the lexical ranking alone without it."""
from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from knowledge import learned
from knowledge.base import KnowledgeBase
from knowledge.check import check
from knowledge.classifier import TextClassifier
from knowledge.text import normalise
from tests.conftest import text

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
BENCH = KNOWLEDGE.parent / "bench"

PHRASINGS = {
    "divorce.documents": ("离婚要带什么材料", "协议离婚需要哪些证件",
                          "what to bring for a divorce"),
    "divorce.procedure": ("离婚怎么办手续", "离婚的流程是什么", "how to get divorced"),
    "marriage.documents": ("结婚要带什么", "领证需要什么材料", "documents to get married"),
}


def test_a_sparse_model_survives_storage() -> None:
    pairs = [(t, e) for e, texts in PHRASINGS.items() for t in texts]
    model = TextClassifier.train(pairs, default=None, balanced=False, decay=False, rate=0.1,
                                 epochs=60)
    stored = model.to_json(sparse=True, below=0.05)
    data = json.loads(stored)
    assert "sparse" in data and "weights" not in data
    sparse = data["sparse"]
    assert all(abs(w) >= 0.05 for w in sparse["weights"])
    assert sum(sparse["counts"]) == len(sparse["labels"]) == len(sparse["weights"])
    again = TextClassifier.from_json(stored, np.float32)
    for question in ("离婚要带啥", "结婚要什么材料", "how do i divorce", ""):
        assert again.predict(question, default="").label == \
            model.predict(question, default="").label
        assert again.vector(question).sum() == pytest.approx(1.0, abs=1e-5)
    assert TextClassifier.from_json(again.to_json(sparse=True), np.float32).to_json(
        sparse=True) == again.to_json(sparse=True)  # stored again, the same weights


def test_training_writes_weights_that_know_the_labelled_questions(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    (folder / "learned").mkdir(parents=True)
    learned.questions_path(folder).write_text(
        '- {"q": "离婚要么子手续咯", "entry": "divorce.procedure", "from": "test"}\n'
        '- {"q": "明天天气怎么样", "entry": "none", "from": "test"}\n'
        '- {"q": "删掉的条目", "entry": "divorce.gone", "from": "test"}\n', encoding="utf-8")
    concepts = {"离婚": "divorce", "手续": "procedure", "材料": "documents"}
    present = lambda q: {c for w, c in concepts.items() if w in q}  # noqa: E731
    learned.train(folder, PHRASINGS, str.lower, present)
    model = learned.EntryModel.load(folder, present)
    assert model is not None
    assert set(model.model.labels) == {*PHRASINGS, "none"}  # not the entry that is gone
    p = model.probabilities("离婚要么子手续")
    assert p("divorce.procedure") > p("divorce.documents")
    assert "kprocedure" in model.model._row  # the concepts are features too
    assert p("no.such_entry") == 0.0
    assert not model.is_stale(folder, PHRASINGS)
    assert model.is_stale(folder, {**PHRASINGS, "divorce.procedure": ("离婚流程",)})


def test_the_shipped_weights_are_trained_on_todays_phrasings_and_questions() -> None:
    kb = KnowledgeBase.load()
    assert kb.learned is not None
    assert not kb.learned.is_stale(KNOWLEDGE, kb.phrasings()), \
        "run `python bot.py kb train` after editing phrasings or learned/questions.yaml"


@pytest.mark.parametrize(("question", "entry"), [
    ("离婚要么子手续咯", "divorce.procedure"),
    ("收养小孩要去么子地方登记咯", "adoption.register"),
    ("屋里老人过世哒 要打么子电话喊车", "funeral.transport"),
])
async def test_the_learned_ranking_answers_what_the_words_alone_get_wrong(assistant, kb,
                                                                         question, entry):
    # These are training questions: the test shows the learned ranking at work in the chat;
    # how it does on questions it never saw is bench/crossval.py's to measure
    lexical = copy.copy(kb)
    lexical.learned = None
    alone = lexical.decide(question)
    assert alone.entry is None or alone.entry.id != entry  # what the words alone get wrong
    (r, *_rest) = await assistant.handle(text("l1", question))
    assert r.text.startswith(kb.entries[entry].a_zh.strip()), r.text[:80]


def test_without_the_weights_the_lexical_ranking_answers(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    learned.model_path(folder).unlink()
    kb = KnowledgeBase.load(folder)
    assert kb.learned is None
    d = kb.decide("结婚登记要带什么材料")
    assert d.kind == "answer" and d.entry is not None and d.entry.id == "marriage.documents"
    errors, _warnings = check(folder)
    assert not errors


def test_unreadable_weights_leave_the_lexical_ranking_and_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    learned.model_path(folder).write_text('{"labels": ["a"], "sparse": {}}', encoding="utf-8")
    kb = KnowledgeBase.load(folder)
    assert kb.learned is None
    d = kb.decide("结婚登记要带什么材料")
    assert d.entry is not None and d.entry.id == "marriage.documents"
    errors, _warnings = check(folder)
    assert any("learned/model.json cannot be read" in e for e in errors)
    # weights that parse but do not fit their labels are as unreadable
    for bad in ('{"labels": ["a", "b"], "bias": [0.0], "sparse": {"features": ["c离"], '
                '"counts": [1], "labels": [0], "weights": [0.5]}}',
                '{"labels": ["a", "b"], "bias": [0.0, 0.0], "sparse": {"features": ["c离"], '
                '"counts": [1], "labels": [7], "weights": [0.5]}}'):
        learned.model_path(folder).write_text(bad, encoding="utf-8")
        assert KnowledgeBase.load(folder).learned is None


def test_kb_check_names_stale_weights_and_unknown_labels(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    _errors, warnings = check(folder)
    assert not [w for w in warnings if "learned/model.json" in w]
    with learned.questions_path(folder).open("a", encoding="utf-8") as f:
        f.write('- {"q": "一个新问题", "entry": "marriage.documents", "from": "clerk"}\n'
                '- {"q": "另一个问题", "entry": "marriage.documnets", "from": "clerk"}\n')
    errors, warnings = check(folder)
    assert any("learned/model.json" in w and "kb train" in w for w in warnings)
    assert any("'marriage.documnets'" in e for e in errors)


def test_no_held_out_question_is_a_training_example() -> None:
    spec = importlib.util.spec_from_file_location("accuracy", BENCH / "accuracy.py")
    assert spec is not None and spec.loader is not None
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    held = {normalise(str(q["q"])) for name in accuracy.HELD_OUT
            for q in yaml.safe_load((BENCH / name).read_text(encoding="utf-8"))}
    assert held
    leaked = [q for q, _e in learned.load_questions(KNOWLEDGE) if normalise(q) in held]
    assert not leaked, leaked[:5]


def test_kb_check_names_rows_without_an_entry(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    with learned.questions_path(folder).open("a", encoding="utf-8") as f:
        f.write('- {"q": "没有条目的问题"}\n')
    errors, _warnings = check(folder)
    assert any("needs a question (q) and its entry" in e for e in errors)
    learned.questions_path(folder).write_text("- {q: [unclosed\n", encoding="utf-8")
    errors, _warnings = check(folder)
    assert any("not valid YAML" in e for e in errors)
