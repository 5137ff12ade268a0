"""The ceiling for a Python WeChat bot on this machine: an aiohttp handler that checks the
signature, parses the XML (defusedxml) and echoes the text as a passive reply. Run by
bench/wechat.py as `python bench/wechat_echo.py PORT TOKEN`."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.wechat_protocol import Passive, parse_xml, signature_ok  # noqa: E402


def main() -> None:
    port, token = int(sys.argv[1]), sys.argv[2]

    async def push(request: web.Request) -> web.Response:
        q = request.query
        if not signature_ok(q.get("signature"), token, q.get("timestamp", ""),
                            q.get("nonce", "")):
            return web.Response(status=403)
        fields = parse_xml(await request.read())
        reply = Passive(fields["FromUserName"], fields["ToUserName"], text=fields["Content"])
        return web.Response(body=reply.xml(int(time.time())), content_type="application/xml")

    app = web.Application()
    app.router.add_post("/wechat", push)
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
