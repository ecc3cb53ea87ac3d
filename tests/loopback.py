"""A real HTTP server on 127.0.0.1 that streams like LLM providers do, for tests and benchmarks.

It runs its own asyncio loop in a thread, so sync tests, async tests and subprocesses can all
talk to it. Each request is answered by ``server.handler(request) -> Reply``; a Reply is a
status, headers and a list of *parts*: bytes (each sent as its own write, so the client sees
the body split exactly there), floats (seconds to pause), ``DROP`` (cut the connection), or
callables (called when reached, in the server's thread; a number returned is a pause, so a
benchmark can pace a stream on the clock or note when a part went out).
The server records every request and whether the client went away before the reply ended
(``server.disconnected``).

Standalone, for trying llmchat by hand::

    python -m tests.loopback --port 8765 --rate 200    # then OPENAI_BASE_URL=http://127.0.0.1:8765/v1

It answers Chat Completions, the Responses API (``-p openai-responses``, same base URL) and
Gemini (``-p gemini`` with ``GEMINI_BASE_URL=http://127.0.0.1:8765``) in their own shapes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DROP = object()
"""A part that closes the connection abruptly (mid-body)."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    parts: Sequence[Any] = ()
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    chunked: bool = True
    """Chunked transfer encoding; False: no length, the body ends when the server closes."""


def json_reply(status: int, obj: Any) -> Reply:
    body = json.dumps(obj).encode()
    return Reply(status=status, parts=[body], headers={"content-type": "application/json"}, chunked=False)


