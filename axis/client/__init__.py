"""The agency side of the axis: what a document-management system or a clerk uses.

- :mod:`axis.client.agency`   - :class:`AgencyClient`: send, receive, statuses, tracking;
- :mod:`axis.client.keys`     - signing identities from PEM or PKCS#12 files;
- :mod:`axis.client.compose`  - documents built from a clerk's options;
- :mod:`axis.client.received` - received documents saved to folders;
- :mod:`axis.client.dedupe`   - messages already handed over (exactly once to the DMS);
- :mod:`axis.client.tracking` - a document's deliveries and statuses, read from the store.

    from axis.client import AgencyClient
"""

from axis.client.agency import AgencyClient

__all__ = ["AgencyClient"]
