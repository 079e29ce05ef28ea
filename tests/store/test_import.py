"""Bulk import of agencies from CSV: one transaction, a reason for every refused row."""

from __future__ import annotations

import datetime
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509

from axis import audit
from axis.errors import AgencyError, FileProblem, StoreError
from axis.store.db import utcnow
from axis.store.registry import Registry
from axis.store.schema import agencies, audit_log
from envelopes.verifying import fingerprint
from tests.helpers.axis_home import wait_for


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count_agencies(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(agencies)).scalar_one()


def test_rows_are_added_parents_before_children_whatever_their_order(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(
        tmp_path / "tree.csv",
        "code,name",
        "000.21.31.H53,UBND xã Thành Long",
        "000.00.31.H53,UBND huyện Châu Thành",
        "000.00.00.H53,UBND tỉnh Tây Ninh",
    )

    summary = registry.import_csv(csv_file)

    assert summary.written and summary.refused == []
    assert sorted(summary.added) == ["000.00.00.H53", "000.00.31.H53", "000.21.31.H53"]
    assert registry.get_agency("000.21.31.H53").parent_code == "000.00.31.H53"


def test_bad_rows_are_refused_one_reason_each_and_the_rest_is_written(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(
        tmp_path / "mixed.csv",
        "code,name",
        "000.00.00.H53,UBND tỉnh Tây Ninh",
        "28.22.H17,Malformed code",
        "000.00.31.H53,",
        "000.00.00.H53,Duplicate row",
        "000.21.45.H53,Commune of a district nobody registered",
        "000.00.32.H53,UBND huyện Dương Minh Châu",
    )

    summary = registry.import_csv(csv_file)

    assert summary.added == ["000.00.00.H53", "000.00.32.H53"]
    reasons = {row.line: row.reason for row in summary.refused}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "invalid agency code '28.22.H17'" in reasons[3]
    assert "name is empty" in reasons[4]
    assert "already appears on line 2" in reasons[5]
    assert "parent agency 000.00.45.H53 is not registered" in reasons[6]
    assert count_agencies(registry) == 2


def test_children_of_a_refused_row_are_refused_naming_that_row(registry: Registry, tmp_path: Path):
    csv_file = write_csv(
        tmp_path / "cascade.csv",
        "code,name",
        "000.00.00.H53,",
        "000.00.31.H53,UBND huyện Châu Thành",
    )

    summary = registry.import_csv(csv_file)

    assert summary.added == []
    assert "its own row, line 2, was refused" in summary.refused[1].reason


def test_strict_import_writes_nothing_when_a_row_is_refused(registry: Registry, tmp_path: Path):
    csv_file = write_csv(
        tmp_path / "strict.csv", "code,name", "000.00.00.H53,UBND tỉnh Tây Ninh", "28.22.H17,Bad"
    )

    summary = registry.import_csv(csv_file, strict=True)

    assert not summary.written and len(summary.refused) == 1
    assert count_agencies(registry) == 0


def test_orphans_are_accepted_with_the_flag_and_listed(registry: Registry, tmp_path: Path):
    csv_file = write_csv(
        tmp_path / "orphans.csv",
        "code,name",
        "000.00.31.H53,UBND huyện Châu Thành",
        "000.21.31.H53,UBND xã Thành Long",
    )

    summary = registry.import_csv(csv_file, accept_orphans=True)

    assert summary.orphans == ["000.00.31.H53"]
    assert sorted(summary.added) == ["000.00.31.H53", "000.21.31.H53"]


def test_reimporting_renames_changed_agencies_and_leaves_the_rest(
    registry: Registry, tmp_path: Path
):
    lines = ["code,name", "000.00.00.H53,UBND tỉnh Tây Ninh", "000.00.31.H53,UBND huyện cũ"]
    registry.import_csv(write_csv(tmp_path / "first.csv", *lines))
    lines[2] = "000.00.31.H53,UBND huyện Châu Thành"

    summary = registry.import_csv(write_csv(tmp_path / "second.csv", *lines))

    assert (summary.added, summary.updated) == ([], ["000.00.31.H53"])
    assert summary.unchanged == ["000.00.00.H53"]
    assert registry.get_agency("000.00.31.H53").name == "UBND huyện Châu Thành"


def test_certificates_named_in_the_file_are_pinned(
    registry: Registry, tmp_path: Path, make_certificate
):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "h53.pem").write_bytes(make_certificate())
    expired = make_certificate(valid_from=utcnow() - datetime.timedelta(days=9), valid_days=1)
    (tmp_path / "certs" / "old.pem").write_bytes(expired)
    csv_file = write_csv(
        tmp_path / "certs.csv",
        "code,name,cert_path",
        "000.00.00.H53,UBND tỉnh Tây Ninh,certs/h53.pem",
        "000.00.31.H53,UBND huyện Châu Thành,certs/old.pem",
        "000.00.32.H53,UBND huyện Dương Minh Châu,certs/missing.pem",
    )

    summary = registry.import_csv(csv_file)

    assert summary.added == ["000.00.00.H53"] and summary.certificates_added == 1
    assert len(registry.active_fingerprints("000.00.00.H53")) == 1
    reasons = [row.reason for row in summary.refused]
    assert "expired on" in reasons[0]
    assert "missing.pem: no such file" in reasons[1]


def test_a_file_without_the_code_and_name_columns_is_refused_whole(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(tmp_path / "bad.csv", "ma,ten", "000.00.00.H53,UBND tỉnh Tây Ninh")

    with pytest.raises(AgencyError, match=r"missing column\(s\) code, name"):
        registry.import_csv(csv_file)


def test_the_import_as_a_whole_is_audited_once_with_its_counts(registry: Registry, tmp_path: Path):
    csv_file = write_csv(tmp_path / "a.csv", "code,name", "000.00.00.H53,UBND tỉnh Tây Ninh")

    registry.import_csv(csv_file, actor="operator")

    with registry.engine.connect() as conn:
        entry = conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "agency.import")
        ).one()
    assert (entry.actor, entry.action, entry.target) == ("operator", "agency.import", "a.csv")
    assert entry.details["added"] == 1


