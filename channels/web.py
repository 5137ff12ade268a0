"""The one web server of a bot process: the channels' webhook routes (/wechat, /telegram) and
GET /healthz for the load balancer or systemd's watchdog."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from storage.db import Database

log = logging.getLogger(__name__)
Routes = Callable[[web.Application], None]
HEALTH_TIMEOUT = 2.0  # seconds the database may take to answer a health check
SHUTDOWN = 5.0  # seconds requests in flight get to finish at a stop


class WebServer:
    """aiohttp on BOT_HTTP_HOST:BOT_HTTP_PORT. `channels`: name -> is it running (for
    /healthz). No access log: its request lines carry WeChat's query strings (openids)."""

    def __init__(self, host: str, port: int, db: Database, routes: list[Routes],
                 channels: Callable[[], dict[str, bool]]) -> None:
        self.host, self.port = host, port
        self._db = db
        self._channels = channels
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.router.add_get("/healthz", self.healthz)
        for add in routes:
            add(self.app)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0 and self._runner.addresses:  # a free port was asked for (tests)
            self.port = int(self._runner.addresses[0][1])
        log.info("web server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        database = "ok"
        try:
            await asyncio.wait_for(self._ping(), timeout=HEALTH_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure is "not reachable"
            log.warning("health check: the database does not answer: %s", type(exc).__name__)
            database = "unreachable"
        channels = self._channels()
        ok = database == "ok"
        body = {"status": "ok" if ok and all(channels.values()) else "degraded",
                "database": database, "channels": channels}
        if not ok:
            body["status"] = "unavailable"
        return web.json_response(body, status=200 if ok else 503)

    async def _ping(self) -> None:
        async with self._db.read() as conn, conn.execute("SELECT 1") as cur:
            await cur.fetchone()
