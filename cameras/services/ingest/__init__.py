"""Feed ingestion (DESIGN.md "Data flow"): accept a batch durably, then process it.

Accepting (in the HTTP request, or the MQTT bridge) validates every event, stores the new
ones — a reading event as its readings alone, each with the event's id (unique per device,
metric, time and event id), any other in ``DeviceEvent`` (unique per device, event id and
time), so a retried event is counted as a duplicate and never stored twice — and writes an
``IngestBatch`` outbox row in the same transaction, carrying what processing needs of the
new events (``payload``: the worker never reads them back); the processing task is queued
after commit. Processing (in a worker) is idempotent: it locks the outbox row and does
nothing if the batch was already processed, so a redelivered task (worker killed, sweeper
re-queue) changes nothing twice.

One module per job, in the order a batch meets them:

- ``validation``: the batch's events checked, and who may push them (``ingest_parse``);
- ``outbox``: the events stored and the batch queued (``ingest_accept``);
- ``copy``: the bulk SQL of both steps (the readings by COPY and other events as one JSON
  parameter on PostgreSQL, prepared and multi-row INSERTs elsewhere);
- ``batch``: a worker processes batches exactly once (``ingest_batch_process``);
- ``rules``: thresholds, detections and faults raise and clear alerts;
- ``alert_texts``: the alerts' titles, in the platform's language;
- ``state``: what a report does to a device's status and latest state, written in bulk;
- ``sweep``: lost batches re-queued, processed ones purged.
"""
