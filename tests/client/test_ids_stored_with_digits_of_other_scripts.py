"""Documents the axis took in before DocumentIds with digits of other scripts were refused
(``١٢/VP``, ``１２/VP``) stay within reach: ``axis track``, and the lookup ``axis status``
and ``axis send --revokes/--updates/--replaces`` name a document by, find them from the
DocumentId a clerk types with the digits 0-9; two such documents that read alike are
named, each with the digit that tells it apart."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from axis.client.tracking import AmbiguousDocumentId, stored_document_id
from cli.main import cli
from envelopes.codes import document_id_problem
from tests.test_old_form_ids import DISTRICT, SENDER, store
from tests.test_old_form_ids import stored as stored_by_hand

__all__ = ["store"]  # the store with the two agencies, the old-form ids' tests' fixture

TYPED = f"{SENDER},2026/11/26,12/VP"
ARABIC_INDIC = f"{SENDER},2026/11/26,\u0661\u0662/VP"
FULLWIDTH = f"{SENDER},2026/11/26,\uff11\uff12/VP"


def stored(engine: sa.Engine, document_id: str) -> None:
    """The document stored as a router stored it before such DocumentIds were refused."""
    assert document_id_problem(document_id) is not None  # refused for a new document
    stored_by_hand(engine, document_id)


def run_axis(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


@pytest.mark.parametrize("old", [ARABIC_INDIC, FULLWIDTH], ids=["arabic-indic", "fullwidth"])
def test_axis_track_finds_a_document_stored_with_digits_of_another_script(
    store: sa.Engine, database_url: str, old: str
):
    stored(store, old)

    result = run_axis(database_url, "track", TYPED, "--format", "json")

    assert result.exit_code == 0, result.output
    assert [row["recipient"] for row in json.loads(result.stdout)] == [DISTRICT]


def test_the_document_named_to_the_router_is_the_one_stored_with_digits_of_another_script(
    store: sa.Engine,
):
    stored(store, ARABIC_INDIC)

    assert stored_document_id(store, TYPED) == ARABIC_INDIC


def test_two_documents_stored_with_digits_that_read_alike_are_both_named(store: sa.Engine):
    stored(store, ARABIC_INDIC)
    stored(store, FULLWIDTH)

    with pytest.raises(AmbiguousDocumentId) as refused:
        stored_document_id(store, TYPED)

    message = str(refused.value)
    assert message.startswith(f"{TYPED} names 2 documents the axis took in ")
    assert f"{ARABIC_INDIC!r} (with U+0661 ARABIC-INDIC DIGIT ONE at character 26)" in message
    assert f"{FULLWIDTH!r} (with U+FF11 FULLWIDTH DIGIT ONE at character 26)" in message
