from __future__ import annotations

import asyncio
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.messages import Contact, DeliveryError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import open_assistant  # noqa: E402
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
    return Settings(bot_db=tmp_path / "bot.sqlite3", bot_data_dir=tmp_path / "data",
                    bot_admins=frozenset({ADMIN_ID, "console:admin"}))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


@pytest.fixture
async def assistant(settings, clock, kb):
    async with open_assistant(settings, clock, kb) as a:
        yield a


def text(user_id: str, body: str, lang: str | None = "zh-hans", channel: str = "console"):
    return Incoming(User(channel, user_id, lang), user_id, text=body)


def button(user_id: str, payload: str, lang: str | None = "zh-hans", channel: str = "console"):
    return Incoming(User(channel, user_id, lang), user_id, payload=payload)


@pytest.fixture(scope="session")
def test_kb_dir(tmp_path_factory) -> Path:
    """The real knowledge folder plus tests/data/directory (teams and points with coordinates
    in districts the seed does not fill), for directory and volunteer tests."""
    target = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(ROOT / "knowledge", target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py", "*_imported.yaml"))
    for kind in ("directory", "disclosure"):
        for path in (ROOT / "tests" / "data" / kind).glob("*.yaml"):
            shutil.copy(path, target / kind / path.name)
    return target


@pytest.fixture(scope="session")
def dkb(test_kb_dir) -> KnowledgeBase:
    return KnowledgeBase.load(test_kb_dir)


class RecordingNotifier:
    """Stands in for a channel's delivery of notifications (the channel is outside the core).
    `failing[ext_id] = "blocked" | "failed"` makes deliveries to that user fail that way."""

    def __init__(self, clock=None) -> None:
        self.sent: list[tuple[str, list]] = []
        self.times: list = []
        self.failing: dict[str, str] = {}
        self.clock = clock
        self.arrived = asyncio.Event()  # set at each delivered notification

    async def notify(self, external_id: str, replies: list) -> None:
        how = self.failing.get(external_id)
        if how is not None:
            raise DeliveryError(how, blocked=how == "blocked")
        self.sent.append((external_id, replies))
        self.times.append(self.clock.now() if self.clock else None)
        self.arrived.set()

    def texts_to(self, external_id: str) -> list[str]:
        return [r.text for ext, replies in self.sent if ext == external_id for r in replies]


@pytest.fixture
async def dassistant(settings, clock, dkb):
    """An assistant over the test directory, its notifications recorded for channel console."""
    async with open_assistant(settings, clock, dkb) as a:
        a.notes = RecordingNotifier(clock)  # type: ignore[attr-defined]  # for the tests
        a.outbox.register("console", a.notes)  # type: ignore[attr-defined]
        yield a


def contact(user_id: str, phone: str, owner: str | None = None, lang: str | None = "zh-hans"):
    return Incoming(User("console", user_id, lang), user_id,
                    contact=Contact(phone, user_id if owner is None else owner))


def location(user_id: str, lat: float, lon: float, lang: str | None = "zh-hans"):
    return Incoming(User("console", user_id, lang), user_id, location=(lat, lon))


def payloads(replies) -> list[str]:
    return [b.payload for r in replies for row in r.buttons for b in row]


def joined(replies) -> str:
    return "\n".join(r.text for r in replies)
