"""``axis trust add`` and ``axis trust remove`` on an axis are written to the audit log:
who, when, which CA (subject, fingerprint, file), and for a removal the agencies whose
certificates it issued. A change whose entry is not committed (refused, interrupted, its
connection lost) is undone once the log is seen not to hold it; one that cannot be undone
is said to stand unaudited."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from pki_helpers import Issued, issue, make_ca

from axis import audit
from axis.errors import FileProblem, StoreError
from axis.pki import MAX_TRUST_STORE_FILE_BYTES
from axis.store.db import make_engine, utcnow
from axis.store.schema import audit_log
from envelopes.verifying import fingerprint

Axis = Callable[..., Result]


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    """The axis home the ``axis`` fixture runs with."""
    return tmp_path / "home"


def entries(engine: sa.Engine, target: str) -> list[audit.AuditEntry]:
    with engine.connect() as conn:
        return audit.history(conn, target)


def trust_entries(engine: sa.Engine) -> list[tuple[str, str]]:
    """``(action, target)`` of every entry about the trust store, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target)
            .where(audit_log.c.action.like("trust.%"))
            .order_by(audit_log.c.id)
        ).all()
    return [(row.action, row.target) for row in rows]


def ca_file(tmp_path: Path, ca: Issued) -> Path:
    path = tmp_path / f"{fingerprint(ca.certificate)[:8]}.pem"
    path.write_bytes(ca.cert_pem())
    return path


def added(axis: Axis, tmp_path: Path, ca: Issued) -> Path:
    """``ca`` trusted with `axis trust add`; the file of the trust store it went into."""
    result = axis("trust", "add", str(ca_file(tmp_path, ca)))
    assert result.exit_code == 0, result.output
    return Path(result.output.rsplit(": ", 1)[1].strip())


def register(axis: Axis, tmp_path: Path, code: str, ca: Issued) -> None:
    cert = tmp_path / f"{code}.pem"
    cert.write_bytes(issue(ca, code, key_type="ec").cert_pem())
    result = axis("agency", "add", code, "--name", f"Agency {code}", "--cert", str(cert))
    assert result.exit_code == 0, result.output


def test_adding_a_ca_records_who_when_and_which_ca(
    initialised: Axis, tmp_path: Path, engine: sa.Engine
):
    national = make_ca("National root")
    given = ca_file(tmp_path, national)
    before = utcnow()

    result = initialised("trust", "add", str(given))
    after = utcnow()

    assert result.exit_code == 0, result.output
    path = Path(result.output.rsplit(": ", 1)[1].strip())
    fp = fingerprint(national.certificate)
    [entry] = entries(engine, f"trust/{fp}")
    assert (entry.actor, entry.action) == (audit.current_user(), "trust.add")
    assert before <= entry.at <= after
    assert entry.details == {
        "subject": "CN=National root",
        "fingerprint": fp,
        "file": path.name,
        "source": str(given),
    }


def test_adding_a_ca_already_trusted_changes_nothing_and_records_nothing(
    initialised: Axis, tmp_path: Path, engine: sa.Engine
):
    national = make_ca("National root")
    added(initialised, tmp_path, national)

    again = initialised("trust", "add", str(ca_file(tmp_path, national)))

    assert again.exit_code == 0, again.output
    assert again.output.startswith("already trusted: CN=National root")
    assert trust_entries(engine) == [("trust.add", f"trust/{fingerprint(national.certificate)}")]


