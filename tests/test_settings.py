from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


def test_defaults_and_environment(tmp_path):
    s = load_settings({})
    assert s.telegram_bot_token is None
    assert s.telegram_base_url == "https://api.telegram.org/bot"
    assert s.bot_timezone == "Asia/Shanghai" and s.tz.key == "Asia/Shanghai"
    assert s.bot_db.parent.name == "data"
    s = load_settings({"TELEGRAM_BOT_TOKEN": "1:abc", "BOT_ADMINS": " 12, 34 ,",
                       "BOT_DB": str(tmp_path / "x.db"), "BOT_TIMEZONE": "UTC"})
    assert s.bot_admins == frozenset({"12", "34"}) and s.is_admin("telegram", "12")
    assert not s.is_admin("console", "12")
    assert s.bot_db == tmp_path / "x.db"
    assert "1:abc" not in str(s.redacted())


def test_toml_file_and_env_precedence(tmp_path):
    cfg = tmp_path / "bot.toml"
    cfg.write_text('bot_timezone = "UTC"\nbot_admins = [1, 2]\nbot_log_level = "DEBUG"\n')
    s = load_settings({"BOT_CONFIG": str(cfg), "BOT_LOG_LEVEL": "WARNING"})
    assert s.bot_timezone == "UTC" and s.bot_admins == frozenset({"1", "2"})
    assert s.bot_log_level == "WARNING"


def test_bad_settings_are_reported(tmp_path):
    with pytest.raises(SettingsError):
        load_settings({"BOT_TIMEZONE": "Mars/Olympus"})
    cfg = tmp_path / "bot.toml"
    cfg.write_text("no_such_setting = 1\n")
    with pytest.raises(SettingsError):
        load_settings({"BOT_CONFIG": str(cfg)})
    with pytest.raises(SettingsError):
        load_settings({"BOT_CONFIG": str(Path(tmp_path) / "missing.toml")})


@pytest.mark.parametrize("make", ["directory", "not_a_database", "under_a_file"])
def test_a_bad_database_path_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, make):
    import bot  # noqa: PLC0415 - the entry point, imported only by the tests that run it

    target = {"directory": tmp_path, "not_a_database": tmp_path / "junk.sqlite3",
              "under_a_file": tmp_path / "junk.sqlite3" / "bot.sqlite3"}[make]
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not a database file at all " * 10)
    monkeypatch.setenv("BOT_DB", str(target))
    monkeypatch.setenv("BOT_LOG_LEVEL", "WARNING")
    assert bot.main(["users", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "Traceback" not in err[0]
