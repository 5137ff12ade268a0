"""The durable path every message takes, for every channel that has one: the channel writes
each update to the inbox as it arrives; the `Pipeline` handles what is pending, writing the
replies to the outbox in the same transaction as the state they change; the `Sender` delivers
the outbox through the channel's transport, patiently, and marks each row.

What stays at-least-once: a reply the platform accepted whose answer was lost (a timeout, a
5xx after the message went out, a crash between the send and marking the row) is sent again
at the next attempt. Everything else is exactly once: a crash before the handling commits
handles the update again from the inbox (nothing of it was sent), and a sent row is never
sent again.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock, SystemClock
from core.messages import DeliveryError, Incoming, Reply, Transport
from handlers.assistant import Assistant, apology
from storage.db import Database
from storage.inbox import InboxRepo, InboxRow
from storage.outbox import OutboxRepo, OutRow

log = logging.getLogger(__name__)
BATCH = 32  # updates handled in one transaction
SEND_BATCH = 200
CHATS_IN_FLIGHT = 8  # chats served at once (8 x ~100 ms a send is above Telegram's 30/s)
MAX_BACKOFF = 60.0  # seconds between attempts after timeouts and 5xx, at most
Reader = Callable[[InboxRow], Incoming | None]  # None: nothing to answer (group chatter)
Handle = Callable[[Incoming], Awaitable[list[Reply]]]
Prepare = Callable[[list[InboxRow]], Awaitable[dict[int, bytes]]]


@dataclass(frozen=True)
class Runtime:
    """The core and what the channels' durable path needs beside it (built by app.py)."""

    assistant: Assistant
    db: Database
    inbox: InboxRepo
    outbox: OutboxRepo


class Poisoned(RuntimeError):
    """A statement failed inside the unit: roll it all back."""


def _read_quietly(read: Reader, row: InboxRow) -> Incoming | None:
    try:
        return read(row)
    except Unreadable:
        return None


class Unreadable(ValueError):
    """An update the channel cannot parse; skipped (and logged once), never retried."""