def test_each_agency_an_import_adds_renames_or_pins_a_certificate_to_is_audited(
    registry: Registry, tmp_path: Path, make_certificate
):
    pem = make_certificate()
    (tmp_path / "h53.pem").write_bytes(pem)
    first = write_csv(
        tmp_path / "first.csv",
        "code,name",
        "000.00.00.H53,UBND tỉnh Tây Ninh",
        "000.00.31.H53,UBND huyện cũ",
    )
    second = write_csv(
        tmp_path / "second.csv",
        "code,name,cert_path",
        "000.00.00.H53,UBND tỉnh Tây Ninh,h53.pem",
        "000.00.31.H53,UBND huyện Châu Thành,",
    )

    registry.import_csv(first, actor="operator")
    registry.import_csv(second, actor="clerk")

    with registry.engine.connect() as conn:
        province, district = (
            [(e.actor, e.action, e.details) for e in audit.history(conn, code)]
            for code in ("000.00.00.H53", "000.00.31.H53")
        )
    assert province == [
        ("operator", "agency.add", {"name": "UBND tỉnh Tây Ninh", "file": "first.csv"}),
        (
            "clerk",
            "certificate.add",
            {"fingerprint": fingerprint(x509.load_pem_x509_certificate(pem)), "file": "second.csv"},
        ),
    ]
    assert district == [
        ("operator", "agency.add", {"name": "UBND huyện cũ", "file": "first.csv"}),
        (
            "clerk",
            "agency.rename",
            {"old_name": "UBND huyện cũ", "name": "UBND huyện Châu Thành", "file": "second.csv"},
        ),
    ]


def _refuse_code_in_database(registry: Registry, code: str) -> None:
    """A trigger that makes the database itself fail on ``code`` (a real database error)."""
    with registry.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON agencies "
                f"WHEN NEW.code = '{code}' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.code = '{code}' THEN RAISE EXCEPTION 'disk on fire'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON agencies "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def test_a_database_failure_midway_leaves_nothing_written(registry: Registry, tmp_path: Path):
    lines = ["code,name", "000.00.00.H53,UBND tỉnh Tây Ninh"]
    lines += [f"000.00.{d:02d}.H53,UBND huyện {d}" for d in range(1, 100)]
    lines += [f"000.{c:02d}.{d:02d}.H53,UBND xã {c}" for d in range(1, 31) for c in range(1, 99)]
    _refuse_code_in_database(registry, "000.50.20.H53")  # well past the first batches

    progress: list[int] = []
    with pytest.raises(StoreError, match=r"nothing was written.*disk on fire"):
        registry.import_csv(
            write_csv(tmp_path / "big.csv", *lines), progress=lambda done, _: progress.append(done)
        )

    assert progress, "some batches were sent before the failure"
    assert count_agencies(registry) == 0
    with registry.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 0