def chunk(content: str | None = None, *, finish: str | None = None, role: bool = False,
          usage: dict[str, int] | None = None, empty_choices: bool = False, **delta: Any) -> dict[str, Any]:
    """One Chat Completions chunk object."""
    d: dict[str, Any] = dict(delta)
    if role:
        d["role"] = "assistant"
    if content is not None:
        d["content"] = content
    obj: dict[str, Any] = {
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000, "model": "test-model",
        "choices": [] if empty_choices else [{"index": 0, "delta": d, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def sse(*objs: Any, done: bool = True, eol: str = "\n") -> bytes:
    """Serialize chunk objects as SSE events (``data: {...}`` + blank line), then ``[DONE]``."""
    out = [f"data: {json.dumps(o, ensure_ascii=False)}{eol}{eol}" for o in objs]
    if done:
        out.append(f"data: [DONE]{eol}{eol}")
    return "".join(out).encode("utf-8")


def completion(tokens: Iterable[str], *, finish: str = "stop", usage: bool = True, done: bool = True,
               prompt_tokens: int = 7) -> bytes:
    """A whole realistic stream: role chunk, one chunk per token, finish chunk, usage chunk, [DONE]."""
    toks = list(tokens)
    objs = [chunk("", role=True)] + [chunk(t) for t in toks] + [chunk(finish=finish)]
    if usage:
        objs.append(chunk(empty_choices=True, usage={
            "prompt_tokens": prompt_tokens, "completion_tokens": len(toks),
            "total_tokens": prompt_tokens + len(toks)}))
    return sse(*objs, done=done)


def split_every(data: bytes, size: int) -> list[bytes]:
    """Cut `data` into pieces of `size` bytes (so lines and UTF-8 characters get split)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


class LoopbackServer:
    """The server. Use as a context manager or call start()/stop()."""

    def __init__(self, handler: Callable[[Request], Reply] | None = None, port: int = 0) -> None:
        self.handler = handler or (lambda request: Reply(parts=[completion(["Hello", ",", " world", "!"])]))
        self.requests: list[Request] = []
        self.disconnected = threading.Event()
        """Set when a client closed the connection before its reply was fully sent."""
        self.disconnected_at: float | None = None
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("loopback server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self._port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.wait(pending))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # one request per connection ("connection: close"), as simple as it gets
            request = await self._read_request(reader)
            self.requests.append(request)
            await self._send(self.handler(request), reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, path, headers, body)

    async def _send(self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Write the reply, noting whether the client left before its end."""
        head = [f"HTTP/1.1 {reply.status} X"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if reply.chunked:
            head.append("transfer-encoding: chunked")
        head.append("connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        watcher = asyncio.ensure_future(reader.read(1))  # resolves with b"" when the client leaves
        try:
            for part in reply.parts:
                if watcher.done():
                    self._mark_disconnect()
                    return
                if part is DROP:
                    writer.transport.abort()
                    return
                if callable(part):
                    part = part()
                    if not isinstance(part, (int, float)) or part <= 0:
                        continue
                if isinstance(part, (int, float)):
                    await asyncio.wait({watcher}, timeout=part)
                    continue
                if not part:
                    continue
                writer.write(b"%x\r\n%s\r\n" % (len(part), part) if reply.chunked else part)
                await writer.drain()
                await asyncio.sleep(0)
            if watcher.done():
                self._mark_disconnect()
                return
            if reply.chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            self._mark_disconnect()
            return
        finally:
            watcher.cancel()

    def _mark_disconnect(self) -> None:
        if not self.disconnected.is_set():
            self.disconnected_at = time.monotonic()
            self.disconnected.set()


STORY = """# Streaming test

This answer is **streamed** by the loopback server, one token at a time.

## A list

1. First item with `inline code`
2. Second item
3. Third item

| Column | Value |
|--------|-------|
| alpha  | 1     |
| beta   | 2     |

```python
def hello(name: str) -> str:
    return f"Hello, {name}!"
```

> A quote, to finish a paragraph.

"""


def story_tokens(repeat: int = 1) -> list[str]:
    """STORY cut into word-sized tokens, repeated."""
    import re

    return re.findall(r"\s*\S+|\s+", STORY * repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second (0: as fast as possible)")
    parser.add_argument("--repeat", type=int, default=3, help="how many times the story is repeated")
    parser.add_argument(
        "--markdown", type=int, default=0, metavar="TOKENS",
        help="reply with a generated Markdown document of TOKENS tokens (benchmarks/markdown_doc.py) instead",
    )
    args = parser.parse_args()

    def paced(pieces: list[bytes], per_write: int) -> list[Any]:
        parts: list[Any] = []
        for at in range(0, len(pieces), per_write):
            parts.append(b"".join(pieces[at : at + per_write]))
            if args.rate:
                parts.append(per_write / args.rate)
        return parts

    def handler(request: Request) -> Reply:
        from tests import streams  # the Responses and Gemini shapes

        path = request.path.split("?")[0]
        if path.endswith("/v1beta/models"):
            return json_reply(200, streams.gemini_models())
        if path.endswith("/models"):
            return json_reply(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
        if args.markdown:
            from benchmarks.markdown_doc import markdown_reply

            tokens = markdown_reply(args.markdown)
        else:
            tokens = story_tokens(args.repeat)
        # A write every 10 ms at most (one per token at 2,000 tokens/s would be paced by the
        # sleeps' overhead, not by the rate).
        per_write = max(1, round(args.rate / 100)) if args.rate else len(tokens)
        if path.endswith("/responses"):  # -p openai-responses
            events = streams.responses_events(tokens, usage=streams.responses_usage(12, len(tokens)))
            return Reply(parts=paced([streams.named_sse([e]) for e in events], per_write))
        if ":streamGenerateContent" in path:  # -p gemini with GEMINI_BASE_URL=http://127.0.0.1:PORT
            usage = streams.gemini_usage(12, len(tokens))
            chunks = [streams.gemini_chunk({"text": t}) for t in tokens[:-1]]
            chunks.append(streams.gemini_chunk({"text": tokens[-1]}, finish="STOP", usage=usage))
            return Reply(parts=paced([streams.data_sse([c]) for c in chunks], per_write))
        parts: list[Any] = [sse(chunk("", role=True), done=False)]
        for at in range(0, len(tokens), per_write):
            parts.append(sse(*[chunk(tok) for tok in tokens[at : at + per_write]], done=False))
            if args.rate:
                parts.append(per_write / args.rate)
        parts.append(sse(chunk(finish="stop"), chunk(empty_choices=True, usage={
            "prompt_tokens": 12, "completion_tokens": len(tokens), "total_tokens": 12 + len(tokens)})))
        return Reply(parts=parts)

    with LoopbackServer(handler, port=args.port) as server:
        print(f"serving on {server.base_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
