"""Money operations: the engine and one module per verb.

- ``engine``: locks (one order: the order, then payments by primary key),
  the :class:`~payments.operations.engine.Operation` type, the registry and
  the one task that runs any registered operation;
- ``payment_state``: what operations do to a payment under its lock (save,
  move or settle its status, flag it, expire it, queue the customer's e-mail);
- ``ledger``: writing the append-only ledger and reading what it says;
- ``keys``: every idempotency key;
- ``authorization``, ``capture``, ``void``, ``refund``, ``review``: one verb each;
- ``recovery``: the periodic payments check;
- ``provider_events``: webhooks, after the provider decoded them.

Import the verbs from ``payments.services``, the app's public API.
"""
