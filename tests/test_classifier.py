"""The learned part of the crisis check: the classifier, its stored weights, and kb check."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from knowledge import safety
from knowledge.check import check
from knowledge.classifier import TextClassifier, features
from knowledge.safety import Learned, SafetyCheck

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"

TINY = [
    ("我不想活了", "suicide"), ("活着太累了不如走了", "suicide"),
    ("i want to end my life", "suicide"),
    ("老公又打我了", "domestic"), ("he hits me every night", "domestic"),
    ("结婚要带什么", "none"), ("离婚冷静期多久", "none"), ("低保怎么申请", "none"),
    ("how do i get married", "none"), ("养老院怎么收费", "none"),
]


def test_features_are_character_grams_and_words() -> None:
    f = features("不想活 end it")
    assert {"c不", "c不想", "c不想活", "wend", "wit", "bend_it"} <= f
    assert not any(" " in x[1:] for x in f if x.startswith("c"))


def test_training_separates_the_labels_and_survives_storage() -> None:
    model = TextClassifier.train(TINY)
    assert model.predict("我不想活了").label == "suicide"
    assert model.predict("我不想活了").other < 0.5
    assert model.predict("结婚要带什么").other > 0.5
    again = TextClassifier.from_json(model.to_json())
    for text in ("我不想活了", "低保怎么申请", "something else entirely"):
        assert again.probabilities(text) == pytest.approx(model.probabilities(text), abs=1e-3)
    assert again.trained_on == model.trained_on != ""


def test_the_learned_check_catches_what_the_patterns_do_not_name() -> None:
    base = SafetyCheck.load(KNOWLEDGE)
    plain = base.with_learned(None)
    message = "老公又拿皮带抽我"  # no pattern names 皮带抽
    model = TextClassifier.train([*TINY, ("老公拿皮带抽我", "domestic"),
                                  ("他用皮带抽我", "domestic")])
    learned = base.with_learned(Learned(model, 0.5))
    if plain.check(message) is not None:
        pytest.skip("the patterns already name this message")
    found = learned.check(message)
    assert found is not None and found.kind.kind == "domestic"
    assert learned.check("结婚要带什么") is None
    # danger as a subject stays a question even when the classifier would call it a crisis
    assert learned.check("看新闻说有人老公拿皮带抽她") is None


def add_example(folder: Path, label: str, message: str) -> None:
    path = safety.examples_path(folder)
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows.append({"crisis": label, "lang": "zh", "q": message})
    path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")


def test_kb_check_reports_weights_trained_on_other_examples(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    errors, _warnings = check(folder)
    assert not [e for e in errors if "model.json" in e]
    add_example(folder, "suicide", "一条新的例子")
    errors, _warnings = check(folder)
    assert any("kb train" in e for e in errors)
    safety.train(folder)
    errors, _warnings = check(folder)
    assert not [e for e in errors if "model.json" in e]


def test_unknown_kinds_in_the_examples_are_errors(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    add_example(folder, "sucide", "拼错的类别")
    errors, _warnings = check(folder)
    assert any("'sucide'" in e for e in errors)


def test_a_sure_classifier_overrules_a_pattern() -> None:
    base = SafetyCheck.load(KNOWLEDGE)
    message = "老公打我手机打了好几次"  # "老公打我" is a pattern; a phone call is not a blow
    if base.with_learned(None).check(message) is None:
        pytest.skip("no pattern matches this message")
    model = TextClassifier.train([*TINY, *((q, "none") for q in (
        "老公打我手机", "他打我电话", "朋友打我微信", "老公打我电话没接", "打我手机好几次"))])
    assert model.predict(message).other > 0.6
    assert base.with_learned(Learned(model, 0.3)).check(message) is not None
    assert base.with_learned(Learned(model, 0.3, overrule_above=0.6)).check(message) is None
    # a message the classifier does not call ordinary keeps the pattern's answer
    assert model.predict("我不想活了").other < 0.6
    assert base.with_learned(Learned(model, 0.3, overrule_above=0.6)).check("我不想活了") \
        is not None


def test_training_refuses_examples_without_ordinary_messages() -> None:
    with pytest.raises(ValueError):
        TextClassifier.train([("我不想活了", "suicide"), ("老公打我", "domestic")])
    with pytest.raises(ValueError):
        TextClassifier.train([])


def test_training_is_deterministic() -> None:
    assert TextClassifier.train(TINY).to_json() == TextClassifier.train(TINY).to_json()
