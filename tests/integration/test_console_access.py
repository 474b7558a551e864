"""The console's access token over real sockets and real DDS: the console node in this process,
bound to this machine's non-loopback address, with a probe serving hardware/estop and
hardware/reset. Without the token (or with a wrong one) the page and the websocket are refused
with the reason and no control reaches the robot; with it the console's buttons act; the e-stop
is engaged without any token; bound to localhost the console needs no token, as before."""

from __future__ import annotations

import http.client
import pathlib
import socket
import threading
import time

import msgspec
import psutil
import pytest
import rclpy
import viser
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from viser._messages import GuiUpdateMessage, ViewerCameraMessage
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from forma_console.access import REASON_MISSING, REASON_WRONG, cookie_name
from forma_console.node import ConsoleError, ConsoleNode
from forma_interfaces.srv import EStop
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, demote_playwright_driver, low_priority_browser
from tests.support.ros import RosProbe, free_port

pytestmark = pytest.mark.integration
TOKEN = "test-token-0123456789abcdef"


def wide_address() -> str:
    """An IPv4 address of this machine other than loopback (the console bound there is reachable
    from the network); 0.0.0.0 where there is none (every interface: still not loopback)."""
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family.name == "AF_INET" and not a.address.startswith("127."):
                return a.address
    return "0.0.0.0"


class Console:
    """A ConsoleNode spun in a background thread in its own context."""

    def __init__(self, domain_id: int, **parameters):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        overrides = [Parameter(k, value=v) for k, v in parameters.items()]
        try:
            self.node = ConsoleNode(context=self.context, parameter_overrides=overrides)
        except Exception:
            rclpy.shutdown(context=self.context)
            raise
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


class Robot:
    """The probe as the robot's side: records hardware/estop and hardware/reset requests, and what
    the console publishes on safety/estop and interaction/utterance."""

    def __init__(self, probe: RosProbe):
        self.estop_requests: list[bool] = []
        self.resets = 0

        def on_estop(request, response):
            self.estop_requests.append(request.engage)
            response.success = True
            return response

        def on_reset(_request, response):
            self.resets += 1
            response.success = True
            return response

        node = probe.node
        self.services = [
            probe.on_executor(node.create_service, EStop, "hardware/estop", on_estop),
            probe.on_executor(node.create_service, Trigger, "hardware/reset", on_reset),
        ]
        self.safety_estop = probe.collect(Bool, "safety/estop")
        self.utterances = probe.collect(String, "interaction/utterance")

    def commanded(self) -> list:
        """Everything but e-stop engagements: what a refused client must never cause."""
        return [*(e for e in self.estop_requests if not e), *([1] * self.resets), *self.utterances]


def open_viewer(url: str, **headers: str):
    """A websocket client speaking viser's protocol (as the browser page does), counted as a
    viewer once it reports its camera."""
    connection = connect(
        url, subprotocols=[f"viser-v{viser.__version__}"], max_size=None, additional_headers=headers, open_timeout=10
    )
    camera = ViewerCameraMessage(
        wxyz=(1.0, 0.0, 0.0, 0.0),
        position=(2.0, 0.0, 1.0),
        fov=1.0,
        near=0.01,
        far=100.0,
        image_height=600,
        image_width=800,
        look_at=(0.0, 0.0, 0.9),
        up_direction=(0.0, 0.0, 1.0),
    )
    connection.send(msgspec.msgpack.encode(camera.as_serializable_dict()))
    return connection


def click(connection, button) -> None:
    """What the browser sends when the operator clicks a button."""
    message = GuiUpdateMessage(button._impl.uuid, {"value": True})
    connection.send(msgspec.msgpack.encode(message.as_serializable_dict()))


def refused_websocket(url: str, **headers: str) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as refused:
        open_viewer(url, **headers).close()
    return refused.value.response.status_code, refused.value.response.body.decode()


