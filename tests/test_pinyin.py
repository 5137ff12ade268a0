"""The pinyin table (knowledge/pinyin.json): built offline with pypinyin, read without it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from knowledge.base import KNOWLEDGE_DIR, KnowledgeBase
from knowledge.pinyin import TABLE_FILE, PinyinTable, plain_words
from knowledge.pinyin_build import reading

ROOT = Path(__file__).resolve().parent.parent


def test_the_table_reads_every_phrasing_concept_word_and_question_as_pypinyin(
        kb: KnowledgeBase) -> None:
    # what the pinyin index, the pinyin concepts and the sound-alike fixer read: the Chinese
    # phrasings with places taken out, and the concepts' plain words
    words = sorted({w for p in kb.concepts.patterns.values() for w in plain_words(p.pattern)}
                   | {kb.gazetteer.strip(q) for e in kb.entries.values() for q in e.q_zh})
    assert len(words) > 1000
    table = kb.pinyin_table
    assert [w for w in words if table.of(w) != reading(w)] == []
    questions = [row["q"] for name in ("dev2.yaml", "heldout2.yaml", "dev4.yaml")
                 for row in yaml.safe_load((ROOT / "bench" / name).read_text("utf-8"))]
    assert [q for q in questions if table.of(q) != reading(q)] == []


def test_questions_are_read_as_pypinyin_reads_them(kb: KnowledgeBase) -> None:
    table = kb.pinyin_table
    assert table.of("我户口在湖北能在长沙领结婚证吗").split()[8:10] == ["chang", "sha"]
    assert table.of("银行") == "yin hang"  # a phrase read otherwise than its characters
    assert table.of("重新") == "chong xin"
    assert table.of("重要") == "zhong yao"
    assert table.of("社会组织年检在哪里弄") == reading("社会组织年检在哪里弄")  # 哪里, then 弄
    assert table.of("二〇二四年结的婚") == "er ling er si nian jie de hun"
    assert table.of("结hun要带啥") == "jie hun yao dai sha"
    assert table.of("lihun lengjingqi") == "li hun leng jing qi"
    assert table.of("Hukou本 ok?") == "hu kou ben ok"
    assert table.of("") == ""


def test_answering_never_loads_pypinyin() -> None:
    code = ("import sys\nimport bot\nfrom knowledge.base import KnowledgeBase\n"
            "kb = KnowledgeBase.load()\n"
            "for q in ['lihun lengjingqi duojiu', '结hun要带啥', '地保怎么申请',\n"
            "          '高铁票多少钱']:\n"
            "    kb.decide(q)\n"
            "assert kb.decide('lihun lengjingqi duojiu').entry is not None\n"
            "print('pypinyin' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_a_knowledge_folder_without_a_table_uses_the_shipped_one(tmp_path: Path) -> None:
    assert PinyinTable.load(tmp_path / "none.json").of("长沙") == ""  # a missing file: nothing
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    (folder / TABLE_FILE.name).unlink()
    kb = KnowledgeBase.load(folder)
    assert kb.pinyin_table.of("长沙") == "chang sha"
    d = kb.decide("地保怎么申请")  # the sound-alike fix still reads it
    assert d.entry is not None and d.entry.id.startswith("assistance.dibao")


def test_kb_pinyin_rebuilds_the_shipped_table(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "kb", "pinyin"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "BOT_KNOWLEDGE_DIR": str(folder),
                            "BOT_DATA_DIR": str(tmp_path / "data")})
    assert r.returncode == 0, r.stderr
    assert (folder / TABLE_FILE.name).read_bytes() == TABLE_FILE.read_bytes()


def test_pinyin_words_in_a_chinese_question_are_spelled_in_characters(kb: KnowledgeBase) -> None:
    spell = kb.speller.spell
    assert spell("领证可以网上yuyue吗") == "领证可以网上预约吗"
    assert spell("结婚证bu ling 需要照片不") == "结婚证补领 需要照片不"  # across two words
    assert spell("我想办lihun") == "我想办离婚"  # the phrasings' word, not 离昏
    # English words, one syllable that spells no concept word, and English alone stay
    assert spell("低保 apply 要什么 material") == "低保 apply 要什么 material"
    assert spell("结hun要带啥") == "结hun要带啥"
    assert spell("how long is lengjingqi") == "how long is lengjingqi"
