"""Passive replies per second through the WeChat channel's real server (`python bot.py` with
WeChat configured), 50 simulated users at once, side by side in the same run with a minimal
aiohttp handler that checks the signature and echoes (bench/wechat_echo.py).

    python bench/wechat.py [--users 50] [--per-user 20] [--safe]

Prints for each: replies per second, p50 and p99 reply time, the share answered in the
response within 4 s (goal: all), and the ratio of the rates (goal >= 0.5). Talks only to
127.0.0.1; each user sends its questions one after another, as a person waits for the answer.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.wechat_protocol import Crypto, parse_xml, signature  # noqa: E402
from tests.fake_wechat import FakeWeChatAPI  # noqa: E402

TOKEN = "benchtoken"
AES_KEY = base64.b64encode(b"b" * 32).decode().rstrip("=")
MSG_IDS = itertools.count(10**9)  # one MsgId per message of the whole run (WeChat's dedupe)


def questions() -> list[str]:
    data = yaml.safe_load((ROOT / "bench" / "questions.yaml").read_text("utf-8"))
    return [q["q"] for q in data]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    """Users who each send `per_user` messages in turn, signed (and encrypted) as WeChat."""

    def __init__(self, url: str, app_id: str, users: int, per_user: int,
                 crypto: Crypto | None) -> None:
        self.url, self.app_id = url, app_id
        self.users, self.per_user = users, per_user
        self.crypto = crypto
        self.times: list[float] = []
        self.passive = self.success = self.errors = 0
        self.later: list[tuple[str, float]] = []  # answered 'success': (user, when asked)

    def _request(self, openid: str, text: str) -> tuple[dict[str, str], bytes]:
        ts, nonce = str(int(time.time())), secrets.token_hex(6)
        body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA["
                f"{openid}]]></FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA["
                f"text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>"
                f"{next(MSG_IDS)}</MsgId></xml>").encode()
        query = {"signature": signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                 "openid": openid}
        if self.crypto is not None:
            enc = parse_xml(self.crypto.encrypt(body, ts, nonce))
            query.update(encrypt_type="aes", msg_signature=enc["MsgSignature"])
            body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA["
                    f"{enc['Encrypt']}]]></Encrypt></xml>").encode()
        return query, body

    async def user(self, http: aiohttp.ClientSession, n: int, texts: list[str]) -> None:
        openid = f"oBench{n:022d}"
        for i in range(self.per_user):
            query, body = self._request(openid, texts[(n * self.per_user + i) % len(texts)])
            t0, wall = time.perf_counter(), time.time()
            try:
                async with http.post(self.url, params=query, data=body) as resp:
                    raw = await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                self.errors += 1
                continue
            elapsed = time.perf_counter() - t0
            self.times.append(elapsed)
            if status != 200:
                self.errors += 1
            elif raw in (b"success", b""):
                self.success += 1
                self.later.append((openid, wall))
            elif elapsed <= 4.0:
                self.passive += 1

    async def run(self, texts: list[str]) -> float:
        connector = aiohttp.TCPConnector(limit=self.users + 5)
        async with aiohttp.ClientSession(connector=connector) as http:
            t0 = time.perf_counter()
            await asyncio.gather(*(self.user(http, n, texts) for n in range(self.users)))
            return time.perf_counter() - t0


async def wait_up(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"the server exited: {err}")
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not come up")


def pushed_within(load: Load, api: FakeWeChatAPI, seconds: float) -> int:
    """Of the messages answered `success`, how many got their answer by customer-service
    message within `seconds` of being sent (each push matched to one message, in order)."""
    pushes: dict[str, list[float]] = {}
    for sent in api.sent:
        pushes.setdefault(sent["touser"], []).append(sent["time"])
    count = 0
    for openid, asked in sorted(load.later, key=lambda x: x[1]):
        times = pushes.get(openid, [])
        after = [t for t in times if t >= asked]
        if after:
            times.remove(after[0])
            count += after[0] - asked <= seconds
    return count


async def measure(name: str, argv: list[str], env: dict[str, str], port: int,
                  args: argparse.Namespace, crypto: Crypto | None, app_id: str,
                  texts: list[str], api: FakeWeChatAPI | None = None) -> tuple[float, Load]:
    # Popen returns at once; the server is a real process, as deployed.
    proc = subprocess.Popen(argv, env=env, cwd=ROOT,  # noqa: ASYNC220
                            stderr=subprocess.PIPE, text=True)
    try:
        await wait_up(f"http://127.0.0.1:{port}/healthz", proc)
        url = f"http://127.0.0.1:{port}/wechat"
        # Warm up with every question once: indexes built on first use (pinyin for typos)
        # are built before the measurement, as in a bot that has been running a while.
        await Load(url, app_id, 5, -(-len(texts) // 5), crypto).run(texts)
        if api is not None:
            api.sent.clear()
        load = Load(url, app_id, args.users, args.per_user, crypto)
        seconds = await load.run(texts)
        if api is not None and load.later:
            await asyncio.sleep(5)  # the last pushes
    finally:
        proc.terminate()
        await asyncio.get_running_loop().run_in_executor(None, proc.communicate)
    rate = len(load.times) / seconds
    times = sorted(load.times)
    p50 = statistics.median(times) * 1000
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    total = args.users * args.per_user
    pushed = pushed_within(load, api, 4.0) if api is not None else 0
    print(f"{name:>6}: {rate:7.1f} replies/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
          f"answered within 4 s {load.passive + pushed}/{total} ({load.passive} in the "
          f"response, {pushed} of {load.success} 'success' by customer-service message; "
          f"errors: {load.errors})")
    return rate, load


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--per-user", type=int, default=20)
    ap.add_argument("--safe", action="store_true", help="safe mode (AES) for the bot")
    args = ap.parse_args()
    texts = questions()
    async with FakeWeChatAPI() as api:
        api.window_always_open = True
        crypto = Crypto(TOKEN, api.app_id, [AES_KEY]) if args.safe else None
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            echo_rate, _ = await measure(
                "echo", [sys.executable, str(ROOT / "bench" / "wechat_echo.py"), str(port),
                         TOKEN], dict(os.environ), port, args, None, api.app_id, texts)
            port = free_port()
            env = {**os.environ, "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": api.app_id,
                   "WECHAT_APP_SECRET": api.app_secret, "WECHAT_API_BASE": api.base_url,
                   "BOT_HTTP_PORT": str(port), "BOT_DB": str(Path(tmp) / "b.sqlite3"),
                   "BOT_DATA_DIR": str(Path(tmp) / "data"), "BOT_LOG_LEVEL": "WARNING"}
            env.pop("TELEGRAM_BOT_TOKEN", None)
            if args.safe:
                env["WECHAT_AES_KEY"] = AES_KEY
            bot_rate, _ = await measure("bot", [sys.executable, str(ROOT / "bot.py")], env,
                                        port, args, crypto, api.app_id, texts, api)
    print(f"ratio bot/echo: {bot_rate / echo_rate:.2f} (goal >= 0.5)"
          f"{'  [safe mode]' if args.safe else ''}")


if __name__ == "__main__":
    asyncio.run(main())
