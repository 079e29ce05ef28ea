"""Settings shown whole (a log line, a failed test, a debugger) show the database and
broker URLs without their passwords, and no passphrase."""

from __future__ import annotations

from axis.settings import Settings

ENVIRONMENT = {
    "AXIS_DATABASE_URL": "postgresql://axis:db-m4t-khau@db.example:5432/axis",
    "AXIS_BROKER_URL": "amqp://axis:broker-m4t-khau@rabbit.example:5672/axis",
    "AXIS_BROKER_ADMIN_URL": "http://axis:admin-m4t-khau@rabbit.example:15672",
    "AXIS_KEY_PASSPHRASE": "key-m4t-khau",
    "AXIS_PKI_PASSPHRASE": "pki-m4t-khau",
}


def test_no_password_or_passphrase_is_shown():
    shown = repr(Settings.from_env(ENVIRONMENT))

    assert "m4t-khau" not in shown


def test_the_urls_are_shown_with_their_users_and_hosts():
    shown = repr(Settings.from_env(ENVIRONMENT))

    assert "database_url='postgresql://axis:***@db.example:5432/axis'" in shown
    assert "broker_url='amqp://axis:***@rabbit.example:5672/axis'" in shown


def test_a_database_url_that_does_not_parse_is_not_shown_at_all():
    shown = repr(Settings(database_url="postgresql://axis:m4t-khau@[::1/axis"))

    assert "database_url='***'" in shown
