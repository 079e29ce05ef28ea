"""A DocumentId pasted into a command (``axis track``, ``axis status``, ``--revokes``)
from a Word document or a list, with a no-break space where the clerk sees a space,
names the document the clerk sees: composed with a plain space, as ``axis send``
composes the notation; an invisible character is still refused, named."""

from __future__ import annotations

import click
import pytest

from cli.params import DOCUMENT_ID

TYPED = "000.00.31.H53,2026/12/05,12/QĐ UBND"


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u3000"], ids=["NBSP", "NNBSP", "IDEO"])
def test_a_pasted_document_id_with_a_visible_space_is_read_with_a_plain_space(space):
    assert DOCUMENT_ID.convert(TYPED.replace(" ", space), None, None) == TYPED


def test_an_invisible_character_in_a_pasted_document_id_is_still_refused_naming_it():
    with pytest.raises(click.BadParameter, match="U\\+200B ZERO WIDTH SPACE at character 31"):
        DOCUMENT_ID.convert(TYPED.replace(" ", "\u200b"), None, None)
