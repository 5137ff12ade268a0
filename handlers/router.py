"""Feature registration: each feature module declares its commands, buttons and dialog steps
as one `Feature`; the router takes them in and refuses a name registered twice, at start-up
(a silent override would route a user's press to the wrong feature)."""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.callbacks import CallbackData
from core.i18n import _
from core.messages import Reply
from handlers.context import App, Context, FlowStart, Handler

T = TypeVar("T", bound=CallbackData)


class DuplicateRoute(ValueError):
    """Two features registered the same command, button kind, dialog or flow."""


@dataclass(frozen=True)
class ButtonRoute:
    kind: type[CallbackData]
    handler: Callable[[App, Context, Any], Awaitable[list[Reply]]]


def on_button(kind: type[T], handler: Callable[[App, Context, T], Awaitable[list[Reply]]],
              ) -> ButtonRoute:
    """Route buttons of `kind` to `handler`, which gets the unpacked, typed button data."""
    return ButtonRoute(kind, handler)


@dataclass(frozen=True)
class GuardReply:
    """A guard's answer: its replies, and whether the message is then handled as usual too."""

    replies: list[Reply]
    then_answer: bool = False
    after: list[Reply] = field(default_factory=list)  # after the answer (with then_answer)


Guard = Callable[[App, Context], Awaitable[GuardReply | None]]


@dataclass(frozen=True)
class Feature:
    name: str
    commands: Mapping[str, Handler] = field(default_factory=dict)
    buttons: Sequence[ButtonRoute] = ()
    dialogs: Mapping[str, Handler] = field(default_factory=dict)  # flow name -> its steps
    rich_dialogs: frozenset[str] = frozenset()  # flows that also take contacts and photos
    flows: Mapping[str, FlowStart] = field(default_factory=dict)  # started by an answer
    on_text: Handler | None = None  # free text outside any flow
    on_location: Handler | None = None
    on_media: Handler | None = None  # stickers, photos... outside a flow that takes them
    guards: Sequence[Guard] = ()  # see every typed text (not commands) before anything else
    # Shows or collects personal data: every command, button, step and flow of the feature
    # answers only in a private chat. In a group it says so, with a link to the private chat
    # that starts it with `/start <private>` (a command of the feature).
    private: str | None = None


class Router:
    """Where an incoming message goes; built from features, refusing duplicates."""

    def __init__(self, features: Sequence[Feature] = ()) -> None:
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, ButtonRoute] = {}
        self.dialogs: dict[str, Handler] = {}
        self.rich_dialogs: set[str] = set()
        self.flows: dict[str, FlowStart] = {}
        self.fallbacks: dict[str, Handler] = {}
        self.guards: list[Guard] = []
        self.private_links: dict[str, Handler] = {}  # deep-link parameter -> its command
        self._owner: dict[tuple[str, str], str] = {}
        for feature in features:
            self.include(feature)

    def _claim(self, what: str, name: str, feature: Feature) -> None:
        owner = self._owner.get((what, name))
        if owner is not None:
            raise DuplicateRoute(f"{what} {name!r} is registered by {owner} and {feature.name}")
        self._owner[(what, name)] = feature.name

    def include(self, feature: Feature) -> None:
        if feature.private is not None:
            if feature.private not in feature.commands:
                raise DuplicateRoute(f"{feature.name}: private link {feature.private!r} is not "
                                     "one of its commands")
            feature = _private_only(feature)
            self.private_links[feature.private or ""] = feature.commands[feature.private or ""]
        for name, handler in feature.commands.items():
            self._claim("command", name, feature)
            self.commands[name] = handler
        for route in feature.buttons:
            self._claim("button", route.kind.prefix, feature)
            self.buttons[route.kind.prefix] = route
        for flow, handler in feature.dialogs.items():
            self._claim("dialog", flow, feature)
            self.dialogs[flow] = handler
        self.rich_dialogs |= feature.rich_dialogs
        self.guards += feature.guards
        for flow, start in feature.flows.items():
            self._claim("flow", flow, feature)
            self.flows[flow] = start
        for what in ("on_text", "on_location", "on_media"):
            handler = getattr(feature, what)
            if handler is not None:
                self._claim(what, "", feature)
                self.fallbacks[what] = handler

    def check(self) -> None:
        """Refuse a feature set that would fail at run time: flows that take contacts and
        photos but have no dialog handler."""
        lost = self.rich_dialogs - set(self.dialogs)
        if lost:
            raise DuplicateRoute(f"no dialog handler for {', '.join(sorted(lost))}")

    def missing(self) -> list[str]:
        """Fallbacks no feature provides (the assistant refuses to start without them)."""
        return [w for w in ("on_text", "on_location", "on_media") if w not in self.fallbacks]


def in_private(link: str) -> list[Reply]:
    """What a private feature says in a group chat."""
    return [Reply(_("This shows personal data, so I only do it in a private chat with you. "
                    "Tap below to open it."), private_link=link)]


def _private_only(feature: Feature) -> Feature:
    """The feature with every handler answering `in_private` outside a private chat."""
    link = feature.private or ""

    def guard(handler: Callable[..., Awaitable[list[Reply]]]
              ) -> Callable[..., Awaitable[list[Reply]]]:
        @functools.wraps(handler)
        async def private_only(app: App, ctx: Context, *args: Any) -> list[Reply]:
            if not ctx.msg.private:
                return in_private(link)
            return await handler(app, ctx, *args)
        return private_only

    return dataclasses.replace(
        feature,
        commands={n: guard(h) for n, h in feature.commands.items()},
        buttons=tuple(ButtonRoute(r.kind, guard(r.handler)) for r in feature.buttons),
        dialogs={n: guard(h) for n, h in feature.dialogs.items()},
        flows={n: FlowStart(guard(f.handler), f.show_answer) for n, f in feature.flows.items()},
    )
