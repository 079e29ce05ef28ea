"""A database URL may carry its password as a parameter of its query string, as libpq
reads it (``?password=...``, ``?sslpassword=...`` for the client key): settings shown
whole show it as ``***`` too, the rest of the URL as written."""

from __future__ import annotations

from axis.settings import Settings, hide_password

URL = "postgresql://db.example/axis?user=axis&password=db-m4t-khau&sslpassword=key-m4t-khau"


def test_a_password_in_the_query_string_is_not_shown():
    shown = repr(Settings.from_env({"AXIS_DATABASE_URL": URL}))

    assert "m4t-khau" not in shown
    assert (
        "database_url='postgresql://db.example/axis?user=axis&password=***&sslpassword=***'"
        in shown
    )


def test_the_password_file_and_other_parameters_are_shown_as_written():
    url = "postgresql://axis:m4t-khau@db.example/axis?passfile=%2Fetc%2Faxis%2Fpgpass&application_name=axis"

    assert hide_password(url) == (
        "postgresql://axis:***@db.example/axis?passfile=%2Fetc%2Faxis%2Fpgpass&application_name=axis"
    )
