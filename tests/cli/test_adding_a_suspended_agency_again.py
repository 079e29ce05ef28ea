"""Adding again an agency that is registered but suspended says it is suspended and how
to make it active again: "already registered" alone sends the administrator looking."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"


def test_adding_a_suspended_agency_points_to_resume(initialised: Axis):
    assert initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh").exit_code == 0
    assert initialised("agency", "suspend", PROVINCE).exit_code == 0

    again = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh")
    resumed = initialised("agency", "resume", PROVINCE)

    assert again.exit_code == 1
    assert again.output == (
        f"error: agency {PROVINCE} is already registered (UBND tỉnh) and suspended: to let "
        f"it send and receive again, run `axis agency resume {PROVINCE}`\n"
    )
    assert resumed.exit_code == 0 and resumed.output == f"resumed {PROVINCE}\n"


def test_adding_an_active_agency_again_says_only_that_it_is_registered(initialised: Axis):
    assert initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh").exit_code == 0

    again = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh")

    assert again.exit_code == 1
    assert again.output == f"error: agency {PROVINCE} is already registered (UBND tỉnh)\n"
