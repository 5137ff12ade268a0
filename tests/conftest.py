from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import open_assistant  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.messages import Incoming, User  # noqa: E402
from core.settings import Settings  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402

ADMIN_ID = "1000"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(bot_db=tmp_path / "bot.sqlite3", bot_admins=frozenset({ADMIN_ID}))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
async def assistant(settings, clock, kb):
    async with open_assistant(settings, clock, kb) as a:
        yield a


def text(user_id: str, body: str, lang: str | None = "zh-hans", channel: str = "console"):
    return Incoming(User(channel, user_id, lang), user_id, text=body)


def button(user_id: str, payload: str, lang: str | None = "zh-hans", channel: str = "console"):
    return Incoming(User(channel, user_id, lang), user_id, payload=payload)
