"""The commands the features register, /help per role, the Telegram menus per role and the
README's table name the same commands."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from core import i18n
from handlers.assistant import FEATURES
from handlers.commands import COMMANDS, for_role
from handlers.router import Router
from tests.conftest import ADMIN_ID, ROOT, text
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram import running_bot, say


def test_every_registered_command_is_in_the_catalogue_and_the_readme():
    registered = set(Router(FEATURES).commands)
    assert registered == {c.name for c in COMMANDS}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `/([a-z_]+)", readme, flags=re.MULTILINE))
    assert table == registered


async def test_help_follows_the_role(dassistant):
    a = dassistant
    (r, *_rest) = await a.handle(text("res", "/help"))
    assert "/subscribe" in r.text and "/disclosure" in r.text and "/unsubscribe" in r.text
    assert "/promote" not in r.text and "/volunteers" not in r.text
    (r, *_rest) = await a.handle(text("admin", "/help"))  # console:admin is an administrator
    for name in ("/promote", "/special", "/reminders", "/volunteers", "/disclose", "/invite"):
        assert name in r.text, name
    with i18n.use("en"):
        english = [c.describe() for c in for_role("admin")]
    assert all(d[:1].isupper() for d in english)


@pytest.fixture
async def api():
    async with FakeBotAPI() as fake:
        yield fake


async def test_telegram_menus_follow_the_role(api, settings, clock, kb):
    s = replace(settings, bot_admins=frozenset({ADMIN_ID}))
    async with running_bot(api, s, clock, kb) as channel:
        public = {c["command"] for c in api.commands[""]}
        assert {"subscribe", "unsubscribe", "disclosure"} <= public and "promote" not in public
        await say(api, 81, "/start")
        await say(api, int(ADMIN_ID), "/start")
        await say(api, int(ADMIN_ID), "/promote 81 district 岳麓区")
        await channel.sync_role_menus()
        cadre = {c["command"] for c in api.chat_commands[81]}
        admin = {c["command"] for c in api.chat_commands[int(ADMIN_ID)]}
        assert "volunteers" in cadre and "promote" not in cadre
        assert {"promote", "special", "volunteers"} <= admin
        await say(api, int(ADMIN_ID), "/demote 81")
        await channel.sync_role_menus()
        assert 81 not in api.chat_commands  # back to the public menu
