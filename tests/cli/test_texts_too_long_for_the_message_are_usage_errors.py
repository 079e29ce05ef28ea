"""A status's `--description` over the 2,000 characters edXML lets it carry, and a
`--type` over the 500 characters of a line a clerk reads (as `--subject`), are usage
errors naming the option and the length, before a key is opened or a passphrase asked
for: not a schema path after the key was unlocked."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from axis.client.compose import CompositionError, DocumentRequest, compose_document
from cli.main import cli

DOCUMENT_ID = "000.00.31.H53,2026/11/26,12/UBND-VP"


def _run(home: Path, *args: str) -> Result:
    # No key is given: the value is refused before the command would ask for one.
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def test_a_status_description_over_2000_characters_is_refused_with_its_length(tmp_path: Path):
    result = _run(
        tmp_path, "status", "--as", "000.00.00.H53", DOCUMENT_ID, "03", "--description", "ệ" * 2001
    )

    assert result.exit_code == 2
    assert (
        "Invalid value for '--description': it is 2,001 characters long; a status carries "
        "at most 2,000: shorten it." in result.output
    )


def test_a_status_description_of_2000_characters_goes_on_to_the_key(tmp_path: Path):
    result = _run(
        tmp_path, "status", "--as", "000.00.00.H53", DOCUMENT_ID, "03", "--description", "ệ" * 2000
    )

    assert "--description" not in result.output
    assert "--p12" in result.output  # past the description, the key it was not given


def test_a_type_name_over_500_characters_is_refused_before_a_key_is_asked_for(tmp_path: Path):
    result = _run(
        tmp_path,
        "send",
        *("--as", "000.00.31.H53", "--to", "000.00.00.H53", "--subject", "Báo cáo"),
        *("--type", "Công văn " + "x" * 492),
    )

    assert result.exit_code == 2
    assert "the type name has 501 characters; at most 500" in result.output


def test_compose_document_refuses_a_type_name_over_500_characters():
    request = DocumentRequest(
        sender="000.00.31.H53",
        recipients=["000.00.00.H53"],
        subject="Báo cáo",
        type_name="x" * 501,
    )

    with pytest.raises(CompositionError, match="the type name has 501 characters; at most 500"):
        compose_document(request, today=datetime.date(2026, 11, 26))
