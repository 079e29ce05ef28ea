"""The docker/ deployment: every command it runs exists in the CLI, every setting it uses
exists in ``Settings``, and the services start in an order that works.

No Docker engine runs here, so the compose file and the Dockerfile are read as data and
checked against the real click command tree and the real settings.
"""

from __future__ import annotations

import configparser
import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
import yaml

from axis.ops.bounded import TIMEOUT_SECONDS
from axis.settings import Settings
from axis.transport.rabbitmq import CONNECT_TIMEOUT_SECONDS
from cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
#: ``${NAME:?message}`` / ``${NAME:-default}`` / ``${NAME}``: compose interpolation.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def exec_form(arguments: str) -> list[str]:
    """A Dockerfile JSON-array argument list (``["axis", "health"]``)."""
    return yaml.safe_load(arguments)


def image_entrypoint() -> list[str]:
    return exec_form(next(a for i, a in dockerfile_instructions() if i == "ENTRYPOINT"))


def axis_services() -> dict[str, dict[str, Any]]:
    """The services running the axis image (built from the Dockerfile)."""
    return {name: svc for name, svc in SERVICES.items() if "build" in svc}


def argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def parse_with_cli(args: list[str]) -> click.Command:
    """Parse ``axis ARGS`` with the real click tree without running anything; return the
    command reached. Unknown commands or options, missing arguments and badly typed
    values raise ``click.UsageError`` / ``click.BadParameter``."""
    ctx = cli.make_context("axis", list(args))
    command: click.Command = cli
    remaining = list(args)
    while isinstance(command, click.Group):
        # What follows the group's own options: the subcommand and its arguments.
        _, remaining, _ = command.make_parser(ctx).parse_args(remaining)
        if not remaining:
            raise click.UsageError(f"`axis {' '.join(args)}` names a group, not a command")
        name, sub, remaining = command.resolve_command(ctx, remaining)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, list(remaining), parent=ctx)
        command = sub
    return command


def commands_run() -> list[tuple[str, list[str]]]:
    """Every ``axis`` command line the deployment runs: ``(where, args after "axis")``."""
    found = [("Dockerfile CMD", exec_form(a)) for i, a in dockerfile_instructions() if i == "CMD"]
    for i, arguments in dockerfile_instructions():
        if i == "HEALTHCHECK":
            test = exec_form(arguments.split(" CMD ", 1)[1])
            found.append(("Dockerfile HEALTHCHECK", test))
    for name, svc in axis_services().items():
        if "command" in svc:
            found.append((f"{name} command", argv(svc["command"])))
        test = svc.get("healthcheck", {}).get("test")
        if test:
            words = argv(test)
            assert words[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck {test!r}"
            words = shlex.split(words[1]) if words[0] == "CMD-SHELL" else words[1:]
            assert words[0] == "axis", f"{name}: healthcheck runs {words[0]!r}, not axis"
            found.append((f"{name} healthcheck", words[1:]))
    # Image-level commands start with the ENTRYPOINT, "axis": strip it where present.
    return [(where, a[1:] if a[:1] == ["axis"] else a) for where, a in found]


def test_the_image_runs_the_axis_cli_as_an_unprivileged_user_on_python_3_11_slim() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert image_entrypoint() == ["axis"]
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1] not in ("root", "0"), "the axis must not run as root"


def test_the_image_contains_every_package_the_distribution_declares() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    packages = {
        line.strip().split(".")[0]
        for line in setup["options.packages.find"]["include"].split()
        if line.strip()
    }
    copied = {a.split()[0] for i, a in dockerfile_instructions() if i == "COPY"}
    assert packages <= copied, f"not copied into the image: {packages - copied}"


@pytest.mark.parametrize(("where", "args"), commands_run(), ids=lambda v: str(v))
def test_every_command_the_deployment_runs_exists_in_the_cli(where: str, args: list[str]) -> None:
    try:
        parse_with_cli(args)
    except click.ClickException as error:
        pytest.fail(f"{where}: `axis {' '.join(args)}` is rejected by the CLI: {error}")


def test_the_deployment_runs_init_once_and_two_routers() -> None:
    commands = {where.split()[0]: args for where, args in commands_run() if "command" in where}
    assert commands["init"][:1] == ["init"]
    assert SERVICES["init"]["restart"] == "no"
    assert commands["router"][:1] == ["serve"]
    assert SERVICES["router"]["deploy"]["replicas"] == 2


def test_each_router_replica_is_healthy_only_if_its_own_router_beats() -> None:
    checks = {where: args for where, args in commands_run() if "HEALTHCHECK" in where}
    checks["router"] = next(args for where, args in commands_run() if where == "router healthcheck")
    for args in checks.values():
        assert args == ["health", "--this-host"]


