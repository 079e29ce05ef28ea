"""The document-interchange axis: a store-and-forward router for signed edXML envelopes.

One package or module per concern:

- ``axis.settings``, ``axis.errors`` - the one configuration object (``AXIS_*``) and the
  exception hierarchy every command reports from;
- ``axis.protocol``  - what agencies and the router put on the queues;
- ``axis.store``     - the database: schema, migrations, agency registry, national tree;
- ``axis.transport`` - queues: RabbitMQ (pika) and the embedded, database-backed transport;
- ``axis.router``    - the router (``axis serve``): checks, stores, forwards and answers;
- ``axis.client``    - the agency side: :class:`~axis.client.AgencyClient`, keys, tracking;
- ``axis.stats``     - delivery statistics over rollup tables;
- ``axis.ops``       - health, metrics, agencies' broker users, dead letters, quarantine;
- ``axis.pki``, ``axis.certificates``, ``axis.audit`` - development PKI, certificate
  files, the append-only audit log; ``axis.demo`` - the whole exchange in one command.

The envelope format itself (edXML build, parse, sign, verify) is the separate package
``envelopes``, which depends on nothing in ``axis``.
"""

__version__ = "0.1.0"
