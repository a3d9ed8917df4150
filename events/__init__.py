"""The event contract: what Stormwatch publishes on ``<ns>.events`` and how (docs/events.md).

At the bottom of the house: it imports none of ingest, correlation, actions, rules or the shell, and all of them
may import it.

- ``events.types``: every event type (its routing key) and ``SCHEMA_VERSION``;
- ``events.models``: the payloads as pydantic models (the JSON Schema comes from them: ``events.schema``);
- ``events.builders``: how every producer builds an event (plain dicts, cheap on the hot path);
- ``events.consumed``: the action runner's lenient views of the events it reads;
- ``events.names``: the name of every exchange, queue and routing key;
- ``events.publisher``: the ``EventPublisher`` seam (no I/O); ``events.amqp``: the confirmed AMQP publisher.
"""
