"""Typed button data and feature registration: what is packed comes back unpacked, anything
else is refused; a command or button kind registered twice stops the bot at start-up."""
from __future__ import annotations

import pytest

from core.callbacks import MAX_BYTES, CallbackData, CallbackDataError
from handlers.assistant import FEATURES
from handlers.context import Menu
from handlers.faq import EntryButton, PlaceButton
from handlers.router import DuplicateRoute, Feature, Router, on_button
from schedules.messages import ReminderDone


async def _nothing(*_args: object) -> list:
    return []


def test_pack_and_unpack_round_trip():
    assert EntryButton("marriage.documents").pack() == "e:marriage.documents"
    assert EntryButton.unpack("e:marriage.documents") == EntryButton("marriage.documents")
    assert PlaceButton.unpack(PlaceButton("office", "yuhua").pack()) == PlaceButton("office",
                                                                                   "yuhua")
    assert ReminderDone.unpack("rd:42") == ReminderDone(42)
    assert Menu.unpack("menu:") == Menu() and Menu().pack() == "menu:"


@pytest.mark.parametrize("data", ["rd:", "rd:x1", "rd:-3", "rd:1.5", "rd:１２", "rd:" + "9" * 13,
                                  "rd:1:2", "e", "x:marriage", "p:only-one", "menu:extra",
                                  "e:" + "a" * 70])
def test_malformed_or_forged_data_is_refused(data):
    kinds: list[type[CallbackData]] = [ReminderDone, EntryButton, PlaceButton, Menu]
    assert all(kind.unpack(data) is None for kind in kinds if data.startswith(kind.prefix + ":")
               or data == kind.prefix), data


def test_packing_checks_the_64_byte_limit_and_separators():
    EntryButton("x" * (MAX_BYTES - 2)).pack()
    with pytest.raises(CallbackDataError):
        EntryButton("x" * (MAX_BYTES - 1)).pack()
    with pytest.raises(CallbackDataError):
        EntryButton("长" * 21).pack()  # 63 characters of UTF-8 are more than 64 bytes
    with pytest.raises(CallbackDataError):
        PlaceButton("a:b", "c").pack()  # only the last field may hold the separator


def test_fields_must_be_str_or_int():
    with pytest.raises(TypeError):
        class Bad(CallbackData, prefix="zz"):
            when: float


def test_the_shipped_features_register_without_clashes():
    router = Router(FEATURES)
    assert {"start", "help", "volunteer", "reminders", "disclose"} <= set(router.commands)
    assert {"e", "p", "vj", "rd", "rs", "dv", "menu"} <= set(router.buttons)
    assert router.missing() == []


def test_a_duplicate_command_fails_at_start_up():
    one = Feature("one", commands={"help": _nothing})
    two = Feature("two", commands={"help": _nothing})
    with pytest.raises(DuplicateRoute, match="help"):
        Router([one, two])


def test_a_duplicate_button_kind_fails_at_start_up():
    class OtherEntry(CallbackData, prefix="e"):
        entry: str

    with pytest.raises(DuplicateRoute, match="'e'"):
        Router([*FEATURES, Feature("copy", buttons=(on_button(OtherEntry, _nothing),))])


def test_a_second_text_handler_fails_at_start_up():
    with pytest.raises(DuplicateRoute, match="on_text"):
        Router([*FEATURES, Feature("another", on_text=_nothing)])


def test_every_menu_action_is_a_button_the_router_takes(kb):
    router = Router(FEATURES)
    for topic in kb.menu:
        for payload, _zh, _en in topic.actions:
            route = router.buttons.get(payload.split(":", 1)[0])
            assert route is not None and route.kind.unpack(payload) is not None, payload


def test_a_flow_that_takes_photos_needs_its_dialog_handler():
    with pytest.raises(DuplicateRoute, match="ghost"):
        Router([*FEATURES, Feature("ghost", rich_dialogs=frozenset({"ghost"}))]).check()


def test_numbers_out_of_range_are_not_packed():
    with pytest.raises(CallbackDataError):
        ReminderDone(-1).pack()
    with pytest.raises(CallbackDataError):
        ReminderDone(10 ** 12).pack()
