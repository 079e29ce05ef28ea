"""The router: takes signed submissions, stores them, delivers copies, records receipts.

One module per concern:

- :mod:`~axis.router.intake`: what is decided about each submission, and why (the
  rejection reasons);
- :mod:`~axis.router.lookups`: the database facts a batch is decided on, read at once;
- :mod:`~axis.router.records`: what a batch writes, in one transaction;
- :mod:`~axis.router.answers`: the axis's signed receipts to senders;
- :mod:`~axis.router.outbox`: the transactional outbox (publish after commit, confirm,
  sweep what a dead router left);
- :mod:`~axis.router.batch`: one batch from verification to publication;
- :mod:`~axis.router.sweeps`: heartbeat, overdue and expired deliveries;
- :mod:`~axis.router.inboxes`: declaring the topology and the agencies' inboxes;
- :mod:`~axis.router.worker`: one router process, its loop and its failures;
- :mod:`~axis.router.supervisor`: ``axis serve``, one or N router processes.

The wire protocol it shares with the agencies is :mod:`axis.protocol`.
"""
