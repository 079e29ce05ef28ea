"""A schema refusal names the element at fault without reading the path of every element
before it: that path costs as many steps as the element has siblings, so an envelope of
150,000 of them, signed with any certificate the trust store vouches for, held a router
for many minutes of CPU before it was refused (40,000 took half a minute)."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

from envelopes.model import OtherInfo
from envelopes.signing import sign
from envelopes.xml import build_document

#: CPU seconds the refusal may take in the child process: far more than it needs (well
#: under one), far less than reading 150,000 paths of 150,000 siblings each.
CPU_SECONDS = 60

VERIFY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from envelopes.errors import EnvelopeError
    from envelopes.verifying import TrustStore, verify

    data = Path(sys.argv[1]).read_bytes()
    try:
        verify(data, TrustStore.from_pem_files([sys.argv[2]]), max_bytes=len(data))
    except EnvelopeError as error:
        print(type(error).__name__, error)
    """
)


def _limit_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def test_an_unexpected_element_after_150_000_siblings_is_refused_naming_it(
    make_document, agency_ec, ca, tmp_path
):
    unsigned = build_document(make_document(other=OtherInfo(appendixes=["a"])))
    crowded = unsigned.replace(
        b"<edXML:Appendix>a</edXML:Appendix>",
        b"<edXML:Appendix/>" * 150_000 + b"<edXML:Bogus/>",
    )
    envelope = tmp_path / "crowded.edxml"
    envelope.write_bytes(sign(crowded, agency_ec.identity()))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem())

    refused = subprocess.run(
        [sys.executable, "-c", VERIFY, str(envelope), str(ca_file)],
        capture_output=True,
        text=True,
        preexec_fn=_limit_cpu,
        check=False,
    )

    assert refused.returncode == 0, refused.stderr or "over its CPU budget"
    assert refused.stdout.startswith(
        "SchemaViolation invalid edXML document: "
        "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/OtherInfo/Appendixes/Bogus: "
        "unexpected element"
    )
