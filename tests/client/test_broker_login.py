"""An agency's client stamps its code as the AMQP ``user_id`` only when it logs in as its
own broker user, however the URL spells that user."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.client.agency import _broker_user_id, broker_login
from axis.settings import Settings

CODE = "000.00.31.H53"


@pytest.mark.parametrize(
    ("url", "stamped"),
    [
        (f"amqp://{CODE}:secret@127.0.0.1/axis", CODE),
        # Percent-encoded, as some URL builders write every dot: the same user.
        ("amqp://000%2E00%2E31%2EH53:secret@127.0.0.1/axis", CODE),
        ("amqp://000.00.32.H53:secret@127.0.0.1/axis", None),
        ("amqp://axis:secret@127.0.0.1/axis", None),
        ("amqp://127.0.0.1/axis", None),
    ],
)
def test_the_user_id_is_the_agencys_code_only_on_its_own_login(
    tmp_path: Path, url: str, stamped: str | None
) -> None:
    assert _broker_user_id(Settings(home=tmp_path, broker_url=url), CODE) == stamped


def test_no_broker_url_has_no_login(tmp_path: Path) -> None:
    assert broker_login(Settings(home=tmp_path)) is None
