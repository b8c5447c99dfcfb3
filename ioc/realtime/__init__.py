"""The one way to push a live event to the browsers (DESIGN.md, "Data flow").

Services build an event with ``event_types`` (each type's fields declared once) and call
:func:`publish`; the event leaves the process only after the surrounding transaction
commits, and goes to the group ``city`` and to the group of its ward. Consumers join only
the groups their user may see (``ioc.selectors.realtime_groups_for``).

The modules, in the order an event meets them: ``events`` (what an event is, its groups),
``event_types`` (each type's fields and builder), ``delivery`` (after commit, to the
groups), ``coalescing`` (readings of one device merge), ``batcher`` (one channel-layer
message per group and window), ``sequence`` (each group's ``seq``), ``heartbeat``.
"""

from ioc.realtime import event_types
from ioc.realtime.delivery import publish, send_to_groups
from ioc.realtime.events import (
    CITY_GROUP,
    CONSUMER_MESSAGE_TYPE,
    Event,
    EventType,
    json_safe,
    ward_group,
)
from ioc.realtime.heartbeat import heartbeat, heartbeat_seconds
from ioc.realtime.sequence import batch_text, current_seqs, next_seq, numbered_texts

__all__ = [
    "CITY_GROUP",
    "CONSUMER_MESSAGE_TYPE",
    "Event",
    "EventType",
    "batch_text",
    "current_seqs",
    "event_types",
    "heartbeat",
    "heartbeat_seconds",
    "json_safe",
    "next_seq",
    "numbered_texts",
    "publish",
    "send_to_groups",
    "ward_group",
]
