"""Every command and every button, fed junk by a resident, a cadre and an administrator, in
every flow: a clear answer, never the "something went wrong" apology (an exception)."""
from __future__ import annotations

import pytest

from core import i18n
from core.messages import Incoming, User
from services.roles import grant
from tests.conftest import button, text

APOLOGY = ("出了点问题", "went wrong")  # the apology handlers.assistant gives for an exception
JUNK = ("", "0", "99999999", "-1", "../../etc/passwd", "x" * 60, "'; DROP TABLE users;--",
        "😀", "a:b:c", "t-monthly", "hongxing-elderly")
TEXTS = ("x" * 10_000, "😀😀😀", "Robert'); DROP TABLE volunteer_signups;--", "   ", "/", "1")


def test_the_apology_is_what_we_look_for():
    for lang, word in (("zh", APOLOGY[0]), ("en", APOLOGY[1])):
        with i18n.use(lang):
            assert word in i18n._("Sorry, something went wrong on our side. Please try again "
                                  "in a moment, or call the 12345 hotline.")


def ok(replies) -> bool:
    return bool(replies) and all(r.text or r.image or r.document or r.photo for r in replies) \
        and not any(a in r.text for r in replies for a in APOLOGY)


async def people(a) -> None:
    for uid in ("resident", "cadre", "admin"):
        await a.handle(text(uid, "/start"))
    cadre = await a.users.get("console", "cadre")
    await grant(a.users, a.kb.gazetteer, cadre, "village", "岳麓区/望月湖街道/测试村",
                a.clock.now(), by=None)


@pytest.mark.parametrize("who", ["resident", "cadre", "admin"])
async def test_every_button_with_forged_data(dassistant, who):
    a = dassistant
    await people(a)
    await a.reminders.start()
    for prefix in sorted(a.router.buttons):
        for junk in JUNK:
            replies = await a.handle(button(who, f"{prefix}:{junk}"))
            assert ok(replies), (who, prefix, junk, replies)


@pytest.mark.parametrize("who", ["resident", "cadre", "admin"])
async def test_every_command_with_junk(dassistant, who):
    a = dassistant
    await people(a)
    await a.reminders.start()
    for name in sorted(a.router.commands):
        if name in ("forget",):
            continue  # asks first; its button is covered above
        for junk in ("", " x", " " + "x" * 10_000, " 😀", " '; DROP TABLE users;--",
                     ' "unclosed', " 2027-02-30 all x", " 1 2 3 4 5 6"):
            replies = await a.handle(text(who, f"/{name}{junk}"))
            assert ok(replies), (who, name, junk, replies)
            await a.handle(text(who, "/cancel"))


FLOWS = {
    "volunteer name": ["/start join_hongxing-elderly"],
    "volunteer phone": ["/start join_hongxing-elderly", "张三"],
    "volunteer team search": ["/volunteer"],
    "which district": ["结婚登记处在哪"],
    "which village": ["我们村下次什么时候公开"],
    "disclose": ["/disclose"],
}


@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_junk_inside_every_flow(dassistant, flow):
    a = dassistant
    await people(a)
    for step in FLOWS[flow]:
        await a.handle(text("cadre", step))
    for body in TEXTS:
        assert ok(await a.handle(text("cadre", body))), (flow, body)
    for media in ("sticker", "photo", "voice", "document"):
        msg = Incoming(User("console", "cadre", "zh-hans"), "cadre", media=media)
        assert ok(await a.handle(msg)), (flow, media)
    msg = Incoming(User("console", "cadre", "zh-hans"), "cadre", location=(28.2, 112.9))
    assert ok(await a.handle(msg))