class Pipeline:
    """Handles a channel's inbox: each batch of pending updates is one transaction with the
    replies it writes to the outbox, so a crash either loses none of it or keeps all of it."""

    def __init__(self, channel: str, *, db: Database, inbox: InboxRepo, outbox: OutboxRepo,
                 assistant: Assistant, read: Reader, on_written: Callable[[], None],
                 clock: Clock | None = None, handle: Handle | None = None,
                 hold: timedelta | None = None,
                 on_handled: Callable[[list[InboxRow]], None] | None = None,
                 prepare: Prepare | None = None) -> None:
        """`handle`: the channel's way into the core (default: the assistant's; WeChat
        translates numbered choices there); `hold`: replies wait this long after their
        message was received (WeChat's request may take the first one); `on_handled`: told
        of each committed batch; `prepare`: fetches, before the transaction, the photos
        the batch's messages carry (row id -> bytes), so that no download holds it."""
        self.channel = channel
        self._db, self._inbox, self._outbox = db, inbox, outbox
        self._assistant, self._read, self._on_written = assistant, read, on_written
        self._handle_one: Handle = handle or assistant.handle
        self._hold, self._on_handled, self._prepare = hold, on_handled, prepare
        self._clock = clock or SystemClock()  # delivery time, not the business clock
        self._wake = asyncio.Event()
        self.handled = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Handle pending updates until `stop`; woken by `wake()` (new updates written)."""
        await _keep_running(f"handling the {self.channel} inbox", self.drain, self._wake, stop,
                            _five_seconds)

    async def drain(self) -> int:
        """Handle everything pending now; returns how many updates."""
        total = 0
        while rows := await self._inbox.pending(self.channel, BATCH):
            photos = await self._photos(rows)
            try:
                async with self._db.unit():
                    await self._handle(rows, photos)
            except Exception:
                # One update broke the batch's transaction: handle them one at a time, so the
                # others are answered and the broken one is set aside.
                log.exception("a batch of %d %s updates failed; one at a time",
                              len(rows), self.channel)
                for row in rows:
                    await self._handle_alone(row, photos)
            total += len(rows)
            self.handled += len(rows)
            self._on_written()
            if self._on_handled is not None:
                self._on_handled(rows)
        return total

    async def _photos(self, rows: list[InboxRow]) -> dict[int, bytes]:
        if self._prepare is None:
            return {}
        try:
            return await self._prepare(rows)
        except Exception:  # the messages are handled without their pictures
            log.exception("fetching the photos of %d %s updates failed", len(rows),
                          self.channel)
            return {}

    async def _handle(self, rows: list[InboxRow], photos: dict[int, bytes] | None = None
                      ) -> None:
        """Handle rows inside the caller's unit of work; their replies and their marks are
        written together at the end (two statements for the whole batch)."""
        now = self._clock.now()
        replies: list[tuple[str, Reply, int | None, datetime]] = []
        outcomes: list[tuple[int, str]] = []
        for row in rows:
            try:
                msg = self._read(row)
            except Unreadable as exc:
                log.warning("%s update %s cannot be read and is skipped: %s",
                            self.channel, row.key, exc)
                outcomes.append((row.id, "unreadable"))
                continue
            if msg is None:
                outcomes.append((row.id, "ignored"))
                continue
            if photos and row.id in photos:
                msg = replace(msg, photo_data=photos[row.id])
            at = now
            if self._hold is not None and row.received_at:
                at = datetime.fromisoformat(row.received_at) + self._hold
            replies += [(msg.chat_id, r, row.id, at) for r in await self._handle_one(msg)]
            outcomes.append((row.id, "handled"))
        if self._db.poisoned:  # a handler's statement failed: none of this may stay
            raise Poisoned("a statement failed while handling")
        await self._outbox.enqueue_answers(self.channel, replies, now)
        await self._inbox.done_many(outcomes, now)

    async def _handle_alone(self, row: InboxRow, photos: dict[int, bytes]) -> None:
        try:
            async with self._db.unit():
                await self._handle([row], photos)
        except Exception:
            log.exception("%s update %s failed twice; set aside", self.channel, row.key)
            async with self._db.unit():
                now = self._clock.now()
                msg = _read_quietly(self._read, row)
                if msg is not None:
                    await self._outbox.enqueue_answers(
                        self.channel, [(msg.chat_id, apology(), row.id, now)], now)
                await self._inbox.done_many([(row.id, "failed")], now)


class Sender:
    """Delivers a channel's outbox: oldest first, one chat's replies in order, a few chats
    at once. Flood waits (429) pause all sending for as long as the platform asks; timeouts and
    5xx are tried again with backoff (up to a minute apart) until the reply is `max_age` old,
    when it is dropped with a log line and counted in `expired`."""

    def __init__(self, channel: str, *, outbox: OutboxRepo, transport: Transport,
                 max_age: timedelta, clock: Clock | None = None) -> None:
        self.channel = channel
        self._outbox, self._transport = outbox, transport
        self._max_age = max_age
        self._clock = clock or SystemClock()
        self._wake = asyncio.Event()
        self._paused_until: datetime | None = None
        self._chats = asyncio.Semaphore(CHATS_IN_FLIGHT)
        self.sent = self.expired = self.retried = self.refused = self.undeliverable = 0
        # Sent rows are marked by one task, a batch per transaction (group commit): under
        # load many marks share a commit, when quiet each is written at once. A chat's next
        # send waits for its mark, so at most CHATS_IN_FLIGHT rows are ever sent and not yet
        # marked (what a crash may send again).
        self._marks: list[tuple[int, asyncio.Future[None]]] = []
        self._marking: asyncio.Future[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` (the channel sends what is due once more as it stops)."""
        await _keep_running(f"delivering the {self.channel} outbox", self.flush, self._wake,
                            stop, self._idle_for)

    async def _idle_for(self) -> float:
        nxt = await self._outbox.next_due(self.channel)
        if nxt is None:
            return 5.0
        wait = (datetime.fromisoformat(nxt) - self._clock.now()).total_seconds()
        return min(5.0, max(0.05, wait))

    async def flush(self) -> int:
        """Send everything that may go now; returns how many rows were finished."""
        done = 0
        while True:
            await self._flood_wait()
            await self._marked()  # a sent row must not be read as due again
            rows = await self._outbox.due(self.channel, self._clock.now(), SEND_BATCH)
            if not rows:
                return done
            chats: dict[str, list[OutRow]] = {}
            for row in rows:
                chats.setdefault(row.chat_id, []).append(row)
            finished = await asyncio.gather(*(self._chat(r) for r in chats.values()))
            done += sum(finished)
            if sum(finished) == 0:  # all of them wait for a retry
                return done

    async def _flood_wait(self) -> None:
        if self._paused_until is not None:
            wait = (self._paused_until - self._clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            self._paused_until = None

    async def _chat(self, rows: list[OutRow]) -> int:
        async with self._chats:
            finished = 0
            for row in rows:
                if not await self._one(row):
                    break  # the rest of this chat waits behind it
                finished += 1
            return finished

    async def _one(self, row: OutRow) -> bool:
        """Deliver one row; False when it must be tried again later."""
        now = self._clock.now()
        if now - datetime.fromisoformat(row.created_at) > self._max_age:
            self.expired += 1
            log.warning("a %s reply to chat %s was not delivered within %s and is dropped "
                        "(%d dropped so far)", self.channel, row.chat_id, self._max_age,
                        self.expired)
            await self._outbox.finish(row.id, "expired", now)
            return True
        await self._flood_wait()
        try:
            await self._transport.deliver(row.chat_id, row.reply)
        except DeliveryError as exc:
            return await self._failed(row, exc)
        except Exception as exc:  # a bug in the transport must not stop the sender
            log.exception("delivering a %s reply failed", self.channel)
            return await self._failed(row, DeliveryError(type(exc).__name__))
        self.sent += 1
        marked = asyncio.get_running_loop().create_future()
        self._marks.append((row.id, marked))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.ensure_future(self._write_marks())
        await marked
        return True

    async def _write_marks(self) -> None:
        while self._marks:
            batch, self._marks = self._marks, []
            try:
                await self._outbox.finish_many([i for i, _f in batch], "sent",
                                               self._clock.now())
            except Exception as exc:  # the rows stay pending: sent again later
                for _i, done in batch:
                    done.set_exception(exc)
                continue
            for _i, done in batch:
                done.set_result(None)

    async def _marked(self) -> None:
        if self._marking is not None:
            await self._marking

    async def _failed(self, row: OutRow, exc: DeliveryError) -> bool:
        now = self._clock.now()
        if exc.blocked:
            log.info("%s chat %s blocked the bot; a reply is dropped", self.channel, row.chat_id)
            await self._outbox.finish(row.id, "blocked", now, str(exc)[:200])
            return True
        if exc.undeliverable:
            self.undeliverable += 1
            log.info("a %s message to chat %s cannot be delivered now (%s); kept as "
                     "undeliverable", self.channel, row.chat_id, exc)
            await self._outbox.finish(row.id, "undeliverable", now, str(exc)[:200])
            return True
        if exc.refused:
            self.refused += 1
            log.error("%s refused a reply to chat %s: %s", self.channel, row.chat_id, exc)
            await self._outbox.finish(row.id, "refused", now, str(exc)[:200])
            return True
        self.retried += 1
        if exc.retry_after is not None:
            until = now + timedelta(seconds=exc.retry_after)
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until
            log.warning("%s asks to wait %.1f s (flood control)", self.channel, exc.retry_after)
            await self._outbox.retry_at(row.id, until, "flood wait", count=False)
            return False
        delay = min(MAX_BACKOFF, 0.5 * 2 ** min(row.attempts, 10))
        log.warning("a %s reply to chat %s failed (%s); again in %.1f s", self.channel,
                    row.chat_id, exc, delay)
        await self._outbox.retry_at(row.id, now + timedelta(seconds=delay), str(exc))
        return False


Hook = Callable[[], Awaitable[None]]
STOP_GRACE = 5.0  # seconds a clean stop spends handling and sending what is left


async def serve(what: str, stop: asyncio.Event,
                workers: list[Callable[[asyncio.Event], Awaitable[None]]], *,
                pipeline: Pipeline, sender: Sender, on_started: Hook | None = None,
                before_stop: Hook | None = None, stopping: Hook | None = None) -> None:
    """A channel's loops (each given an event that ends it) until `stop`; then a clean stop:
    `stopping` (no more updates come in), the loops end, and within STOP_GRACE what was
    received is handled and what is due is sent. `on_started` runs once the loops run (the
    reminder scheduler starts there); `before_stop` while the channel can still send."""
    inner = asyncio.Event()
    tasks = [asyncio.ensure_future(work(inner)) for work in workers]
    try:
        if on_started is not None:
            await on_started()
        await stop.wait()
        if before_stop is not None:
            await before_stop()
    finally:
        if stopping is not None:
            await stopping()
        inner.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(_last_round(pipeline, sender), timeout=STOP_GRACE)
        except TimeoutError:
            log.warning("stopping %s with messages still queued; they go at the next start",
                        what)


async def _last_round(pipeline: Pipeline, sender: Sender) -> None:
    await pipeline.drain()
    await sender.flush()


async def _keep_running(what: str, step: Callable[[], Awaitable[int]], wake: asyncio.Event,
                        stop: asyncio.Event, idle: Callable[[], Awaitable[float]]) -> None:
    """Run `step` until `stop`; between runs wait for `wake` or `idle()` seconds. A failing
    step is logged and tried again a second later."""
    while not stop.is_set():
        wake.clear()
        try:
            await step()
        except Exception:
            log.exception("%s failed; trying again", what)
            await asyncio.sleep(1.0)
            continue
        await _wait(wake, stop, await idle())


async def _five_seconds() -> float:
    return 5.0


async def _wait(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Until `event` or `stop` is set, or `seconds` have passed."""
    waiters: set[asyncio.Task[Any]] = {asyncio.ensure_future(event.wait()),
                                       asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