def seconds(duration: str) -> int:
    """A Docker duration of whole minutes and seconds (``1m30s``, ``30s``) in seconds."""
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert match and duration, f"not a duration of minutes and seconds: {duration!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_a_health_check_outlasts_the_bounds_of_its_checks_so_its_line_says_what_failed() -> None:
    # The schema and routers steps wait up to TIMEOUT_SECONDS each on a locked
    # table, the broker step CONNECT_TIMEOUT_SECONDS on a broker that does not answer.
    longest = 2 * TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS
    options = next(a for i, a in dockerfile_instructions() if i == "HEALTHCHECK")
    image_timeout = re.search(r"--timeout=(\S+)", options)
    assert image_timeout is not None
    assert seconds(image_timeout.group(1)) > longest
    assert seconds(SERVICES["router"]["healthcheck"]["timeout"]) > longest


def test_routers_start_only_after_init_succeeded_and_init_after_its_services_are_healthy() -> None:
    assert SERVICES["router"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully"
    )
    for service in ("postgres", "rabbitmq"):
        assert SERVICES["init"]["depends_on"][service]["condition"] == "service_healthy"
        assert "test" in SERVICES[service]["healthcheck"]


def test_the_broker_runs_with_its_management_api() -> None:
    assert "management" in SERVICES["rabbitmq"]["image"]


def settings_fields() -> set[str]:
    return {"AXIS_" + field.name.upper() for field in dataclasses.fields(Settings)}


@pytest.mark.parametrize("service", sorted(axis_services()))
def test_every_axis_variable_of_a_service_is_a_setting(service: str) -> None:
    environment = axis_services()[service]["environment"]
    unknown = {name for name in environment if name.startswith("AXIS_")} - settings_fields()
    assert not unknown, f"{service}: no such setting: {sorted(unknown)}"


@pytest.mark.parametrize("service", sorted(axis_services()))
def test_the_axis_is_configured_only_through_axis_variables(service: str) -> None:
    environment = axis_services()[service]["environment"]
    assert all(name.startswith("AXIS_") for name in environment)
    assert "AXIS_HOME" in environment


@pytest.mark.parametrize("service", sorted(axis_services()))
def test_each_axis_service_uses_the_compose_postgres_and_rabbitmq(service: str) -> None:
    environment = axis_services()[service]["environment"]
    settings = Settings.from_env(
        {name: INTERPOLATION.sub("secret", str(value)) for name, value in environment.items()}
    )
    assert sa.make_url(settings.effective_database_url).host == "postgres"
    assert settings.uses_broker
    assert settings.broker_url.split("@", 1)[1].split(":")[0] == "rabbitmq"


def test_every_named_volume_is_declared_and_data_lives_in_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for svc in SERVICES.values():
        for volume in svc.get("volumes", []):
            source, _ = volume.split(":")[:2]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    mounted = {v.split(":")[1] for svc in SERVICES.values() for v in svc.get("volumes", [])}
    assert {"/var/lib/postgresql/data", "/var/lib/rabbitmq", "/var/lib/axis"} <= mounted


def test_passwords_come_from_the_environment_of_the_operator_not_the_file() -> None:
    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    for match in re.finditer(r"^\s*\w*(PASSWORD|_PASS)\s*:\s*(.+)$", text, re.MULTILINE):
        assert INTERPOLATION.fullmatch(match.group(2)), f"literal secret: {match.group(0)}"
    for url in re.findall(r"\w+://\w+:([^@\s]+)@", text):
        assert INTERPOLATION.fullmatch(url), f"literal password in a URL: {url}"


def documented_usage(text: str) -> list[list[str]]:
    """The ``docker compose`` commands ``text`` tells an operator to run, in order, each
    as the words after ``docker compose`` (trailing ``# comments`` dropped)."""
    return [
        shlex.split(line, comments=True)[2:]
        for line in re.findall(r"^[#\s]*(docker compose .+)$", text, re.MULTILINE)
    ]


@pytest.mark.parametrize(
    "where",
    [DOCKER / "docker-compose.yml", ROOT / "README.md"],
    ids=lambda path: path.name,
)
def test_the_documented_start_makes_the_axis_key_before_the_routers_start(where: Path) -> None:
    # `axis serve` refuses to start without the axis's signing key, which `axis init` does
    # not make: started without `pki init`, the routers would restart for ever.
    usage = documented_usage(where.read_text(encoding="utf-8"))
    first_up = next(i for i, words in enumerate(usage) if words[0] == "up")
    made_before = [words[3:] for words in usage[:first_up] if words[:3] == ["run", "--rm", "init"]]
    assert ["pki", "init"] in made_before, f"{where.name}: {usage}"
    for args in made_before:
        parse_with_cli(args)
