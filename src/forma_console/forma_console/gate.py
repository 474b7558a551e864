"""The access gate in front of the viser server when the console needs a token (access.py).

viser then listens on 127.0.0.1 at a port of its own; the gate listens on the configured address
and port, reads the head of each request and, by access.decide, passes the connection through to
viser unchanged, engages the e-stop, sets the token cookie, or answers with the refusal. viser
answers one request per connection (a websocket, or one file), so each request passes the gate.
It runs its own asyncio loop in a daemon thread: no ROS here; the node gives it `on_estop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from forma_console.access import (
    MAX_HEAD_BYTES,
    REASON_MALFORMED,
    AccessError,
    decide,
    estop_page,
    http_response,
    parse_head,
    refusal_page,
)

HEAD_TIMEOUT_S = 10.0  # a client that sends no complete request head in this time is dropped [s]
MAX_BODY_BYTES = 4096  # read (and ignored) from an e-stop request's body


class AccessGate:
    """Listens on (host, port) and passes authorised connections to 127.0.0.1:backend_port.

    on_estop() engages the e-stop and returns what happened (shown to the browser); log(level,
    text) reports refusals ("warning") and e-stops ("warning")."""

    def __init__(
        self,
        host: str,
        port: int,
        backend_port: int,
        token: str,
        on_estop: Callable[[], str],
        log: Callable[[str, str], None],
    ) -> None:
        self.host, self.port, self.backend_port = host, port, backend_port
        self._token = token
        self.on_estop = on_estop
        self.log = log
        self.refused = 0  # requests refused so far (for tests and diagnostics)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="console-gate", daemon=True)

    def start(self) -> None:
        """Bind now (an address or port in use raises OSError here) and serve in the background."""
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, self.host, self.port, limit=MAX_HEAD_BYTES + 1)
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return

        async def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=2.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self._loop.close()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        who = f"{peer[0]}:{peer[1]}" if peer else "?"
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
                request = parse_head(head[:-4])
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, AccessError) as exc:
                self.refused += 1
                self.log("warning", f"console request from {who} refused: {REASON_MALFORMED} ({type(exc).__name__})")
                writer.write(http_response(400, REASON_MALFORMED))
                return
            decision = decide(request, self._token, self.port)
            if decision.action == "forward":
                await self._forward(head, reader, writer, websocket=request.websocket)
                return
            if decision.action == "estop":
                length = min(int(request.headers.get("content-length", "0") or 0), MAX_BODY_BYTES)
                with contextlib.suppress(Exception):  # the body does not matter; the e-stop does
                    await asyncio.wait_for(reader.readexactly(length), 1.0)
                outcome = self.on_estop()
                self.log("warning", f"e-stop engaged by POST {request.path} from {who}: {outcome}")
                writer.write(http_response(200, estop_page(outcome), "text/html; charset=utf-8"))
                return
            if decision.action == "redirect":
                writer.write(http_response(303, "", Location=decision.location, Set_Cookie=decision.set_cookie))
                return
            self.refused += 1
            what = "websocket" if request.websocket else f"{request.method} {request.path}"
            self.log("warning", f"console {what} from {who} refused: {decision.reason}")
            if request.method == "GET" and not request.websocket:
                writer.write(http_response(decision.status, refusal_page(decision.reason), "text/html; charset=utf-8"))
            else:
                writer.write(http_response(decision.status, decision.reason))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()

    async def _forward(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, websocket: bool
    ) -> None:
        """Pass the connection through to viser: the head already read, then both directions as they
        come for a websocket; for a plain request only viser's answer (what the client sends after
        its request head never reaches viser: one request per connection, each through the gate;
        passed on, a second request behind the first made viser's server fail the first's answer)."""
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError as exc:
            self.log("error", f"console web server on 127.0.0.1:{self.backend_port} unreachable: {exc}")
            writer.write(http_response(502, "console web server unreachable"))
            return
        up_writer.write(head)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    sink.close()

        tasks = [asyncio.ensure_future(pipe(up_reader, writer))]
        if websocket:
            tasks.append(asyncio.ensure_future(pipe(reader, up_writer)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
