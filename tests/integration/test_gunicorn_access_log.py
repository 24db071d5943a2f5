"""gunicorn's access log as docker-compose runs it (`jejak web SERVICE`): a real gunicorn,
real HTTP, and the log file it wrote hold no link token and no query-string secret, only
their fingerprints (issue 13, point 4). `jejak up` is checked the same way, with a browser,
in tests/e2e/test_logs_hold_no_tokens.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from services.embedded import web_argv
from shared.logs import fingerprint
from shared.tokens import seal
from tests.conftest import TEST_PII_KEY
from tests.integration.peers import free_port

SECRET = "gunicorn-log-test-secret-key"
REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
NGINX_CONF = REPO / "deploy" / "nginx.conf"


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def serve_and_log(argv: list[str], port: int, settings, tmp_path: Path,
                  paths: list[str]) -> str:
    """Run `argv` (serving on 127.0.0.1:`port`), request each path, stop it; its whole log."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(tmp_path), JEJAK_DATABASE_URL=settings.database_url,
               JEJAK_REDIS_URL=settings.redis_url, JEJAK_SECRET_KEY=SECRET,
               JEJAK_PII_KEY=TEST_PII_KEY)
    log_path = tmp_path / "web.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while get_or_none(f"{base}/survey/healthz") is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        for path in paths:
            get(base + path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    return log_path.read_text()


def get_or_none(url: str) -> int | None:
    try:
        return get(url)
    except OSError:
        return None


def visits(token: str, unsubscribe: str) -> list[str]:
    return [
        f"/survey/s/{token}",
        f"/survey/s/{token}?step=2",
        f"/survey/login?next=%2Fsurvey%2Fs%2F{token}",
        f"/outreach/u/{unsubscribe}",
        "/outreach/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me-please"
        "&hub.challenge=42",
        "/survey/healthz?token=a-query-secret-123",
    ]


def assert_masked(log: str, token: str, unsubscribe: str) -> None:
    for secret in (token, unsubscribe, "verify-me-please", "a-query-secret-123"):
        assert secret not in log, f"{secret} is in the log:\n{log}"
        assert fingerprint(secret) in log, f"no line for {secret}:\n{log}"


def test_the_access_log_of_a_service_container_holds_only_fingerprints(settings,
                                                                       tmp_path: Path) -> None:
    """The survey container's command from docker-compose.yml (`jejak web survey`); the
    outreach paths reach no app there and are logged as 404s all the same."""
    command = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["survey"]["command"]
    assert command[:2] == ["jejak", "web"], command
    token = seal(SECRET, "survey-link", 1, 1)
    unsubscribe = seal(SECRET, "unsubscribe", 1, 0)
    port = free_port()
    argv = [sys.executable, "-m", "services.cli", *command[1:], "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]
    log = serve_and_log(argv, port, settings, tmp_path, visits(token, unsubscribe))
    assert_masked(log, token, unsubscribe)


def test_the_gateway_leaves_access_logging_to_the_services() -> None:
    """nginx cannot fingerprint a token, so in compose it logs no requests at all: the
    services' gunicorns do, masked."""
    server = NGINX_CONF.read_text().split("server {", 1)[1]
    directives = [line.split("#")[0].strip() for line in server.splitlines()]
    assert "access_log off;" in directives
    assert not [line for line in directives if line.startswith("access_log ")
                and line != "access_log off;"]


def test_the_access_log_of_jejak_up_holds_only_fingerprints(settings, tmp_path: Path) -> None:
    """The gunicorn of `jejak up` (services/embedded.py web_argv), all three services."""
    token = seal(SECRET, "survey-link", 1, 1)
    unsubscribe = seal(SECRET, "unsubscribe", 1, 0)
    port = free_port()
    log = serve_and_log(web_argv("127.0.0.1", port, workers=1), port, settings, tmp_path,
                        visits(token, unsubscribe))
    assert_masked(log, token, unsubscribe)
