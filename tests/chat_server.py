"""A local OpenAI-compatible chat endpoint (POST /v1/chat/completions) for the tests of the
interaction node's open chat: it answers `reply` with HTTP `status` and records every request."""

from __future__ import annotations

import http.server
import json
import threading


class ChatServer:
    def __init__(self, reply: str = "I am a robot, so I do not eat.") -> None:
        self.reply, self.status = reply, 200
        self.requests: list[tuple[str, dict, dict]] = []  # (path, headers, body) in order
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append((self.path, dict(self.headers), body))
                answer = {"choices": [{"message": {"role": "assistant", "content": owner.reply}}]}
                data = json.dumps(answer).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