def fetch(host: str, port: int, method: str, path: str, **headers: str) -> tuple[int, dict, str]:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=b"go=1" if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_console_bound_wide_needs_the_token_for_every_control_but_the_estop(domain_id, tmp_path):
    host, port = wide_address(), free_port()
    token_file = tmp_path / "console_token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    with RosProbe(domain_id, name="console_access_probe") as probe:
        robot = Robot(probe)
        console = Console(domain_id, host=host, port=port, access_token_file=str(token_file), camera_feed_hz=0.0)
        node, url = console.node, f"ws://{host}:{port}"
        try:
            assert node.gate is not None and node.server.get_host() == "127.0.0.1", "viser only behind the gate"
            probe.wait_for(lambda: node.estop_client.service_is_ready(), 30, "hardware/estop discovered")
            probe.wait_for(lambda: node.reset_client.service_is_ready(), 30, "hardware/reset discovered")

            # no token: the websocket (every control and the view) and the page are refused with the reason
            assert refused_websocket(url) == (401, REASON_MISSING)
            status, _, page = fetch(host, port, "GET", "/")
            assert status == 401 and REASON_MISSING in page and "access_token_file" in page
            assert "<form method='post' action='/estop'>" in page, "the refusal page keeps an e-stop"
            assert fetch(host, port, "GET", "/index.html")[0] == 401, "the page's files too"
            # a wrong token, in the websocket's address or in the cookie, is refused as wrong
            assert refused_websocket(f"{url}/?token=not-the-{TOKEN}") == (403, REASON_WRONG)
            assert refused_websocket(url, Cookie=f"{cookie_name(port)}={TOKEN[:-1]}x") == (403, REASON_WRONG)
            status, _, page = fetch(host, port, "GET", f"/?token={TOKEN}x")
            assert status == 403 and REASON_WRONG in page
            # the right token in another console's cookie (another port on this host) is no token here
            assert refused_websocket(url, Cookie=f"{cookie_name(port + 1)}={TOKEN}")[0] == 401
            assert fetch(host, port, "GET", "/estop")[0] == 405, "opening an address never engages the e-stop"
            time.sleep(0.5)
            assert robot.commanded() == [] and robot.estop_requests == [], "a refused client changed nothing"
            assert not node.server.get_clients(), "no refused client reached viser"
            assert node.gate.refused == 8

            # the e-stop is engaged without any token: safety/estop and hardware/estop
            status, _, page = fetch(host, port, "POST", "/estop", Content_Type="application/x-www-form-urlencoded")
            assert status == 200 and "e-stop sent" in page
            probe.wait_for(lambda: robot.estop_requests == [True], 10, "hardware/estop engage")
            probe.wait_for(lambda: [m.data for m in robot.safety_estop] == [True], 10, "safety/estop true")
            assert robot.commanded() == []

            # the right token in the address: a cookie for this session, the address without it
            status, headers, _ = fetch(host, port, "GET", f"/?token={TOKEN}")
            assert status == 303 and headers["Location"] == "/"
            cookie = headers["Set-Cookie"]
            assert cookie.startswith(f"{cookie_name(port)}={TOKEN};") and "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie and "Max-Age" not in cookie and "Expires" not in cookie
            status, _, page = fetch(host, port, "GET", "/", Cookie=cookie.split(";")[0])
            assert status == 200 and "<html" in page.lower(), "viser's page, through the gate"
            # one request per connection: a second one behind an authorised request is never answered
            with socket.create_connection((host, port), timeout=10) as raw:
                first = f"GET /index.html HTTP/1.1\r\nHost: x\r\nCookie: {cookie.split(';')[0]}\r\n\r\n"
                raw.sendall((first + "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n").encode())
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 200")

            # with the token (the cookie, as the page sends it) the controls act: release, then reset
            with open_viewer(url, Cookie=f"{cookie_name(port)}={TOKEN}") as viewer:
                probe.wait_for(lambda: len(node.server.get_clients()) == 1, 10, "the viewer connected")
                click(viewer, node.buttons["release"])
                probe.wait_for(lambda: robot.estop_requests == [True, False], 10, "hardware/estop release")
                click(viewer, node.buttons["reset"])
                probe.wait_for(lambda: robot.resets == 1, 10, "hardware/reset")
                click(viewer, node.buttons["estop"])  # the page's own e-stop button, too
                probe.wait_for(lambda: robot.estop_requests == [True, False, True], 10, "hardware/estop engage")
            # the token in the websocket's address (tools) works as well
            with open_viewer(f"{url}/?token={TOKEN}") as viewer:
                probe.wait_for(lambda: len(node.server.get_clients()) == 1, 10, "the viewer connected")
                click(viewer, node.buttons["reset"])
                probe.wait_for(lambda: robot.resets == 2, 10, "hardware/reset")
        finally:
            console.close()


