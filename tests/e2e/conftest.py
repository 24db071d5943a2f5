"""A running `jejak up --demo` (real processes) and a real Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JEJAK_CHROMIUM", "/usr/bin/chromium")
# Flags from the machine notes: no sandbox as root, and no background calls to the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "e2e-secret-key-0123456789"


@dataclass
class Running:
    base_url: str
    home: Path
    admin_password: str | None
    secret_key: str = SECRET

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.home / 'jejak.db'}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_jejak(home: Path, port: int, *extra: str,
                secret_key: str | None = SECRET,
                environ: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Run `jejak up` as a user would; return the process and what it printed until ready.

    `secret_key=None` starts it with no key in the environment, as a centre does: it then
    uses the keys it keeps in `home`. `environ` adds JEJAK_ settings (provider secrets, say)
    to the ones set here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(home))
    if secret_key is not None:
        env.update(JEJAK_SECRET_KEY=secret_key)
    env.update(environ or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--port", str(port), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = ""
    deadline = time.monotonic() + 120
    while "Press Ctrl-C" not in output:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"jejak up exited early:\n{output}")
        output += line
        assert time.monotonic() < deadline, output
    return process, output


def stop_jejak(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    return rest


@pytest.fixture(scope="session")
def jejak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("jejak-up")
    port = free_port()
    process, output = start_jejak(home, port, "--demo")
    password = output.split("admin / ")[1].split()[0] if "admin / " in output else None
    try:
        yield Running(f"http://127.0.0.1:{port}", home, password)
    finally:
        stop_jejak(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def phone(browser) -> Iterator[object]:
    """A page the size of a cheap Android phone's screen."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
    )
    page = context.new_page()
    yield page
    context.close()
