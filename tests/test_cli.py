"""The command line as a user runs it: python bot.py ..."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args, *, stdin="", env=None, tmp_path=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    if tmp_path is not None:
        e["BOT_DB"] = str(tmp_path / "cli.sqlite3")
    e.update(env or {})
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], input=stdin,
                          capture_output=True, text=True, env=e, cwd=ROOT, timeout=60)


def test_ask_prints_one_answer(kb):
    r = run(["ask", "结婚登记要带什么材料"])
    assert r.returncode == 0
    assert r.stdout.strip() == kb.entries["marriage.documents"].a_zh


def test_ask_json_lines_and_language(kb):
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
    forced = run(["ask", "--json", "--lang", "en", "结婚登记要带什么材料"])
    assert json.loads(forced.stdout)["answer"] == kb.entries["marriage.documents"].a_en


def test_console_chat_with_piped_stdin_numbers_as_buttons(tmp_path):
    r = run(["chat"], stdin="1\n1\n/lang\n2\n今天天气\n", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "[1] 婚姻登记" in out          # the menu, as numbered choices
    assert "结婚登记带什么" in out        # topic 1 opened
    assert "Language set to English." in out
    assert "12345" in out


def test_no_token_runs_console(tmp_path):
    r = run([], stdin="/help\n", tmp_path=tmp_path)
    assert r.returncode == 0 and "/lang" in r.stdout


def test_kb_check_passes_on_shipped_knowledge():
    r = run(["kb", "check"])
    assert r.returncode == 0, r.stdout
    assert "0 error(s)" in r.stdout


def test_kb_check_fails_on_broken_copy(tmp_path):
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


def test_users_cli_promote_and_demote(tmp_path):
    import asyncio
    from datetime import datetime, timezone

    from storage.db import open_database
    from storage.users import UserRepo

    async def seed():
        conn = await open_database(tmp_path / "cli.sqlite3")
        await UserRepo(conn).touch("telegram", "55", "zh", datetime.now(timezone.utc),
                                   is_admin=False)
        await conn.close()

    asyncio.run(seed())
    r = run(["users", "promote", "55", "township", "雨花区/某街道"], tmp_path=tmp_path)
    assert r.returncode == 0 and "长沙市/雨花区/某街道" in r.stdout, r.stderr
    listed = run(["users", "list"], tmp_path=tmp_path)
    assert "telegram:55\tcadre" in listed.stdout
    bad = run(["users", "promote", "55", "district", "不存在区"], tmp_path=tmp_path)
    assert bad.returncode == 2
    r = run(["users", "demote", "55"], tmp_path=tmp_path)
    assert "1 area(s) removed" in r.stdout


def test_directory_import_and_volunteers_export(tmp_path, test_kb_dir, settings):
    """A clerk's GB18030 spreadsheet goes in; a district's sign-ups come out as CSV and XLSX."""
    import asyncio
    import csv
    import io

    from openpyxl import load_workbook

    from app import open_assistant
    from knowledge.base import KnowledgeBase
    from tests.test_volunteers import sign_up

    kb_dir = tmp_path / "knowledge"
    shutil.copytree(test_kb_dir, kb_dir)
    sheet = tmp_path / "服务网点.csv"
    sheet.write_bytes("名称,类型,社区,地址,纬度,经度\n"
                      "红星村日间照料中心,养老,红星村,,28.13,113.03\n"
                      "坏行,不存在的类型,红星村,,,\n".encode("gb18030"))
    env = {"BOT_KNOWLEDGE_DIR": str(kb_dir)}
    r = run(["directory", "import", str(sheet)], env=env, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 imported" in r.stdout and "row 3" in r.stdout and "GB18030" in r.stdout
    assert run(["kb", "check"], env=env, tmp_path=tmp_path).returncode == 0
    points = KnowledgeBase.load(kb_dir).directory.points
    assert any(p.name_zh == "红星村日间照料中心" and p.lat == 28.13 for p in points.values())

    async def fill() -> None:
        s = settings.__class__(bot_db=tmp_path / "cli.sqlite3")
        async with open_assistant(s, None, KnowledgeBase.load(kb_dir)) as a:
            await sign_up(a, "x1", "hongxing-elderly", name="甲")
            await sign_up(a, "x2", "wyh-culture", name="乙")

    asyncio.run(fill())
    out = tmp_path / "yuhua.csv"
    r = run(["volunteers", "export", "--area", "雨花区", "--format", "csv", "-o", str(out)],
            env=env, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    table = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert table[0][0] == "报名编号" and [row[4] for row in table[1:]] == ["甲"]
    out = tmp_path / "all.xlsx"
    r = run(["volunteers", "export", "--area", "all", "--format", "xlsx", "--lang", "en", "-o",
             str(out)], env=env, tmp_path=tmp_path)
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][0] == "Reference" and sorted(r[4] for r in rows[1:]) == ["乙", "甲"]
    r = run(["volunteers", "export", "--area", "北京市", "-o", str(out)], env=env,
            tmp_path=tmp_path)
    assert r.returncode == 2 and "error" in r.stderr


def test_reminders_and_invites_from_the_command_line(tmp_path):
    r = run(["reminders", "list"], tmp_path=tmp_path)
    assert r.returncode == 0 and all(f"#{i}" in r.stdout for i in (1, 2, 3))  # the defaults
    r = run(["reminders", "add-special", "2027-04-15", "春季专项督查", "--scope", "雨花区"],
            tmp_path=tmp_path)
    assert r.returncode == 0 and "added #4" in r.stdout
    r = run(["reminders", "add", "township", "0 9 1 * *", "月度台账"], tmp_path=tmp_path)
    assert "added #5" in r.stdout
    r = run(["reminders", "add", "township", "* * * * *", "太频繁"], tmp_path=tmp_path)
    assert r.returncode == 2 and "hour" in r.stderr
    r = run(["reminders", "leads", "1", "month_start,14d"], tmp_path=tmp_path)
    assert "changed" in r.stdout
    r = run(["reminders", "off", "4"], tmp_path=tmp_path)
    assert "#4 off" in r.stdout
    r = run(["reminders", "show", "1"], tmp_path=tmp_path)
    assert "month_start, 14d" in r.stdout
    listed = run(["reminders", "list"], tmp_path=tmp_path).stdout
    assert "春季专项督查" in listed and "长沙市/雨花区" in listed
    r = run(["users", "invite", "township", "岳麓区/望月湖街道"], tmp_path=tmp_path)
    code = r.stdout.split("\t")[0]
    assert r.returncode == 0 and len(code) == 9 and "/cadre" in r.stdout
    assert run(["users", "invite", "district", "北京"], tmp_path=tmp_path).returncode == 2


def test_disclosure_village_import(tmp_path, kb):
    kb_dir = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb_dir,
                    ignore=shutil.ignore_patterns("__pycache__", "*_imported.yaml"))
    sheet = tmp_path / "villages.csv"
    sheet.write_bytes("村名,区县,乡镇,每月公布财务,公开栏位置\n石坝村,岳麓区,莲花镇,是,村部门口\n"
                      "红星村,雨花区,,否,\n无区村,,,否,\n".encode("gb18030"))
    env = {"BOT_KNOWLEDGE_DIR": str(kb_dir)}
    r = run(["disclosure", "import", str(sheet)], env=env, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 imported" in r.stdout and "row 3" in r.stdout and "row 4" in r.stdout
    assert run(["kb", "check"], env=env, tmp_path=tmp_path).returncode == 0
    from knowledge.base import KnowledgeBase

    book = KnowledgeBase.load(kb_dir).villages
    (village,) = [v for v in book.villages.values() if v.name("zh") == "石坝村"]
    assert village.monthly_finance and village.township == "莲花镇"
    assert {r.id for r in book.rules_for(village)} == {"general", "finance_monthly"}