def test_console_on_localhost_needs_no_token(domain_id):
    port = free_port()
    with RosProbe(domain_id, name="console_local_probe") as probe:
        robot = Robot(probe)
        console = Console(domain_id, port=port, camera_feed_hz=0.0)  # host: the default, 127.0.0.1
        node = console.node
        try:
            assert node.gate is None
            probe.wait_for(lambda: node.reset_client.service_is_ready(), 30, "hardware/reset discovered")
            with open_viewer(f"ws://127.0.0.1:{port}") as viewer:
                probe.wait_for(lambda: len(node.server.get_clients()) == 1, 10, "the viewer connected")
                click(viewer, node.buttons["reset"])
                probe.wait_for(lambda: robot.resets == 1, 10, "hardware/reset")
                click(viewer, node.buttons["estop"])
                probe.wait_for(lambda: robot.estop_requests == [True], 10, "hardware/estop engage")
        finally:
            console.close()


def test_console_bound_wide_refuses_to_start_without_a_usable_token(domain_id, tmp_path):
    host = wide_address()
    with pytest.raises(ConsoleError, match=f"host {host} is reachable from the network.*access_token_file"):
        Console(domain_id, host=host, port=free_port())
    weak = tmp_path / "weak"
    weak.write_text("1234\n")
    with pytest.raises(ConsoleError, match="access token in .*weak is not usable \\(4 characters\\)"):
        Console(domain_id, host=host, port=free_port(), access_token_file=str(weak))
    # a missing token file is created with a new token, readable by its owner only
    created = tmp_path / "keys" / "console_token"
    console = Console(domain_id, host=host, port=free_port(), access_token_file=str(created), camera_feed_hz=0.0)
    try:
        assert created.stat().st_mode & 0o777 == 0o600 and len(created.read_text().strip()) >= 32
    finally:
        console.close()


@pytest.mark.skipif(not pathlib.Path(CHROMIUM).exists(), reason="Debian's chromium is installed by tools/bootstrap.sh")
def test_a_browser_gets_the_token_from_the_address_once(domain_id, tmp_path):
    """Chromium as the operator's: without the token the refusal page and its e-stop; with
    `?token=` once, the console itself, whose websocket carries the token (the cookie)."""
    from playwright.sync_api import sync_playwright

    host, port = wide_address(), free_port()
    token_file = tmp_path / "console_token"
    token_file.write_text(TOKEN)
    with RosProbe(domain_id, name="console_browser_probe") as probe:
        robot = Robot(probe)
        console = Console(domain_id, host=host, port=port, access_token_file=str(token_file), camera_feed_hz=0.0)
        node = console.node
        try:
            probe.wait_for(lambda: node.estop_client.service_is_ready(), 30, "hardware/estop discovered")
            with sync_playwright() as playwright:
                demote_playwright_driver()
                browser = playwright.chromium.launch(executable_path=low_priority_browser(tmp_path), args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"http://{host}:{port}/")
                assert REASON_MISSING in page.content()
                page.get_by_role("button", name="E-STOP").click()
                probe.wait_for(lambda: robot.estop_requests == [True], 30, "e-stop engage from the refusal page")
                assert not node.server.get_clients() and robot.commanded() == []

                page.goto(f"http://{host}:{port}/?token={TOKEN}")
                assert page.url == f"http://{host}:{port}/", "the token leaves the address bar"
                release = page.get_by_role("button", name="Release e-stop", exact=True)
                release.wait_for(timeout=120_000)
                probe.wait_for(lambda: len(node.server.get_clients()) == 1, 30, "the page's websocket connected")
                release.click()
                probe.wait_for(lambda: robot.estop_requests == [True, False], 30, "hardware/estop release")
                browser.close()
        finally:
            console.close()
