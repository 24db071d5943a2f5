"""The production stack files agree with each other and with the `jejak` CLI.

docker-compose.yml is checked by docker-compose itself (`config` needs no Docker engine)
and by reading the YAML; every `jejak ...` command it (or the Dockerfile) runs must name a
real entry point of `services.cli:main`; deploy/nginx.conf must route all three prefixes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
NGINX_CONF = REPO / "deploy" / "nginx.conf"

SERVICES = ("survey", "outreach", "analytics")

# Long enough to pass the production secret check, obviously not a real secret.
TEST_SECRETS = {
    "JEJAK_SECRET_KEY": "compose-test-secret-key-not-for-use",
    "JEJAK_PII_KEY": "compose-test-pii-key-not-for-use",
}


# --- helpers -----------------------------------------------------------------------


def _compose(tmp_path: Path, *args: str, secrets: bool = True) -> subprocess.CompletedProcess[str]:
    """Run docker-compose from the repo root on an empty env file.

    The empty --env-file keeps a developer's own .env out of the result (compose would
    read it by itself); `/dev/null` is refused by compose 1.29, hence a real empty file.
    """
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed, so docker-compose.yml cannot be checked: "
            "run `apt-get install -y docker-compose` (Debian's 1.29.2 is enough)"
        )
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = {
        key: value
        for key, value in os.environ.items()
        # Ambient compose settings (another file, enabled profiles) would change the answer.
        if key not in {"COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"}
        and key not in TEST_SECRETS
    }
    if secrets:
        env.update(TEST_SECRETS)
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", "docker-compose.yml", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _services() -> dict[str, dict]:
    """The services as written (PyYAML resolves the `<<: *jejak` merge keys)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def _argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def _option(argv: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in argv."""
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _jejak_commands() -> list[tuple[str, list[str]]]:
    """Every `jejak ...` command the stack runs: compose services plus the image's CMD."""
    commands = [
        (name, _argv(service.get("command")))
        for name, service in _services().items()
        if _argv(service.get("command"))[:1] == ["jejak"]
    ]
    cmd_line = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert cmd_line, "Dockerfile has no exec-form CMD [...]"
    commands.append(("Dockerfile-CMD", json.loads(cmd_line.group(1))))
    return commands


# --- docker-compose itself ---------------------------------------------------------


def test_compose_config_is_valid(tmp_path: Path) -> None:
    result = _compose(tmp_path, "config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"

    # compose's own reading: the shared x-jejak block reached every app container.
    resolved = yaml.safe_load(result.stdout)["services"]
    for name, service in resolved.items():
        if _argv(service.get("command"))[:1] != ["jejak"]:
            continue
        environment = service["environment"]
        assert environment["JEJAK_ENV"] == "production", name
        assert environment["JEJAK_SECRET_KEY"] == TEST_SECRETS["JEJAK_SECRET_KEY"], name
        assert environment["JEJAK_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert environment["JEJAK_REDIS_URL"] == "redis://redis:6379/0", name


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = _compose(tmp_path, "config", secrets=False)
    assert result.returncode != 0
    assert "set JEJAK_SECRET_KEY in .env" in result.stderr


def test_mailpit_runs_only_with_the_dev_profile(tmp_path: Path) -> None:
    with_dev = _compose(tmp_path, "--profile", "dev", "config", "--services")
    assert with_dev.returncode == 0, with_dev.stderr
    assert "mailpit" in with_dev.stdout.split()

    profiles = _compose(tmp_path, "config", "--profiles")
    assert profiles.returncode == 0, profiles.stderr
    assert sorted(profiles.stdout.split()) == ["dev", "ops"]

    # `config --services` cannot show the other half: compose 1.29 lists every service
    # there whatever the profiles (compose v2 filters). So check what compose acts on:
    # mailpit is in "dev", Prometheus and Flower in "ops", no other service behind one.
    assert {
        name: service["profiles"] for name, service in _services().items() if "profiles" in service
    } == {"mailpit": ["dev"], "prometheus": ["ops"], "flower": ["ops"]}


# --- the stack as written ----------------------------------------------------------


def test_exactly_one_beat() -> None:
    beats = [
        name
        for name, service in _services().items()
        if _argv(service.get("command"))[:2] == ["jejak", "beat"]
    ]
    assert len(beats) == 1, f"services running `jejak beat`: {beats}"
    beat = _services()[beats[0]]
    # A second beat would run every scheduled task twice.
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


def test_a_relay_sends_the_outbox() -> None:
    # The web services only write outbox rows; without a relay, events would wait for
    # beat's sweep (seconds instead of a tenth of a second).
    relays = [name for name, service in _services().items()
              if _argv(service.get("command")) == ["jejak", "relay"]]
    assert relays == ["relay"]
    assert _services()["relay"]["restart"] == "unless-stopped"


def test_one_worker_per_queue() -> None:
    queues: Counter[str] = Counter()
    for name, service in _services().items():
        argv = _argv(service.get("command"))
        if argv[:2] != ["jejak", "worker"]:
            continue
        value = _option(argv, "--queues")
        assert value, f"{name}: `{shlex.join(argv)}` names no --queues"
        queues.update(value.split(","))
    assert queues == Counter(SERVICES)


def test_web_services_wait_for_schema_and_broker() -> None:
    services = _services()
    migrate = services["migrate"]
    assert _argv(migrate["command"]) == ["jejak", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICES:
        service = services[name]
        assert _argv(service["command"]) == ["jejak", "web", name]
        assert f"http://127.0.0.1:8000/{name}/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"


def test_gateway_publishes_8000_and_mounts_nginx_conf() -> None:
    gateway = _services()["gateway"]
    published = set()
    for port in gateway["ports"]:
        if isinstance(port, dict):
            published.add((str(port["published"]), str(port["target"])))
        else:
            *_, host, container = str(port).split(":")
            published.add((host, container.split("/")[0]))
    assert ("8000", "8000") in published
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in gateway["volumes"]


def test_redis_keeps_queued_tasks() -> None:
    command = " ".join(_argv(_services()["redis"]["command"]))
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_nginx_routes_every_prefix() -> None:
    conf = NGINX_CONF.read_text()
    for name in SERVICES:
        assert re.search(rf"location\s+/{name}/\s*\{{", conf), f"no `location /{name}/`"
        assert f"{name}:8000" in conf, f"/{name}/ is not proxied to {name}:8000"
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Prefix"):
        assert re.search(rf"proxy_set_header\s+{header}\s", conf), f"{header} is not passed"
    assert re.search(r"location\s+=\s+/\s*\{\s*return 30[12] /analytics/;", conf)
    assert re.search(r"client_max_body_size\s+20m;", conf)


# --- every `jejak ...` command is a real entry point --------------------------------


@pytest.mark.parametrize(
    ("where", "argv"), _jejak_commands(), ids=[where for where, _ in _jejak_commands()]
)
def test_jejak_command_is_a_real_entry_point(where: str, argv: list[str]) -> None:
    from services.cli import main  # the `jejak` console script (pyproject.toml)

    assert isinstance(main, click.Group)
    shown = shlex.join(argv)

    # Walk the groups the way click does (`jejak db upgrade` -> db -> upgrade).
    group_ctx = click.Context(main, info_name="jejak")
    command: click.Command = main
    path = ["jejak"]
    rest = argv[1:]
    while isinstance(command, click.Group):
        if not rest or rest[0].startswith("-"):
            pytest.fail(f"{where}: `{shown}` names no subcommand of `{' '.join(path)}`")
        try:
            name, sub, rest = command.resolve_command(group_ctx, rest)
        except click.UsageError as exc:
            pytest.fail(f"{where}: `{shown}`: {exc.format_message()}")
        assert name is not None and sub is not None, f"{where}: `{shown}` does not resolve"
        path.append(name)
        command = sub
        if isinstance(command, click.Group):
            group_ctx = click.Context(command, info_name=name, parent=group_ctx)

    # Parse the leaf's arguments and options as click would, without running it.
    try:
        with command.make_context(path[-1], list(rest), parent=group_ctx):
            pass
    except click.ClickException as exc:
        pytest.fail(f"{where}: `{shown}` is rejected: {exc.format_message()}")

    # And the help printed for that command line is the leaf's own.
    result = CliRunner().invoke(main, [*argv[1:], "--help"], prog_name="jejak")
    assert result.exit_code == 0, f"{where}: `{shown} --help`\n{result.output}"
    assert f"Usage: {' '.join(path)} " in result.output, result.output


# --- the ops profile: Prometheus and Flower (docs/operations.md, "Metrics") -------------


def test_the_ops_profile_adds_prometheus_and_flower_unpublished(tmp_path: Path) -> None:
    # Only with the profile (compose 1.29's `config --services` lists them all anyway).
    assert {name for name, service in _services().items()
            if service.get("profiles") == ["ops"]} == {"prometheus", "flower"}

    with_ops = _compose(tmp_path, "--profile", "ops", "config")
    assert with_ops.returncode == 0, f"docker-compose config failed:\n{with_ops.stderr}"
    resolved = yaml.safe_load(with_ops.stdout)["services"]
    for name in ("prometheus", "flower"):
        # Reached only on the stack's own network: nothing published on the host.
        assert "ports" not in resolved[name], name
    # Flower refuses to start without a password, and asks for it on every request.
    flower = " ".join(_argv(resolved["flower"]["command"]))
    assert "--basic-auth=" in flower and "FLOWER_PASSWORD" in flower
    # (`config` writes the shell's `$` escaped as `$$`, as in the file.)
    assert re.search(r'test -n "\$\$?FLOWER_PASSWORD" \|\| .*exit 1', flower)
    volumes = " ".join(str(v) for v in resolved["prometheus"]["volumes"])
    assert "deploy/prometheus.yml" in volumes
    # Every worker serves its metrics on 9100 (jejak up leaves it off).
    for name in ("worker-survey", "worker-outreach", "worker-analytics"):
        assert resolved[name]["environment"]["JEJAK_WORKER_METRICS_PORT"] == "9100", name


def test_prometheus_scrapes_every_service_with_a_token_and_every_worker() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in SERVICES:
        job = jobs[service]
        assert job["metrics_path"] == f"/{service}/metrics"
        assert job["static_configs"][0]["targets"] == [f"{service}:8000"]
        assert job["authorization"]["credentials_file"]  # a viewer token: docs/security.md
    workers = jobs["workers"]["dns_sd_configs"][0]
    assert set(workers["names"]) == {f"worker-{service}" for service in SERVICES}
    assert workers["port"] == 9100
