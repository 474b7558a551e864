"""The console's access rules without sockets or ROS (forma_console.access): which addresses need a
token, how the token file is read or created, the constant-time comparison, and the decision for
each kind of request."""

from __future__ import annotations

import hmac

import pytest

from forma_console import access
from forma_console.access import (
    ESTOP_PATH,
    REASON_METHOD,
    REASON_MISSING,
    REASON_WRONG,
    AccessError,
    cookie_name,
    decide,
    is_loopback,
    load_token,
    parse_head,
    refusal_page,
    token_matches,
)

TOKEN = "Zm9ybWEtY29uc29sZS10b2tlbg"
PORT = 8080


def request(target: str = "/", method: str = "GET", **headers: str):
    lines = [f"{method} {target} HTTP/1.1", "Host: 192.0.2.2:8080"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return parse_head("\r\n".join(lines).encode("latin-1"))


WEBSOCKET = {"Upgrade": "websocket", "Connection": "Upgrade"}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("10.0.0.7", False),
        ("robot.local", False),  # a name: it may resolve to anything, so it needs the token
    ],
)
def test_only_loopback_addresses_go_without_a_token(host, loopback):
    assert is_loopback(host) is loopback


def test_tokens_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1] + "x", TOKEN)
    assert not token_matches(TOKEN + "x", TOKEN)
    assert not token_matches("é" * 20, TOKEN)
    assert len(calls) == 4, "every comparison goes through hmac.compare_digest"
    assert not token_matches("", TOKEN) and not token_matches(None, TOKEN)


def test_a_missing_token_file_is_created_for_its_owner_only(tmp_path):
    path = tmp_path / "forma" / "console_token"
    token, created = load_token(str(path))
    assert created and path.read_text() == token + "\n" and len(token) >= 32
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert load_token(str(path)) == (token, False), "read back, not replaced"
    assert access.readable_by_others(str(path)) is False
    path.chmod(0o644)
    assert access.readable_by_others(str(path)) is True
    assert load_token(str(tmp_path / "other"))[0] != token, "each new token is random"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", r"not usable \(0 characters\)"),
        ("short-token\n", r"not usable \(11 characters\)"),
        ("a token with spaces inside", r"not usable"),
        ("x" * 300, r"not usable \(300 characters\)"),
    ],
)
def test_an_unusable_token_file_is_refused_with_how_to_make_one(tmp_path, text, why):
    path = tmp_path / "token"
    path.write_text(text)
    with pytest.raises(AccessError, match=why) as refused:
        load_token(str(path))
    assert "secrets.token_urlsafe" in str(refused.value) and str(path) in str(refused.value)


def test_an_unusable_place_for_the_token_file_is_refused(tmp_path):
    (tmp_path / "a_file").write_text("")  # no directory can be made there, even by root
    with pytest.raises(AccessError, match="a_file/token could not be read: .*Not a directory"):
        load_token(str(tmp_path / "a_file" / "token"))
    with pytest.raises(AccessError, match="could not be read: .*Is a directory"):
        load_token(str(tmp_path))


def test_without_the_token_every_request_is_refused_with_the_reason():
    for target, headers in (("/", {}), ("/index.html", {}), ("/", WEBSOCKET), ("/assets/x.js", {})):
        decision = decide(request(target, **headers), TOKEN, PORT)
        assert (decision.action, decision.status, decision.reason) == ("refuse", 401, REASON_MISSING)
    decision = decide(request("/", "POST"), TOKEN, PORT)
    assert decision.action == "refuse"


def test_a_wrong_token_is_refused_as_wrong():
    for req in (
        request(f"/?token={TOKEN}x"),
        request(f"/?token={TOKEN}x", **WEBSOCKET),
        request("/", Cookie=f"{cookie_name(PORT)}={TOKEN[:-1]}"),
        request(f"/?token=&x={TOKEN}"),
    ):
        decision = decide(req, TOKEN, PORT)
        assert (decision.action, decision.status, decision.reason) == ("refuse", 403, REASON_WRONG)


def test_the_right_token_passes_and_moves_from_the_address_to_a_session_cookie():
    decision = decide(request(f"/?token={TOKEN}"), TOKEN, PORT)
    assert (decision.action, decision.status, decision.location) == ("redirect", 303, "/")
    assert decision.set_cookie == f"{cookie_name(PORT)}={TOKEN}; Path=/; HttpOnly; SameSite=Lax"
    cookie = f"other=1; {cookie_name(PORT)}={TOKEN}"
    assert decide(request("/", Cookie=cookie), TOKEN, PORT).action == "forward"
    assert decide(request("/", Cookie=cookie, **WEBSOCKET), TOKEN, PORT).action == "forward"
    assert decide(request(f"/?token={TOKEN}", **WEBSOCKET), TOKEN, PORT).action == "forward"
    # another console's cookie (another port on the same host) is not this console's token
    other = decide(request("/", Cookie=f"{cookie_name(PORT + 1)}={TOKEN}", **WEBSOCKET), TOKEN, PORT)
    assert (other.action, other.reason) == ("refuse", REASON_MISSING)


def test_the_estop_is_engaged_without_a_token_but_only_by_post():
    assert decide(request(ESTOP_PATH, "POST"), TOKEN, PORT).action == "estop"
    assert decide(request(ESTOP_PATH, "POST", Cookie=f"{cookie_name(PORT)}=wrong"), TOKEN, PORT).action == "estop"
    get = decide(request(ESTOP_PATH), TOKEN, PORT)
    assert (get.action, get.status, get.reason) == ("refuse", 405, REASON_METHOD)
    # nothing but the e-stop's own path: release and reset go through the (token-checked) websocket
    assert decide(request(ESTOP_PATH + "/release", "POST"), TOKEN, PORT).action == "refuse"
    assert decide(request(ESTOP_PATH + "?engage=false", "POST"), TOKEN, PORT).action == "estop"


def test_the_refusal_page_says_why_and_what_to_do_and_keeps_the_estop():
    for reason in (REASON_MISSING, REASON_WRONG):
        page = refusal_page(reason)
        assert reason in page and "?token=" in page and "access_token_file" in page
        assert f"<form method='post' action='{ESTOP_PATH}'>" in page


@pytest.mark.parametrize("head", [b"", b"GET /", b"GET / SPDY/3", b"GET / HTTP/1.1\r\nno colon here"])
def test_malformed_request_heads_are_refused(head):
    with pytest.raises(AccessError):
        parse_head(head)