def test_removing_a_ca_records_it_and_the_agencies_it_issued_certificates_to(
    initialised: Axis, tmp_path: Path, engine: sa.Engine
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = added(initialised, tmp_path, national)
    register(initialised, tmp_path, "000.00.00.H53", national)
    register(initialised, tmp_path, "000.00.00.H40", national)
    register(initialised, tmp_path, "000.00.00.H42", make_ca("Other CA"))

    removed = initialised("trust", "remove", path.name, "--yes")

    assert removed.exit_code == 0, removed.output
    fp = fingerprint(national.certificate)
    described = {"subject": "CN=National root", "fingerprint": fp, "file": path.name}
    [entry] = [e for e in entries(engine, f"trust/{fp}") if e.action == "trust.remove"]
    assert entry.actor == audit.current_user()
    assert entry.details == {**described, "agencies": ["000.00.00.H40", "000.00.00.H53"]}
    for code in ("000.00.00.H40", "000.00.00.H53"):
        assert entries(engine, code)[-1].details == described
    assert not [e for e in entries(engine, "000.00.00.H42") if e.action == "trust.remove"]


def test_agency_show_lists_the_removal_of_the_ca_that_issued_its_certificate(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = added(initialised, tmp_path, national)
    register(initialised, tmp_path, "000.00.00.H53", national)
    initialised("trust", "remove", path.name, "--yes")

    shown = initialised("agency", "show", "000.00.00.H53")

    assert shown.exit_code == 0, shown.output
    [line] = [line for line in shown.output.splitlines() if "trust.remove" in line]
    assert audit.current_user() in line
    assert f"fingerprint={fingerprint(national.certificate)}" in line
    assert f"file={path.name}" in line


def test_a_ca_still_trusted_through_another_file_is_recorded_as_such(
    initialised: Axis, tmp_path: Path, home_dir: Path, engine: sa.Engine
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = added(initialised, tmp_path, national)
    (home_dir / "trust" / "copy.pem").write_bytes(national.cert_pem())
    register(initialised, tmp_path, "000.00.00.H53", national)

    removed = initialised("trust", "remove", path.name)

    assert removed.exit_code == 0, removed.output
    fp = fingerprint(national.certificate)
    assert entries(engine, f"trust/{fp}")[-1].details == {
        "subject": "CN=National root",
        "fingerprint": fp,
        "file": path.name,
        "still_trusted": True,
    }
    assert [e.action for e in entries(engine, "000.00.00.H53")] == ["agency.add"]


def test_a_file_holding_no_ca_is_recorded_by_its_name_and_problem(
    initialised: Axis, home_dir: Path, engine: sa.Engine
):
    initialised("pki", "init")
    (home_dir / "trust" / "broken.pem").write_bytes(b"not a certificate\n")

    removed = initialised("trust", "remove", "broken.pem")

    assert removed.exit_code == 0, removed.output
    [entry] = entries(engine, "trust/broken.pem")
    assert entry.action == "trust.remove"
    assert entry.details["file"] == "broken.pem"
    assert "not a PEM certificate file" in entry.details["problem"]


@pytest.mark.parametrize("extra", [(), ("--force",)], ids=["last-ca", "agencies-without-yes"])
def test_a_refused_removal_leaves_no_entry(
    initialised: Axis, tmp_path: Path, engine: sa.Engine, extra: tuple[str, ...]
):
    """Refused as the last CA of the store; given --force, refused for the agency whose
    signatures it would refuse, --yes missing."""
    national = make_ca("National root")
    path = added(initialised, tmp_path, national)
    register(initialised, tmp_path, "000.00.00.H53", national)

    refused = initialised("trust", "remove", path.name, *extra)

    assert refused.exit_code == 1
    assert path.exists()
    assert [action for action, _ in trust_entries(engine)] == ["trust.add"]
    assert [e.action for e in entries(engine, "000.00.00.H53")] == ["agency.add"]


def refuse_audit_entries(database_url: str, *, at_commit: bool) -> None:
    """Make the database refuse every new audit entry: as it is written, or only when
    its transaction commits (as a connection lost at that moment would)."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                _refuse_on_sqlite(conn, at_commit=at_commit)
            else:
                _refuse_on_postgresql(conn, at_commit=at_commit)
    finally:
        engine.dispose()


def _refuse_on_sqlite(conn: sa.Connection, *, at_commit: bool) -> None:
    if not at_commit:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is read-only'); END"
        )
        return
    # A deferred foreign key is checked at commit: each entry adds a row breaking one.
    conn.exec_driver_sql("CREATE TABLE nowhere (actor TEXT PRIMARY KEY)")
    conn.exec_driver_sql(
        "CREATE TABLE refused (actor TEXT REFERENCES nowhere (actor) DEFERRABLE INITIALLY DEFERRED)"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER refuse_audit AFTER INSERT ON audit_log "
        "BEGIN INSERT INTO refused VALUES (NEW.actor); END"
    )


def _refuse_on_postgresql(conn: sa.Connection, *, at_commit: bool) -> None:
    conn.exec_driver_sql(
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is read-only'; END $$"
    )
    trigger = (
        "CREATE CONSTRAINT TRIGGER refuse_audit AFTER INSERT ON audit_log "
        "DEFERRABLE INITIALLY DEFERRED"
        if at_commit
        else "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log"
    )
    conn.exec_driver_sql(f"{trigger} FOR EACH ROW EXECUTE FUNCTION refuse_audit()")


@pytest.mark.parametrize("at_commit", [False, True], ids=["as-written", "at-commit"])
def test_a_ca_whose_entry_the_audit_log_refuses_is_not_added(
    initialised: Axis, tmp_path: Path, home_dir: Path, database_url: str, at_commit: bool
):
    initialised("pki", "init")
    store_before = sorted(p.name for p in (home_dir / "trust").iterdir())
    refuse_audit_entries(database_url, at_commit=at_commit)

    refused = initialised("trust", "add", str(ca_file(tmp_path, make_ca("National root"))))

    assert refused.exit_code == 1
    done = "undone" if at_commit else "not done"
    assert refused.output.startswith(f"error: adding {home_dir / 'trust'}/national-root-")
    assert f".pem {done}: the audit log refused the entry (" in refused.output
    assert refused.output.count("\n") == 1, refused.output
    assert sorted(p.name for p in (home_dir / "trust").iterdir()) == store_before


@pytest.mark.parametrize("at_commit", [False, True], ids=["as-written", "at-commit"])
def test_a_ca_whose_entry_the_audit_log_refuses_stays_trusted(
    initialised: Axis, tmp_path: Path, database_url: str, at_commit: bool
):
    initialised("pki", "init")
    path = added(initialised, tmp_path, make_ca("National root"))
    content = path.read_bytes()
    refuse_audit_entries(database_url, at_commit=at_commit)

    refused = initialised("trust", "remove", path.name)

    assert refused.exit_code == 1
    done = "undone" if at_commit else "not done"
    assert refused.output.startswith(
        f"error: removing {path} {done}: the audit log refused the entry ("
    )
    assert path.read_bytes() == content
    assert "CN=National root" in initialised("trust", "list", "--format", "csv").output


def test_an_agency_machine_without_a_registry_changes_its_trust_store_unrecorded(
    axis: Axis, tmp_path: Path, home_dir: Path, database_url: str
):
    """An agency's machine has a trust store to check the axis's receipts, and no
    registry, hence no audit log: nothing is created to hold one."""
    old = added(axis, tmp_path, make_ca("Old national root"))
    added(axis, tmp_path, make_ca("National root"))

    removed = axis("trust", "remove", old.name)

    assert removed.exit_code == 0, removed.output
    assert not old.exists()
    if database_url.startswith("sqlite"):
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("audit_log")
    finally:
        engine.dispose()


def test_a_change_that_fails_leaves_no_entry(initialised: Axis, engine: sa.Engine):
    def change() -> None:
        raise FileProblem("cannot write trust/national.pem: No space left on device")

    entry = audit.Action("trust.add", "trust/national", {})
    with pytest.raises(FileProblem):
        audit.record_change(engine, None, [entry], change, lambda _: None, "adding national")

    assert trust_entries(engine) == []


def test_a_change_that_cannot_be_undone_is_said_to_stand_unrecorded(
    initialised: Axis, engine: sa.Engine, database_url: str
):
    refuse_audit_entries(database_url, at_commit=True)

    def undo(_: None) -> None:
        raise FileProblem("cannot remove trust/national.pem: Permission denied")

    entry = audit.Action("trust.add", "trust/national", {})
    with pytest.raises(StoreError) as refused:
        audit.record_change(engine, None, [entry], lambda: None, undo, "adding national")

    assert str(refused.value).startswith("the audit log refused the entry (")
    assert str(refused.value).endswith(
        "after adding national, which could not be undone (cannot remove "
        "trust/national.pem: Permission denied): it stands, unaudited"
    )


def test_a_linked_ca_whose_removal_the_audit_log_refuses_is_linked_again(
    initialised: Axis, tmp_path: Path, home_dir: Path, database_url: str
):
    """A CA file linked from elsewhere (``/etc/ssl/certs``) is put back as the link it was."""
    initialised("pki", "init")
    elsewhere = ca_file(tmp_path, make_ca("National root"))
    link = home_dir / "trust" / "national.pem"
    link.symlink_to(elsewhere)
    refuse_audit_entries(database_url, at_commit=True)

    refused = initialised("trust", "remove", "national.pem")

    assert refused.exit_code == 1
    assert f"removing {link} undone: the audit log refused the entry (" in refused.output
    assert link.readlink() == elsewhere


def test_a_file_whose_name_is_not_utf8_is_removed_and_recorded_by_its_bytes(
    initialised: Axis, home_dir: Path, engine: sa.Engine
):
    """The file system holds names no database does (bytes that are not UTF-8): the entry
    shows each such byte as its escape."""
    initialised("pki", "init")
    path = Path(os.fsdecode(bytes(home_dir / "trust") + b"/caf\xe9.pem"))
    path.write_bytes(b"not a certificate\n")

    removed = initialised("trust", "remove", path.name)

    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith(
        f"removed {home_dir / 'trust'}/caf\\xe9.pem, which could not be read as a CA certificate"
    )
    assert not path.exists()
    [entry] = entries(engine, "trust/caf\\xe9.pem")
    assert entry.action == "trust.remove"
    assert entry.details["file"] == "caf\\xe9.pem"
    assert entry.details["problem"].startswith(f"{home_dir / 'trust'}/caf\\xe9.pem: ")


def test_a_ca_from_a_file_whose_name_is_not_utf8_is_recorded_with_its_bytes_escaped(
    initialised: Axis, tmp_path: Path, engine: sa.Engine
):
    national = make_ca("National root")
    given = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.pem"))
    given.write_bytes(national.cert_pem())

    result = initialised("trust", "add", str(given))

    assert result.exit_code == 0, result.output
    [entry] = entries(engine, f"trust/{fingerprint(national.certificate)}")
    assert entry.details["source"] == f"{tmp_path}/caf\\xe9.pem"


def _empty_folder(path: Path) -> None:
    path.mkdir(mode=0o750)


def _pipe(path: Path) -> None:
    os.mkfifo(path, mode=0o640)


@pytest.mark.parametrize("make", [_empty_folder, _pipe], ids=lambda f: f.__name__)
def test_a_folder_or_pipe_whose_removal_the_audit_log_refuses_is_made_again(
    initialised: Axis, home_dir: Path, database_url: str, make: Callable[[Path], None]
):
    """They hold nothing, so nothing is lost making them again as they were."""
    initialised("pki", "init")
    entry = home_dir / "trust" / "national.pem"
    make(entry)
    before = entry.lstat().st_mode
    refuse_audit_entries(database_url, at_commit=True)

    refused = initialised("trust", "remove", "national.pem")

    assert refused.exit_code == 1
    assert f"removing {entry} undone: the audit log refused the entry (" in refused.output
    assert entry.lstat().st_mode == before


def test_a_file_past_the_bound_whose_removal_the_audit_log_refuses_is_said_to_stand_unaudited(
    initialised: Axis, home_dir: Path, database_url: str
):
    """Removed unread, it cannot be put back."""
    initialised("pki", "init")
    entry = home_dir / "trust" / "national.pem"
    with entry.open("wb") as stream:
        stream.truncate(MAX_TRUST_STORE_FILE_BYTES + 1)
    refuse_audit_entries(database_url, at_commit=True)

    refused = initialised("trust", "remove", "national.pem")

    assert refused.exit_code == 1
    assert refused.output.startswith("error: the audit log refused the entry (")
    assert refused.output.endswith(
        f"after removing {entry}, which could not be undone ({entry} was removed unread, "
        "and cannot be put back): it stands, unaudited\n"
    )
    assert not entry.exists()


def interrupt_commits(engine: sa.Engine, *, after_the_database_committed: bool) -> None:
    """Ctrl-C as ``engine`` commits: before the database is asked to, or once it has."""

    def interrupt(conn: sa.Connection) -> None:
        if after_the_database_committed:
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
        raise KeyboardInterrupt

    sa.event.listen(engine, "commit", interrupt)


def test_a_change_interrupted_before_its_entry_is_committed_is_undone(
    initialised: Axis, engine: sa.Engine
):
    interrupt_commits(engine, after_the_database_committed=False)
    undone: list[str] = []

    entry = audit.Action("trust.add", "trust/national", {})
    with pytest.raises(KeyboardInterrupt):
        audit.record_change(engine, None, [entry], lambda: "added", undone.append, "adding")

    assert undone == ["added"]
    assert trust_entries(engine) == []


def test_a_change_interrupted_once_its_entry_is_committed_stands_recorded(
    initialised: Axis, engine: sa.Engine
):
    interrupt_commits(engine, after_the_database_committed=True)
    undone: list[str] = []

    entry = audit.Action("trust.add", "trust/national", {})
    with pytest.raises(KeyboardInterrupt):
        audit.record_change(engine, None, [entry], lambda: "added", undone.append, "adding")

    assert undone == []
    assert trust_entries(engine) == [("trust.add", "trust/national")]


def lose_the_connection_at_commit(database_url: str) -> None:
    """The server ends the connection committing a new audit entry, the commit undone."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE FUNCTION lose_connection() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); "
                "PERFORM pg_sleep(5); RETURN NULL; END $$"
            )
            conn.exec_driver_sql(
                "CREATE CONSTRAINT TRIGGER lose_connection AFTER INSERT ON audit_log "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lose_connection()"
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_change_whose_connection_is_lost_at_commit_is_undone_once_the_log_lacks_the_entry(
    initialised: Axis, home_dir: Path, database_url: str, engine: sa.Engine
):
    """A SQLite database is no connection to lose."""
    initialised("pki", "init")
    national = make_ca("National root")
    path = home_dir / "trust" / "national.pem"
    path.write_bytes(national.cert_pem())
    lose_the_connection_at_commit(database_url)

    refused = initialised("trust", "remove", "national.pem")

    assert refused.exit_code == 1
    assert refused.output.startswith(
        f"error: removing {path} undone: the connection to the database was lost as the "
        "entry was committed ("
    )
    assert path.read_bytes() == national.cert_pem()
    assert [action for action, _ in trust_entries(engine)] == ["trust.add"]  # by pki init


def test_a_long_name_in_bytes_that_are_not_utf8_is_recorded_under_its_start(
    initialised: Axis, home_dir: Path, engine: sa.Engine
):
    """Escaped, such a name is four times as long: the target is cut to what the log
    holds, the details keep it whole."""
    initialised("pki", "init")
    path = Path(os.fsdecode(bytes(home_dir / "trust") + b"/" + b"\xe9" * 200 + b".pem"))
    path.write_bytes(b"not a certificate\n")

    removed = initialised("trust", "remove", path.name)

    assert removed.exit_code == 0, removed.output
    assert not path.exists()
    escaped = "\\xe9" * 200 + ".pem"
    [entry] = entries(engine, f"trust/{escaped}"[: audit.MAX_TARGET])
    assert entry.details["file"] == escaped
