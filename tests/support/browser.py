"""Debian's headless Chromium on the operator console, as the tests and benches open it: software
WebGL (no GPU here) at the lowest CPU priority, because on the robot's 2-core reference machine an
operator's desk machine would not share the cores with the 500 Hz control loop."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import tempfile
import time
import urllib.request

import psutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# swiftshader: software WebGL, as on any machine without a GPU; no background traffic (no network here)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def low_priority_browser(folder: pathlib.Path) -> str:
    """A wrapper that starts Chromium in the idle scheduling class (SCHED_IDLE: it runs only when
    nothing else wants a core) at nice 19. At nice 19 alone its software WebGL still took 0.7 of
    a core and delayed the 500 Hz control loop's wake-ups (measured: the sim at 0.6x real time).
    Running as root, Chromium raises its GPU and compositor threads to nice -8 (measured), so the
    wrapper also drops CAP_SYS_NICE: then nothing of it can leave its class."""
    wrapper = pathlib.Path(folder) / "chromium-low-priority"
    setpriv = "setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice " if shutil.which("setpriv") else ""
    idle = "chrt --idle 0 " if shutil.which("chrt") else ""
    wrapper.write_text(f'#!/bin/sh\nexec {idle}{setpriv}nice -n 19 {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def demote_playwright_driver() -> None:
    """Playwright's driver (node.js, a child of this process) relays every screenshot: lowest priority too."""
    for proc in psutil.Process().children():
        try:
            if proc.name() == "node":
                proc.nice(19)
        except psutil.Error:
            pass


def wait_for_server(url: str, timeout_s: float = 180.0) -> None:
    """Until `url` answers (the console starts with its process, seconds after the launch)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer in {timeout_s:.0f} s: {exc}") from None
            time.sleep(1.0)


@contextlib.contextmanager
def console_page(url: str, viewport=(1280, 800)):
    """A low-priority headless Chromium showing `url` (once it answers); yields the Playwright page."""
    from playwright.sync_api import sync_playwright

    wait_for_server(url)
    with tempfile.TemporaryDirectory(prefix="forma-browser-") as folder, sync_playwright() as playwright:
        demote_playwright_driver()
        browser = playwright.chromium.launch(
            executable_path=low_priority_browser(pathlib.Path(folder)), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.goto(url)
            yield page
        finally:
            browser.close()
