"""The document-interchange axis: a store-and-forward router for signed edXML envelopes.

The package is organised one concern per module:

- ``axis.settings``  - the one configuration object (``AXIS_*`` environment variables);
- ``axis.errors``    - the exception hierarchy every command reports from;
- ``axis.store``     - the database: schema, migrations, registry and delivery records;
- ``axis.transport`` - queues: RabbitMQ (pika) and the embedded, database-backed transport;
- ``axis.router``    - the router that checks, stores, forwards and answers.
"""

__version__ = "0.1.0"
