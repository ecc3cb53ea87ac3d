"""Local server discovery reads model lists with a size cap, decoded in bounded pieces."""

from __future__ import annotations

from llmchat.discovery import find_local_servers
from tests.bombs import bomb
from tests.loopback import LoopbackServer, Reply, json_reply


async def test_a_model_list_is_found_and_a_bomb_is_skipped(server: LoopbackServer) -> None:
    with LoopbackServer() as bomber:
        server.handler = lambda request: json_reply(200, {"data": [{"id": "m1"}, {"id": "m2"}]})
        body = bomb("gzip, gzip", 64, (b'{"data": [' + b" " * (1024 * 1024))[: 1024 * 1024])
        bomber.handler = lambda request: Reply(parts=[body], headers={
            "content-type": "application/json", "content-encoding": "gzip, gzip"})
        found = await find_local_servers((("Good", server.port), ("Bomb", bomber.port)))
    assert [(s.label, s.models) for s in found] == [("Good", ("m1", "m2"))]
    assert server.requests[0].headers["accept-encoding"].startswith("gzip")
