"""Settings come from AXIS_* variables, CLI flags on top; bad values are clear errors."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from axis.errors import ConfigurationError
from axis.settings import Settings
from cli.main import cli

#: Variables a run of the CLI must not inherit from the machine it runs on.
CLEAN_ENV = {name: None for name in ("AXIS_BROKER_URL", "AXIS_DATABASE_URL", "AXIS_HOME")}


def test_defaults_are_the_embedded_setup():
    settings = Settings.from_env({})
    assert settings.home == Path("axis-data")
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("axis-data/axis.db")
    assert not settings.uses_broker
    assert settings.stop_grace_seconds == 30


def test_environment_variables_are_read_and_converted():
    settings = Settings.from_env(
        {
            "AXIS_HOME": "/srv/axis",
            "AXIS_WORKERS": "4",
            "AXIS_BROKER_URL": "amqp://x/",
            "AXIS_STOP_GRACE_SECONDS": "5.5",
        }
    )
    assert settings.home == Path("/srv/axis")
    assert settings.workers == 4
    assert settings.stop_grace_seconds == 5.5
    assert settings.uses_broker


def test_flags_override_environment_and_unset_flags_do_not():
    settings = Settings.from_env({"AXIS_WORKERS": "4"}).replace(workers=None, prefetch=7)
    assert settings.workers == 4
    assert settings.prefetch == 7


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AXIS_WORKERS", "many", "AXIS_WORKERS='many' is not a valid int"),
        ("AXIS_STOP_GRACE_SECONDS", "30s", "AXIS_STOP_GRACE_SECONDS='30s' is not a valid float"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, message: str):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable: value})

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AXIS_WORKERS", "0", "AXIS_WORKERS=0: must be at least 1"),
        ("AXIS_PREFETCH", "-3", "AXIS_PREFETCH=-3: must be at least 1"),
        ("AXIS_MAX_ENVELOPE_BYTES", "0", "AXIS_MAX_ENVELOPE_BYTES=0: must be at least 1"),
        ("AXIS_RETRY_LIMIT", "-1", "AXIS_RETRY_LIMIT=-1: must be at least 0"),
        ("AXIS_LIFETIME_SECONDS", "0", "AXIS_LIFETIME_SECONDS=0.0: must be more than 0"),
        ("AXIS_RETRY_BASE_SECONDS", "nan", "AXIS_RETRY_BASE_SECONDS=nan: must be more than 0"),
        ("AXIS_METRICS_PORT", "70000", "AXIS_METRICS_PORT=70000: must be at most 65535"),
        ("AXIS_PREFETCH", "70000", "AXIS_PREFETCH=70000: must be at most 65535"),
        ("AXIS_LIFETIME_SECONDS", "inf", "AXIS_LIFETIME_SECONDS=inf: must be at most 315360000"),
        (
            "AXIS_QUEUE_LEASE_SECONDS",
            "1e300",
            "AXIS_QUEUE_LEASE_SECONDS=1e+300: must be at most 315360000",
        ),
        ("AXIS_IDLE_AGENCY_SECONDS", "nan", "AXIS_IDLE_AGENCY_SECONDS=nan: must be at least 0"),
        ("AXIS_STOP_GRACE_SECONDS", "0.5", "AXIS_STOP_GRACE_SECONDS=0.5: must be at least 1"),
        ("AXIS_STOP_GRACE_SECONDS", "3601", "AXIS_STOP_GRACE_SECONDS=3601.0: must be at most 3600"),
    ],
)
def test_a_value_out_of_range_names_the_variable_and_the_range(
    variable: str, value: str, message: str
):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable: value})

    assert str(refused.value) == message


def test_a_misspelt_variable_is_named_with_the_setting_it_may_have_meant():
    warnings = Settings.unknown_variables(
        {
            "AXIS_BROKER": "amqp://rabbit/",
            "AXIS_DATABASE_URL": "postgresql://db/axis",
            "AXIS_COLOUR": "blue",
            "AXIS_TEST_AMQP_HOST": "127.0.0.1:5672",
            "PATH": "/usr/bin",
        }
    )
    assert warnings == [
        "AXIS_BROKER is not a setting of the axis and is ignored (did you mean AXIS_BROKER_URL?)",
        "AXIS_COLOUR is not a setting of the axis and is ignored",
    ]


def test_a_flag_given_overrides_its_variable_without_reading_it():
    environ = {"AXIS_BROKER_URL": "http://rabbit/", "AXIS_WORKERS": "many", "AXIS_PREFETCH": "9"}

    settings = Settings.from_env(environ, broker_url="amqp://rabbit/", workers=2, home=None)

    assert (settings.broker_url, settings.workers, settings.prefetch) == ("amqp://rabbit/", 2, 9)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"broker_url": "http://rabbit/"}, "--broker-url is not a valid URL: expected amqp://"),
        ({"workers": 0}, "--workers=0: must be at least 1"),
        ({"metrics_port": 70000}, "--metrics-port=70000: must be at most 65535"),
    ],
)
def test_an_unusable_flag_is_named_as_the_option_not_as_the_variable(
    flags: dict[str, object], message: str
):
    with pytest.raises(ConfigurationError) as from_flags:
        Settings.from_env({}, **flags)
    with pytest.raises(ConfigurationError) as laid_on_top:
        Settings.from_env({}).replace(**flags)

    assert str(from_flags.value).startswith(message)
    assert str(laid_on_top.value).startswith(message)


def test_axis_broker_url_given_wrong_is_named_as_the_option_the_clerk_typed(tmp_path: Path):
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "--broker-url", "rabbit:5672", "health"], env=CLEAN_ENV
    )

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(
        "Error: Invalid value for '--broker-url': it is not a valid URL"
    ), result.stderr


def test_a_broken_variable_does_not_stop_a_command_given_the_flag_that_overrides_it(
    tmp_path: Path,
):
    """The clerk typed the right URL: the wrong one left in the environment is not read."""
    assert CliRunner().invoke(cli, ["--home", str(tmp_path), "init"], env=CLEAN_ENV).exit_code == 0
    env = {**CLEAN_ENV, "AXIS_BROKER_URL": "rabbit:5672"}
    flags = ["--home", str(tmp_path), "--broker-url", "amqp://guest:guest@127.0.0.1:5672/%2F"]

    result = CliRunner().invoke(cli, [*flags, "agency", "list"], env=env)

    assert result.exit_code == 0, result.output
