"""The browser reads no live-event field that the contract does not declare.

Every live message's fields are declared once, in ``ioc.realtime.event_types``. The
scripts that handle live messages read them as ``<name>.<field>`` (or ``<name>?.<field>``,
``<name>["field"]``) on a few names: ``event`` (the envelope), ``data`` (its data),
``alert``, ``device``, ``snapshot``... Each reader below says, for one function of one
module, which TypedDicts a name holds there; the test finds every field read on that name
in that function and checks the field is declared. A read through a computed key must list
the fields it can take. A new script that handles live messages must be listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ioc.realtime.event_types import (
    AlertData,
    BatchMessage,
    DeviceReadingData,
    DeviceStatusData,
    HeartbeatMessage,
    IncidentData,
    Message,
    RequestData,
    SignalCommandData,
    Snapshot,
    SnapshotDevice,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = "dashboards/static/dashboards"

# The snapshot's alerts, incidents and requests are their event's data plus the item's
# ward; a page stores an event's item the same way, with the envelope's ward.
WITH_WARD = {"ward"}


@dataclass(frozen=True)
class Reader:
    """In ``function`` of ``module`` (None: the whole module), ``name`` holds one of ``types``."""

    module: str
    function: str | None
    name: str
    types: tuple[type, ...]
    extra: frozenset[str] = frozenset()
    # The fields a computed key (the code between the brackets) can take.
    computed: dict[str, frozenset[str]] = field(default_factory=dict)

    def declared(self) -> set[str]:
        fields = set(self.extra)
        for typed_dict in self.types:
            fields |= set(typed_dict.__annotations__)
        return fields


def reader(
    module: str,
    function: str | None,
    name: str,
    *types: type,
    extra: set[str] | frozenset[str] = frozenset(),
    computed: dict[str, set[str]] | None = None,
) -> Reader:
    return Reader(
        module=module,
        function=function,
        name=name,
        types=types,
        extra=frozenset(extra),
        computed={key: frozenset(value) for key, value in (computed or {}).items()},
    )


DEVICE_EVENTS = (DeviceStatusData, DeviceReadingData)
CASES = (IncidentData, RequestData)

READERS = [
    # The live channel: envelopes, batches, heartbeats and snapshots.
    reader(f"{DASHBOARDS}/live.js", "#receive", "message", Message, BatchMessage),
    reader(f"{DASHBOARDS}/live.js", "#event", "event", Message),
    reader(f"{DASHBOARDS}/live.js", "#heartbeat", "beat", HeartbeatMessage),
    reader(f"{DASHBOARDS}/live.js", "#restarted", "message", Message, HeartbeatMessage),
    reader(f"{DASHBOARDS}/live.js", "#snapshot", "snapshot", Snapshot),
    # The operations dashboard.
    reader(f"{DASHBOARDS}/ops/updates.js", None, "event", Message),
    reader(f"{DASHBOARDS}/ops/updates.js", "snapshot", "snapshot", Snapshot),
    reader(f"{DASHBOARDS}/ops/updates.js", "snapshot", "device", SnapshotDevice),
    reader(f"{DASHBOARDS}/ops/updates.js", "snapshot", "alert", AlertData, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/updates.js", "#device", "data", *DEVICE_EVENTS),
    reader(f"{DASHBOARDS}/ops/updates.js", "#device", "device", SnapshotDevice),
    reader(f"{DASHBOARDS}/ops/updates.js", "#alert", "alert", AlertData, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/state.js", "isOpen", "alert", AlertData),
    reader(f"{DASHBOARDS}/ops/state.js", "isVisible", "device", SnapshotDevice),
    reader(f"{DASHBOARDS}/ops/feed.js", "render", "a", AlertData),
    reader(f"{DASHBOARDS}/ops/feed.js", "render", "b", AlertData),
    reader(f"{DASHBOARDS}/ops/feed.js", "#item", "alert", AlertData, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/feed.js", "#incidentControl", "alert", AlertData),
    reader(f"{DASHBOARDS}/ops/kpis.js", "render", "alert", AlertData),
    reader(f"{DASHBOARDS}/ops/kpis.js", "render", "d", SnapshotDevice),
    reader(f"{DASHBOARDS}/ops/map.js", "styleWards", "alert", AlertData, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/map.js", "drawDevice", "device", SnapshotDevice),
    reader(f"{DASHBOARDS}/ops/device_card.js", "show", "device", SnapshotDevice),
    reader(
        f"{DASHBOARDS}/ops/cases.js",
        "applySnapshot",
        "snapshot",
        Snapshot,
        computed={"this.name": {"incidents", "requests"}},
    ),
    reader(f"{DASHBOARDS}/ops/cases.js", "applyEvent", "event", Message),
    reader(f"{DASHBOARDS}/ops/cases.js", "applyEvent", "item", *CASES, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/cases.js", "url", "item", *CASES),
    reader(f"{DASHBOARDS}/ops/cases.js", "draw", "item", *CASES, extra=WITH_WARD),
    reader(f"{DASHBOARDS}/ops/dashboard.js", "caseLayers", "i", IncidentData),
    reader(f"{DASHBOARDS}/ops/dashboard.js", "caseLayers", "r", RequestData),
    reader(f"{DASHBOARDS}/ops/panel.js", "#onEvent", "event", Message),
    reader(
        f"{DASHBOARDS}/ops/panel.js",
        "#onEvent",
        "data",
        *DEVICE_EVENTS,
        AlertData,
        SignalCommandData,
    ),
    # The camera wall and the incident page.
    reader(f"{DASHBOARDS}/wall.js", None, "event", Message),
    reader(f"{DASHBOARDS}/wall.js", None, "data", DeviceStatusData),
    reader(f"{DASHBOARDS}/wall.js", None, "snapshot", Snapshot),
    reader(f"{DASHBOARDS}/wall.js", None, "device", SnapshotDevice),
    reader(f"{DASHBOARDS}/incident.js", None, "event", Message),
    reader(f"{DASHBOARDS}/incident.js", None, "snapshot", Snapshot),
    reader(f"{DASHBOARDS}/incident.js", None, "incident", IncidentData),
]

# What marks a script as a handler of live messages.
LIVE_MARKERS = re.compile(r"\.onEvent\(|\.onSnapshot\(|\bevent\.data\b")


def source(module: str) -> str:
    return (ROOT / module).read_text(encoding="utf-8")


def masked(text: str) -> tuple[str, str]:
    """``text`` without comments, and also without the text of its strings (a template
    literal's ``${...}`` stays: it is code); both the length of ``text``, so that an
    index means the same place in each."""
    code, bare = list(text), list(text)
    stack = ["code"]  # "code", "template", or "${" (code inside a template)
    position = 0
    while position < len(text):
        char, state = text[position], stack[-1]
        if state == "template":
            if char == "\\":
                bare[position : position + 2] = "  "
                position += 2
                continue
            if char == "`":
                stack.pop()
            elif text.startswith("${", position):
                stack.append("${")
                position += 2
                continue
            else:
                bare[position] = " "
            position += 1
            continue
        if text.startswith("//", position) or text.startswith("/*", position):
            end = text.find("\n" if text[position + 1] == "/" else "*/", position)
            end = len(text) if end < 0 else end + (0 if text[position + 1] == "/" else 2)
            for index in range(position, end):
                if text[index] != "\n":
                    code[index] = bare[index] = " "
            position = end
        elif char in "'\"":
            end = position + 1
            while text[end] != char:
                end += 2 if text[end] == "\\" else 1
            for index in range(position + 1, end):
                bare[index] = " "
            position = end + 1
        elif char == "`":
            stack.append("template")
            position += 1
        else:
            if state == "${" and char == "}":
                stack.pop()
            elif state == "${" and char == "{":
                stack.append("{")
            elif state == "{" and char == "}":
                stack.pop()
            position += 1
    return "".join(code), "".join(bare)


def function_body(text: str, name: str) -> tuple[str, str]:
    """Function or method ``name`` (declaration, method or arrow function) of ``text``, as
    :func:`masked` gives it."""
    code, bare = masked(text)
    escaped = re.escape(name)
    pattern = re.compile(
        rf"(?:^|\n)\s*(?:export\s+)?(?:async\s+)?(?:function\s+)?{escaped}\s*\([^)]*\)\s*\{{"
        rf"|(?:const|let)\s+{escaped}\s*=\s*(?:async\s*)?\([^)]*\)\s*=>\s*\{{",
    )
    match = pattern.search(bare)
    assert match, f"no function {name}"
    start = match.end() - 1
    depth = 0
    for position in range(start, len(bare)):
        if bare[position] == "{":
            depth += 1
        elif bare[position] == "}":
            depth -= 1
            if depth == 0:
                return code[start : position + 1], bare[start : position + 1]
    raise AssertionError(f"function {name} does not end")


def scope(item: Reader) -> tuple[str, str]:
    text = source(item.module)
    return function_body(text, item.function) if item.function else masked(text)


def fields_read(code: str, bare: str, name: str) -> tuple[set[str], set[str]]:
    """The fields read on ``name``: by name, and the computed keys (``bare`` is ``code``
    without the text of its strings)."""
    own = rf"(?<![\w$.]){re.escape(name)}"
    named = set(re.findall(own + r"\??\.([A-Za-z_$][\w$]*)", bare))
    named |= set(re.findall(own + r"(?:\?\.)?\[\s*[\"']([^\"']+)[\"']\s*\]", code))
    computed = set(re.findall(own + r"(?:\?\.)?\[\s*([^\]\"'\s][^\]]*)\]", code))
    return named, {key.strip() for key in computed}


@pytest.mark.parametrize(
    "item", READERS, ids=lambda r: f"{Path(r.module).name}:{r.function or '*'}:{r.name}"
)
def test_the_browser_reads_only_declared_fields(item: Reader) -> None:
    named, computed = fields_read(*scope(item), item.name)
    assert named or computed, f"{item.name} is never read there: the reader is out of date"
    undeclared = named - item.declared()
    assert not undeclared, f"{item.module} reads undeclared fields of {item.name}: {undeclared}"
    unlisted = computed - set(item.computed)
    assert not unlisted, f"{item.module} reads {item.name}[...] by computed keys: {unlisted}"
    for key in computed:
        assert item.computed[key] <= item.declared(), f"{key} can take undeclared fields"


def test_every_script_that_handles_live_messages_is_checked() -> None:
    scripts = {
        str(path.relative_to(ROOT))
        for app in ("dashboards", "cameras", "services", "ioc")
        for path in (ROOT / app / "static").rglob("*.js")
        if "vendor" not in path.parts
    }
    handlers = {script for script in scripts if LIVE_MARKERS.search(source(script))}
    assert handlers, "no script handles live messages: the markers are out of date"
    assert handlers <= {item.module for item in READERS}


def test_a_field_the_contract_does_not_declare_is_caught() -> None:
    code = """// data.comment is not read
function show(data) {
  if (data.status) el.textContent = `${data["name"]} data.text ${data.lat}`;
}"""
    named, computed = fields_read(*function_body(code, "show"), "data")
    assert named - set(DeviceStatusData.__annotations__) == {"name", "lat"}
    assert computed == set()
