"""The one way to push a live event to the browsers (DESIGN.md, "Data flow").

Services build an event with ``event_types`` (each type's fields declared once) and call
:func:`publish`; the event leaves the process only after the surrounding transaction
commits, and goes to the groups of its audience (``events.event_groups``: the city's and its
ward's; a citizen request's to the requests' groups and its department's). Consumers join only
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
    REQUESTS_GROUP,
    Event,
    EventType,
    department_group,
    json_safe,
    ward_group,
    ward_requests_group,
)
from ioc.realtime.heartbeat import heartbeat, heartbeat_seconds
from ioc.realtime.sequence import (
    batch_text,
    current_numbers,
    current_seqs,
    next_seq,
    numbered_texts,
)

__all__ = [
    "CITY_GROUP",
    "CONSUMER_MESSAGE_TYPE",
    "REQUESTS_GROUP",
    "Event",
    "EventType",
    "batch_text",
    "current_numbers",
    "current_seqs",
    "department_group",
    "event_types",
    "heartbeat",
    "heartbeat_seconds",
    "json_safe",
    "next_seq",
    "numbered_texts",
    "publish",
    "send_to_groups",
    "ward_group",
    "ward_requests_group",
]
