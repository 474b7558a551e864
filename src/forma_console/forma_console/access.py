"""Who may use the console: the access token and the decision per HTTP request (pure: no
sockets, no ROS; gate.py applies it).

Bound to a loopback address the console needs no token (only this computer reaches it). Bound
to any other address it needs one, and then every request needs it: the page, its files and the
websocket that carries every control and the view. Viewing is not open either: the camera shows
the room. The one exception is the e-stop: `POST /estop` engages it without the token, so anyone
who can reach the port can stop the robot (never release or reset it).

The browser gets the token once, from the address (`/?token=...`): the console answers with a
cookie (HttpOnly, SameSite=Lax, for this session only) and sends the browser on to `/` without
the token in the address; the page's websocket then carries the cookie. Tools may put `?token=` on
the websocket address itself.
"""

from __future__ import annotations

import dataclasses
import hmac
import html
import ipaddress
import os
import pathlib
import re
import secrets
import stat
from urllib.parse import parse_qs, urlsplit

TOKEN_RE = re.compile(r"[A-Za-z0-9_.~-]{16,256}")  # URL- and cookie-safe, at least 16 characters
TOKEN_HINT = "16..256 characters of A-Z a-z 0-9 _ . ~ -"
MAX_HEAD_BYTES = 16 * 1024  # a request head longer than this is refused

ESTOP_PATH = "/estop"
REASON_MISSING = "access token required"
REASON_WRONG = "wrong access token"
REASON_METHOD = "the e-stop takes POST only"
REASON_MALFORMED = "malformed request"


class AccessError(ValueError):
    """The access token cannot be set up (missing, unreadable or too weak) or a request is malformed."""


def is_loopback(host: str) -> bool:
    """True if `host` is reachable from this computer only (127.0.0.0/8, ::1, localhost). Any other
    address, 0.0.0.0, :: and every other host name count as reachable from the network."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def check_token(token: str, source: str) -> str:
    """`token` if it is usable, else AccessError naming `source` and what a token must be."""
    if not TOKEN_RE.fullmatch(token):
        raise AccessError(
            f"access token in {source} is not usable ({len(token)} characters): it must be {TOKEN_HINT}; "
            f"make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > {source}"
        )
    return token


def load_token(path: str) -> tuple[str, bool]:
    """The token in the file at `path` (`~` expanded), surrounding whitespace ignored; a missing file
    is created (mode 0600, its directory 0700) with a new token. Returns (token, created)."""
    file = pathlib.Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        token = new_token()
        try:
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(token + "\n")
        except OSError as exc:
            raise AccessError(f"access_token_file {file} does not exist and could not be created: {exc}") from None
        return token, True
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(f"access_token_file {file} could not be read: {exc}") from None
    return check_token(text.strip(), str(file)), False


def readable_by_others(path: str) -> bool:
    """True if users other than the owner may read the token file (worth a warning: chmod 600)."""
    try:
        return bool(pathlib.Path(path).expanduser().stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest): how long it takes says nothing about the token."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def cookie_name(port: int) -> str:
    """The token cookie of the console on `port` (cookies are per host, not per port)."""
    return f"forma_console_token_{port}"


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    """The head of one HTTP request: method, path, query and headers (names in lower case)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    @property
    def websocket(self) -> bool:
        return self.headers.get("upgrade", "").lower() == "websocket"

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value.strip().strip('"')
        return None


def parse_head(head: bytes) -> HttpRequest:
    """The request line and headers of `head` (the bytes up to the blank line)."""
    if len(head) > MAX_HEAD_BYTES:
        raise AccessError(f"request head longer than {MAX_HEAD_BYTES} bytes")
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise AccessError("not an HTTP request line") from None
    if not version.startswith("HTTP/1."):
        raise AccessError(f"unsupported protocol {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise AccessError(f"malformed header line {line[:40]!r}")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}; {value.strip()}" if key == "cookie" and key in headers else value.strip()
    url = urlsplit(target)
    return HttpRequest(method.upper(), url.path or "/", parse_qs(url.query, keep_blank_values=True), headers)


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the gate does with one request.

    action: "forward" (to the viser server), "estop" (engage it, then answer), "redirect" (to
    `location`, setting the token cookie) or "refuse" (answer `status` with `reason`)."""

    action: str
    status: int = 200
    reason: str = ""
    location: str = ""
    set_cookie: str = ""


def decide(request: HttpRequest, expected: str, port: int) -> Decision:
    """Forward, redirect, engage the e-stop or refuse one request to a console that needs `expected`."""
    if request.path == ESTOP_PATH:  # engaging the e-stop never needs the token
        if request.method != "POST":
            return Decision("refuse", 405, REASON_METHOD)
        return Decision("estop")
    from_url = request.query.get("token", [None])[-1]
    given = from_url if from_url is not None else request.cookie(cookie_name(port))
    if given is None:
        return Decision("refuse", 401, REASON_MISSING)
    if not token_matches(given, expected):
        return Decision("refuse", 403, REASON_WRONG)
    if from_url is not None and not request.websocket and request.method == "GET":
        # the token leaves the address bar: from now on the cookie carries it
        cookie = f"{cookie_name(port)}={given}; Path=/; HttpOnly; SameSite=Lax"
        return Decision("redirect", 303, location=request.path, set_cookie=cookie)
    return Decision("forward")


EXPLANATION = {
    REASON_MISSING: "This console is reachable from the network, so it needs its access token. Open it as "
    "<code>http://&lt;robot&gt;:&lt;port&gt;/?token=&lt;token&gt;</code>; the token is in the file "
    "named by the console's <code>access_token_file</code> parameter, on the computer running the console.",
    REASON_WRONG: "The token given (in the address or remembered by this browser) is not this console's. "
    "Open the console again with <code>?token=</code> and the token from the file named by its "
    "<code>access_token_file</code> parameter (it may have been replaced since).",
    REASON_METHOD: "The e-stop is engaged with the button below (a POST request), never by opening an address.",
    REASON_MALFORMED: "The request could not be read.",
}


def refusal_page(reason: str) -> str:
    """The HTML shown instead of the console: the reason, what to do, and an e-stop that works anyway."""
    what = EXPLANATION.get(reason, "")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Forma console: refused</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:2em auto'>"
        f"<h1>Forma console: {html.escape(reason)}</h1><p>{what}</p>"
        f"<form method='post' action='{ESTOP_PATH}'>"
        "<button style='background:#c00;color:#fff;font-size:2em;padding:.5em 1em' type='submit'>"
        "E-STOP</button></form>"
        "<p>The e-stop works without the token (it damps every joint and latches); releasing it and "
        "every other control need the token. The robot's hardware e-stop is the real one.</p></body></html>"
    )


def estop_page(outcome: str) -> str:
    """The HTML answer to an e-stop request."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Forma console: e-stop</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:2em auto'>"
        f"<h1>{html.escape(outcome)}</h1>"
        f"<form method='post' action='{ESTOP_PATH}'><button type='submit'>E-STOP again</button></form>"
        "</body></html>"
    )


def http_response(status: int, body: str, content_type: str = "text/plain; charset=utf-8", **headers: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    phrases = {
        200: "OK",
        303: "See Other",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        405: "Method Not Allowed",
        502: "Bad Gateway",
    }
    payload = body.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {phrases.get(status, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        "Cache-Control: no-store",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items() if value]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
