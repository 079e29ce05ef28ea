"""A database password holding an '@' must be percent-encoded in the URL (%40): written
as it is, the URL's reader would end the password at the '@' and show the rest of it as
the host in every message naming the database. It is refused, without a word of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from axis.errors import ConfigurationError
from axis.settings import Settings
from cli.main import cli

REFUSAL = (
    "is not a valid URL: an '@' in its password (or its database name) must be "
    "percent-encoded as %40"
)


def test_the_variable_is_refused_naming_it_and_showing_no_part_of_the_password(tmp_path: Path):
    result = CliRunner().invoke(
        cli,
        ["init"],
        env={
            "AXIS_HOME": str(tmp_path / "home"),
            "AXIS_DATABASE_URL": "postgresql://axis:kh0a@bi.mat@127.0.0.1:5432/axis",
        },
    )

    assert result.exit_code == 1
    assert result.output == f"error: AXIS_DATABASE_URL {REFUSAL}\n"
    assert not (tmp_path / "home").exists()


def test_the_flag_is_refused_naming_it(tmp_path: Path):
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(tmp_path / "home"),
            "--database-url",
            "postgresql://axis:kh0a@bi.mat@127.0.0.1:5432/axis",
            "health",
        ],
    )

    assert result.exit_code == 1
    assert result.output == f"error: --database-url {REFUSAL}\n"


def test_the_password_percent_encoded_is_accepted_and_read_whole():
    settings = Settings.from_env(
        {"AXIS_DATABASE_URL": "postgresql://axis:kh0a%40bi.mat@127.0.0.1:5432/axis"}
    )

    url = sa.make_url(settings.effective_database_url)
    assert (url.password, url.host) == ("kh0a@bi.mat", "127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://axis@127.0.0.1/axis",
        "postgresql://axis:pw@127.0.0.1/axis?options=-csearch_path%3Daxis",
        "sqlite:////srv/axis@2024/axis.db",
    ],
)
def test_an_at_sign_that_only_ends_the_user_part_or_names_a_file_is_accepted(url: str):
    assert Settings.from_env({"AXIS_DATABASE_URL": url}).database_url == url


def test_settings_made_in_code_are_refused_the_same():
    with pytest.raises(ConfigurationError, match="must be percent-encoded as %40"):
        Settings(database_url="postgresql://axis:a@b@127.0.0.1/axis")
