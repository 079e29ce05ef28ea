"""A trust store file linked from elsewhere (``/etc/ssl/certs``) whose target is gone:
the routers cannot read it, whatever their account, and refuse to start. The trust
commands say so, not that another account could read it, and ``axis trust remove``
takes the link out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Axis = Callable[..., Result]


def dangling(home: Path, tmp_path: Path) -> Path:
    """``trust/national.pem``, a link to a file that is no longer there."""
    link = home / "trust" / "national.pem"
    link.symlink_to(tmp_path / "gone" / "national.pem")
    return link


def test_the_trust_store_is_refused_naming_the_link_and_how_to_remove_it(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    link = dangling(tmp_path / "home", tmp_path)

    listed = initialised("trust", "list")

    assert listed.exit_code == 1
    assert listed.output == (
        f"error: {link}: a link to {tmp_path / 'gone' / 'national.pem'}, which does not "
        "exist; the routers and clerk commands refuse the trust store while it is there: "
        "replace it with the CA certificate in PEM, or remove it with "
        "`axis trust remove national.pem`\n"
    )


def test_the_link_is_removed_and_the_link_alone(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    link = dangling(tmp_path / "home", tmp_path)

    removed = initialised("trust", "remove", "national.pem")

    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith(
        f"removed {link}, which could not be read as a CA certificate: {link}: a link to "
    )
    assert not link.is_symlink()
    assert initialised("trust", "list", "--format", "csv").exit_code == 0
