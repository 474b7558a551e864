"""Console: how often the 3D view in a real browser (headless Chromium) receives robot updates
while all 82 joints move, against the refresh rate the console is configured for.

Another process streams robot_description and 500 Hz joint_states with every joint moving; the
console node runs in this process at its default 20 Hz and counts its refreshes; Chromium
counts the websocket frames it receives (scene updates only: no camera, no face node).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

STREAMER = r"""
import math, sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from forma_description.xacro_expand import expand_description
from forma_description import RobotModel
rclpy.init()
node = rclpy.create_node("bench_streamer")
urdf = expand_description()
names = [j.name for j in RobotModel.from_urdf(urdf).joints]
latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
node.create_publisher(String, "robot_description", latched).publish(String(data=urdf))
pub = node.create_publisher(JointState, "joint_states", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
msg = JointState(name=names)
start = time.monotonic()
end = start + float(sys.argv[1])
k = 0
while time.monotonic() < end:
    t = time.monotonic() - start
    msg.position = [0.3 * math.sin(2 * math.pi * 0.5 * t + i) for i in range(len(names))]
    pub.publish(msg)
    k += 1
    due = start + k / 500.0
    while time.monotonic() < due:
        time.sleep(0.0005)
rclpy.shutdown()
"""


def bench_console(seconds: float = 12.0) -> dict:
    import rclpy
    from playwright.sync_api import sync_playwright
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from forma_console.node import ConsoleNode
    from tests.bench.run_bench import figure
    from tests.support.ros import free_port

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    domain = 93
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    streamer = subprocess.Popen([sys.executable, "-c", STREAMER, str(seconds + 40)], env=env)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    port = free_port()
    rate_hz = 20.0
    node = ConsoleNode(
        context=context,
        parameter_overrides=[Parameter("port", value=port), Parameter("camera_feed_hz", value=0.0)],
    )
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    frames: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while node.robot_view is None and time.monotonic() < deadline:
            time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("websocket", lambda ws: ws.on("framereceived", lambda _payload: frames.append(time.monotonic())))
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="E-STOP", exact=True).wait_for(timeout=60_000)
            page.wait_for_timeout(5_000)  # the initial scene is through
            drawn0, t0 = node.frames_drawn, time.monotonic()
            page.wait_for_timeout(seconds * 1000)
            drawn1, t1 = node.frames_drawn, time.monotonic()
            shot = pathlib.Path(tempfile.gettempdir()) / "forma_console_bench.png"
            page.screenshot(path=str(shot))
            browser.close()
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
        streamer.kill()
        streamer.wait()
    window = [t for t in frames if t0 <= t <= t1]
    # the browser must have been fed all along: the longest silence on its websocket
    longest_gap_s = float(np.max(np.diff(window))) if len(window) > 1 else float("inf")
    sent = (drawn1 - drawn0) / (t1 - t0)
    return {
        "console_update_hz": figure(
            sent,
            "Hz",
            note=f"3D-view refreshes/s sent to a connected headless Chromium while all 82 joints move at 500 Hz "
            f"(it received {len(window) / (t1 - t0):.0f} websocket frames/s, longest silence "
            f"{longest_gap_s * 1e3:.0f} ms); configured update_rate_hz {rate_hz:g}; no same-run baseline",
        ),
    }
