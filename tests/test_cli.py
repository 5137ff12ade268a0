"""The command line as a user runs it: python bot.py ...

Most tests call bot.main(argv) in this process, set up as the process would be (no TELEGRAM_* or
BOT_* variables, BOT_DB under tmp_path, cwd the project root, its own stdin), which is much faster
than a new interpreter per call. The console chat tests still start `python bot.py` for real: they
prove the entry point works, and run_console takes sys.stdin/sys.stdout as default arguments bound
when channels.console is first imported, which neither capsys nor a patched sys.stdin can reach.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from openpyxl import load_workbook

import bot
from app import open_assistant
from core.settings import Settings
from knowledge.base import KnowledgeBase
from storage.db import open_database
from storage.feedback import FeedbackRepo
from storage.users import UserRepo
from tests.test_volunteers import sign_up

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    """What a run of the command line left: exit code and output (as subprocess.run gives)."""

    returncode: int
    stdout: str
    stderr: str


class Run(Protocol):
    def __call__(self, args: list[str], *, stdin: str = "",
                 env: dict[str, str] | None = None) -> Result: ...


@contextmanager
def logging_restored() -> Iterator[None]:
    """bot.main() calls setup_logging, which replaces the root logger's handlers (pytest's
    capture handlers among them) and sets logger levels: put all of that back afterwards."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: lg.level for name, lg in manager.loggerDict.items()
              if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in list(manager.loggerDict.items()):
            if isinstance(lg, logging.Logger):
                lg.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Run:
    """`run(args)` is `python bot.py *args` in this process."""
    monkeypatch.chdir(ROOT)

    def invoke(args: list[str], *, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        for name in list(os.environ):
            if name.startswith(("TELEGRAM_", "BOT_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("BOT_DB", str(tmp_path / "cli.sqlite3"))
        monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()  # only this run's output
        with logging_restored():
            try:
                code = bot.main(list(args))
            except SystemExit as exc:  # argparse errors, --help
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return invoke


def run_process(args: list[str], *, stdin: str = "", tmp_path: Path) -> Result:
    """`python bot.py *args` as a real process."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    e["BOT_DB"] = str(tmp_path / "cli.sqlite3")
    e["BOT_DATA_DIR"] = str(tmp_path / "data")
    r = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], input=stdin,
                       capture_output=True, text=True, env=e, cwd=ROOT, timeout=60)
    return Result(r.returncode, r.stdout, r.stderr)


def test_ask_prints_one_answer(run: Run, kb: KnowledgeBase) -> None:
    r = run(["ask", "结婚登记要带什么材料"])
    assert r.returncode == 0
    assert r.stdout.strip() == kb.entries["marriage.documents"].a_zh


def test_ask_json_lines_and_language(run: Run, kb: KnowledgeBase) -> None:
    r = run(["ask", "--json", "-"], stdin="结婚登记要带什么材料\n今天股票涨不涨\n\n"
                                            "is registering a marriage free\n")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 3
    assert rows[0]["entry_id"] == "marriage.documents" and rows[0]["fallback"] is False
    assert rows[1]["fallback"] is True and rows[1]["entry_id"] is None and "12345" in rows[1][
        "answer"]
    assert rows[2]["entry_id"] == "marriage.fee" and rows[2]["answer"] == kb.entries[
        "marriage.fee"].a_en
    assert all(isinstance(x["score"], float) for x in rows)
    # as in the chat, a question is answered in its own language; --lang is the user's, for
    # the menus and for text in neither language
    asked = run(["ask", "--json", "--lang", "en", "结婚登记要带什么材料"])
    assert json.loads(asked.stdout)["answer"] == kb.entries["marriage.documents"].a_zh
    place = run(["ask", "--lang", "en", "星沙"])
    assert place.stdout.startswith("长沙县")  # Chinese text, Chinese reply


def test_ask_gives_the_emergency_reply_first_as_the_chat_does(run: Run,
                                                              kb: KnowledgeBase) -> None:
    r = run(["ask", "--json", "-"],
            stdin="我不想活了\n他以前经常打我，现在想离婚，协议离婚要什么材料\n结婚登记要带什么材料\n")
    suicide, past_violence, ordinary = (json.loads(line) for line in r.stdout.splitlines())
    assert suicide["crisis"] == "suicide" and "12356" in suicide["answer"]
    assert "材料" not in suicide["answer"]  # never a procedural answer after suicidal words
    assert past_violence["crisis"] == "domestic" and "12338" in past_violence["answer"]
    assert kb.entries["divorce.documents"].a_zh.strip() in past_violence["answer"]  # and then it
    assert ordinary["crisis"] is None and ordinary["answer"] == kb.entries[
        "marriage.documents"].a_zh


def test_ask_with_only_a_place_gives_what_the_bot_knows_of_it(run: Run) -> None:
    r = run(["ask", "星沙"])
    assert r.stdout.startswith("长沙县") and "社区服务" in r.stdout and "12345" not in r.stdout


def test_ask_starts_the_flows_the_chat_starts(run: Run, tmp_path: Path) -> None:
    r = run(["ask", "火焰村的账目什么时候公布"])  # the village's record, not the general rules
    assert r.stdout.startswith("火焰社区 · 雨花区") and "截止" in r.stdout, r.stdout
    assert "migration" not in r.stderr  # the throwaway database is no news
    assert not (tmp_path / "cli.sqlite3").exists()  # and the bot's own is never touched


def test_console_chat_with_piped_stdin_numbers_as_buttons(tmp_path: Path) -> None:
    r = run_process(["chat"], stdin="1\n1\n/lang\n2\n今天天气\n", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "[1] 婚姻登记" in out          # the menu, as numbered choices
    assert "结婚登记带什么" in out        # topic 1 opened
    assert "Language set to English." in out
    assert "12345" in out


def test_no_token_runs_console(tmp_path: Path) -> None:
    r = run_process([], stdin="/help\n", tmp_path=tmp_path)
    assert r.returncode == 0 and "/lang" in r.stdout


def test_kb_check_passes_on_shipped_knowledge(run: Run) -> None:
    r = run(["kb", "check"])
    assert r.returncode == 0, r.stdout
    assert "0 error(s)" in r.stdout


def test_kb_check_fails_on_broken_copy(run: Run, tmp_path: Path) -> None:
    copy = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    bad = copy / "entries" / "zz_bad.yaml"
    bad.write_text(
        "- id: marriage.documents\n  topic: marriage\n  q_zh: [结婚要带啥]\n  q_en: []\n"
        "  a_zh: x\n  a_en: ''\n  see_also: [no.such]\n", encoding="utf-8")
    r = run(["kb", "check"], env={"BOT_KNOWLEDGE_DIR": str(copy)})
    assert r.returncode == 1
    for needle in ("duplicate id", "at least 5 Chinese", "English phrasing",
                   "missing answer translation", "unknown entry 'no.such'"):
        assert needle in r.stdout, needle


def test_users_cli_promote_and_demote(run: Run, tmp_path: Path) -> None:
    async def seed() -> None:
        conn = await open_database(tmp_path / "cli.sqlite3")
        await UserRepo(conn).touch("telegram", "55", "zh", datetime.now(UTC),
                                   is_admin=False)
        await conn.close()

    asyncio.run(seed())
    r = run(["users", "promote", "55", "township", "雨花区/某街道"])
    assert r.returncode == 0 and "长沙市/雨花区/某街道" in r.stdout, r.stderr
    listed = run(["users", "list"])
    assert "telegram:55\tcadre" in listed.stdout
    bad = run(["users", "promote", "55", "district", "不存在区"])
    assert bad.returncode == 2
    r = run(["users", "demote", "55"])
    assert "1 area(s) removed" in r.stdout


def test_directory_import_and_volunteers_export(run: Run, tmp_path: Path, test_kb_dir: Path,
                                                 settings: Settings) -> None:
    """A clerk's GB18030 spreadsheet goes in; a district's sign-ups come out as CSV and XLSX."""
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(test_kb_dir, kb_dir)
    sheet = tmp_path / "服务网点.csv"
    sheet.write_bytes("名称,类型,社区,地址,纬度,经度\n"
                      "红星村日间照料中心,养老,红星村,,28.13,113.03\n"
                      "坏行,不存在的类型,红星村,,,\n".encode("gb18030"))
    env = {"BOT_KNOWLEDGE_DIR": str(kb_dir)}
    r = run(["directory", "import", str(sheet)], env=env)
    assert r.returncode == 0, r.stderr
    assert "1 imported" in r.stdout and "row 3" in r.stdout and "GB18030" in r.stdout
    assert run(["kb", "check"], env=env).returncode == 0
    data = tmp_path / "data"  # the operator's data, apart from the knowledge files
    assert (data / "directory" / "services_imported.yaml").exists()
    assert not list(kb_dir.rglob("*_imported.yaml"))
    points = KnowledgeBase.load(kb_dir, data).directory.points
    assert any(p.name_zh == "红星村日间照料中心" and p.lat == 28.13 for p in points.values())

    async def fill() -> None:
        s = settings.__class__(bot_db=tmp_path / "cli.sqlite3")
        async with open_assistant(s, None, KnowledgeBase.load(kb_dir, data)) as a:
            await sign_up(a, "x1", "hongxing-elderly", name="甲")
            await sign_up(a, "x2", "wyh-culture", name="乙")

    asyncio.run(fill())
    out = tmp_path / "yuhua.csv"
    r = run(["volunteers", "export", "--area", "雨花区", "--format", "csv", "-o", str(out)],
            env=env)
    assert r.returncode == 0, r.stderr
    table = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert table[0][0] == "报名编号" and [row[4] for row in table[1:]] == ["甲"]
    out = tmp_path / "all.xlsx"
    r = run(["volunteers", "export", "--area", "all", "--format", "xlsx", "--lang", "en", "-o",
             str(out)], env=env)
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][0] == "Reference" and sorted(str(r[4]) for r in rows[1:]) == ["乙", "甲"]
    r = run(["volunteers", "export", "--area", "北京市", "-o", str(out)], env=env)
    assert r.returncode == 2 and "error" in r.stderr


def test_reminders_and_invites_from_the_command_line(run: Run) -> None:
    r = run(["reminders", "list"])
    assert r.returncode == 0 and all(f"#{i}" in r.stdout for i in (1, 2, 3))  # the defaults
    r = run(["reminders", "add-special", "2027-04-15", "春季专项督查", "--scope", "雨花区"])
    assert r.returncode == 0 and "added #4" in r.stdout
    r = run(["reminders", "add", "township", "0 9 1 * *", "月度台账"])
    assert "added #5" in r.stdout
    r = run(["reminders", "add", "township", "* * * * *", "太频繁"])
    assert r.returncode == 2 and "hour" in r.stderr
    r = run(["reminders", "leads", "1", "month_start,14d"])
    assert "changed" in r.stdout
    r = run(["reminders", "off", "4"])
    assert "#4 off" in r.stdout
    r = run(["reminders", "show", "1"])
    assert "on the first day of the month it falls due, 14 days before" in r.stdout
    listed = run(["reminders", "list"]).stdout
    assert "春季专项督查" in listed and "长沙市/雨花区" in listed
    r = run(["users", "invite", "township", "岳麓区/望月湖街道"])
    code = r.stdout.split("\t")[0]
    assert r.returncode == 0 and len(code) == 9 and "/cadre" in r.stdout
    assert run(["users", "invite", "district", "北京"]).returncode == 2


def test_disclosure_village_import(run: Run, tmp_path: Path, kb: KnowledgeBase) -> None:
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb_dir,
                    ignore=shutil.ignore_patterns("__pycache__", "*_imported.yaml"))
    sheet = tmp_path / "villages.csv"
    sheet.write_bytes("村名,区县,乡镇,每月公布财务,公开栏位置\n石坝村,岳麓区,莲花镇,是,村部门口\n"
                      "红星村,雨花区,,否,\n无区村,,,否,\n".encode("gb18030"))
    env = {"BOT_KNOWLEDGE_DIR": str(kb_dir)}
    r = run(["disclosure", "import", str(sheet)], env=env)
    assert r.returncode == 0, r.stderr
    assert "1 imported" in r.stdout and "row 3" in r.stdout and "row 4" in r.stdout
    assert run(["kb", "check"], env=env).returncode == 0

    assert not list(kb_dir.rglob("villages_imported.yaml"))
    book = KnowledgeBase.load(kb_dir, tmp_path / "data").villages
    (village,) = [v for v in book.villages.values() if v.name("zh") == "石坝村"]
    assert village.monthly_finance and village.township == "莲花镇"
    assert {r.id for r in book.rules_for(village)} == {"general", "finance_monthly"}


def test_kb_review_lists_what_was_not_answered_well(run: Run, tmp_path: Path) -> None:
    async def seed() -> None:
        db = await open_database(tmp_path / "cli.sqlite3")
        repo = FeedbackRepo(db)
        now = datetime.now(UTC)
        for _ in range(3):
            await repo.add("declined", "低温补贴怎么领 电话13800138000", None, "zh", now)
        await repo.add("declined", "高铁票多少钱", None, "zh", now - timedelta(days=30))
        await db.close()

    asyncio.run(seed())
    r = run(["kb", "review", "--since", "7d"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines == ["3\tdeclined\t\t" + lines[0].split("\t")[3] + "\t低温补贴怎么领 电话[手机号]"]
    out = tmp_path / "review.csv"
    r = run(["kb", "review", "--since", "60d", "--csv", str(out)])
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["count", "what", "entry", "last", "question"] and len(rows) == 3
    assert run(["kb", "review", "--since", "soon"]).returncode == 2


def test_command_line_errors_are_english(run: Run) -> None:
    r = run(["users", "promote", "12345", "district", "岳麓区"])
    assert r.returncode != 0
    assert "No user 12345" in r.stderr + r.stdout and "还没有" not in r.stderr + r.stdout


def test_console_logs_to_a_file_and_says_which_numbers_are_valid(tmp_path: Path) -> None:
    r = run_process(["chat"], stdin="结婚要带什么\n9\n", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "INFO" not in r.stdout + r.stderr  # the log went to the file
    assert (tmp_path / "console.log").read_text(encoding="utf-8").count("INFO") >= 1
    assert "请输入 1 到" in r.stdout and "9元" not in r.stdout and "9 元" not in r.stdout


def test_kb_check_warns_of_teams_nobody_would_hear_of(tmp_path: Path) -> None:
    r = run_process(["kb", "check"], tmp_path=tmp_path)  # no BOT_ADMINS in its environment
    assert r.returncode == 0 and "nobody hears of its sign-ups" in r.stdout