def test_a_file_with_broken_quoting_is_refused_whole_naming_the_line(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(
        tmp_path / "quotes.csv",
        "code,name",
        "000.00.00.H53,UBND tỉnh Tây Ninh",
        '000.00.31.H53,"UBND huyện Châu Thành',
    )

    with pytest.raises(AgencyError, match=r"quotes\.csv, line 3: .*unexpected end of data"):
        registry.import_csv(csv_file)
    assert count_agencies(registry) == 0


def test_a_name_with_control_characters_is_refused(registry: Registry, tmp_path: Path):
    csv_file = write_csv(
        tmp_path / "control.csv", "code,name", '000.00.00.H53,"UBND tỉnh\x00 Tây Ninh"'
    )

    summary = registry.import_csv(csv_file)

    assert summary.added == []
    assert summary.refused[0].reason == "the agency name contains a control character (U+0000)"


def test_a_missing_file_is_named_in_one_error(registry: Registry, tmp_path: Path):
    with pytest.raises(FileProblem, match=r"^.*absent\.csv: no such file$"):
        registry.import_csv(tmp_path / "absent.csv")


def test_reimporting_a_name_typed_in_decomposed_unicode_changes_nothing(
    registry: Registry, tmp_path: Path
):
    name = "Ủy ban nhân dân huyện Châu Thành"
    lines = ["code,name", "000.00.00.H53,UBND tỉnh Tây Ninh", f"000.00.31.H53,{name}"]
    registry.import_csv(write_csv(tmp_path / "composed.csv", *lines))
    lines[2] = f"000.00.31.H53,{unicodedata.normalize('NFD', name)}"

    summary = registry.import_csv(write_csv(tmp_path / "decomposed.csv", *lines))

    assert (summary.updated, summary.refused) == ([], [])
    assert summary.unchanged == ["000.00.00.H53", "000.00.31.H53"]


def test_a_refused_record_spanning_lines_is_named_by_the_line_it_starts_on(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(
        tmp_path / "multiline.csv",
        "code,name",
        '000.00.00.H53,"UBND tỉnh Tây Ninh',
        '"',
        "",
        '000.00.31.H53,"UBND huyện',
        'Châu Thành"',
        "000.00.00.H53,Again",
    )

    summary = registry.import_csv(csv_file)

    assert summary.added == ["000.00.00.H53"]
    assert [(row.line, row.reason) for row in summary.refused] == [
        (5, "the agency name contains a control character (U+000A)"),
        (7, "the code already appears on line 2"),
    ]


def _waiting_for_a_lock(registry: Registry) -> int:
    # A connection of its own each time: a transaction sees pg_stat_activity as it was
    # when it first looked.
    with registry.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ).scalar_one()


# Two imports at once is the way an operator meets a database refusal: psycopg adds
# PostgreSQL's DETAIL on a line of its own.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_import_losing_a_race_says_in_one_line_which_code_clashed(
    registry: Registry, tmp_path: Path
):
    csv_file = write_csv(tmp_path / "national.csv", "code,name", "000.00.00.H53,UBND tỉnh Tây Ninh")

    # The pool is left last, so that a failure rolls the other import back first: the
    # losing one waits for it.
    with ThreadPoolExecutor(1) as pool, registry.engine.connect() as other:
        now = utcnow()
        other.execute(  # the other import, not committed yet
            agencies.insert().values(
                code="000.00.00.H53",
                name="UBND tỉnh Tây Ninh",
                level=1,
                created_at=now,
                updated_at=now,
            )
        )
        losing = pool.submit(registry.import_csv, csv_file)
        wait_for(lambda: _waiting_for_a_lock(registry), what="the import to wait")
        other.commit()
        with pytest.raises(StoreError) as refused:
            losing.result()

    assert str(refused.value) == (
        f"database error while importing {csv_file}, nothing was written: duplicate key "
        'value violates unique constraint "pk_agencies" '
        "(Key (code)=(000.00.00.H53) already exists.)"
    )
