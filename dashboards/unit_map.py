"""Records of any time on the map of one day (issue 14, item 5: reports on either map).

A case keeps the unit of its time; a report may be read on today's units or on the units
in force on any chosen day (a 2024 report by the former wards). ``UnitMap(on)`` says where
a record of unit W falls on that day's map:

- W was in force that day: W;
- W ended before it: the units W went into, followed forward through every later
  reorganisation; W came into force after it: the units W came from, followed back;
- when that leads to exactly one unit of the day, that unit; when it leads to several (a
  split ward forward, a merger back), the record's own place decides, in the boundaries of
  that day; a record with no place, or one outside every unit, is "not placed".

The successions and the units' periods are read once (a few hundred rows for a province);
only records of ambiguous units are read one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from shapely import STRtree
from shapely.geometry import Point

from ioc.geo import GeometryError, boundary_shape
from ioc.models import Ward, WardSuccession

NOT_PLACED = 0  # the key of records no unit of the day holds


@dataclass
class UnitMap:
    """Where each unit's records fall on the map of the units in force on ``on``."""

    on: date
    units: dict[int, Ward] = field(default_factory=dict)  # the day's units, by id
    _targets: dict[int, frozenset[int]] = field(default_factory=dict)
    _tree: STRtree | None = None
    _tree_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.units = {ward.pk: ward for ward in Ward.objects.current(self.on)}
        ends = dict(Ward.objects.values_list("pk", "valid_to"))
        forward: dict[int, list[int]] = defaultdict(list)
        back: dict[int, list[int]] = defaultdict(list)
        for before, after in WardSuccession.objects.values_list("predecessor", "successor"):
            forward[before].append(after)
            back[after].append(before)
        for pk, end in ends.items():
            if pk in self.units:
                self._targets[pk] = frozenset({pk})
            elif end is not None and end <= self.on:
                self._targets[pk] = self._reach(pk, forward)
            else:
                self._targets[pk] = self._reach(pk, back)

    def _reach(self, start: int, edges: dict[int, list[int]]) -> frozenset[int]:
        """The day's units reached from ``start`` along ``edges`` (forward or back)."""
        found: set[int] = set()
        seen = {start}
        frontier = [start]
        while frontier:
            step: list[int] = []
            for pk in frontier:
                for other in edges.get(pk, []):
                    if other in seen:
                        continue
                    seen.add(other)
                    if other in self.units:
                        found.add(other)
                    else:
                        step.append(other)
            frontier = step
        return frozenset(found)

    def target(self, ward_id: int) -> int | None:
        """The one unit of the day a record of ``ward_id`` falls in; None when its place
        must decide (several candidates), NOT_PLACED when no unit of the day descends from
        it or leads to it."""
        reached = self._targets.get(ward_id, frozenset())
        if len(reached) == 1:
            return next(iter(reached))
        return None if reached else NOT_PLACED

    def locate(self, longitude: Decimal | float | None, latitude: Decimal | float | None) -> int:
        """The unit of the day holding a place, or NOT_PLACED."""
        if longitude is None or latitude is None:
            return NOT_PLACED
        if self._tree is None:
            shapes = []
            for pk, ward in self.units.items():
                if ward.boundary is None:
                    continue
                try:
                    shapes.append(boundary_shape(ward.boundary))
                except GeometryError:
                    continue
                self._tree_ids.append(pk)
            self._tree = STRtree(shapes)
        point = Point(float(longitude), float(latitude))
        hits = self._tree.query(point, predicate="intersects")
        return self._tree_ids[int(min(hits))] if len(hits) else NOT_PLACED

    def count(
        self,
        records: QuerySet[Any],
        *,
        place: tuple[str, str] | None,
        ward_field: str = "ward",
    ) -> dict[int, int]:
        """How many of ``records`` fall in each unit of the day: one aggregate query by
        unit of their time, then the records of ambiguous units located one by one
        (``place``: the longitude and latitude fields, or None when records have none)."""
        totals: dict[int, int] = defaultdict(int)
        ambiguous: list[int] = []
        rows = records.order_by().values(ward_field).annotate(n=Count("pk"))
        for row in rows:
            target = self.target(row[ward_field])
            if target is None:
                ambiguous.append(row[ward_field])
            else:
                totals[target] += row["n"]
        if ambiguous:
            if place is None:
                totals[NOT_PLACED] += records.filter(**{f"{ward_field}__in": ambiguous}).count()
            else:
                points: Iterable[tuple[Any, Any]] = (
                    records.filter(**{f"{ward_field}__in": ambiguous})
                    .order_by()
                    .values_list(*place)
                    .iterator()
                )
                for longitude, latitude in points:
                    totals[self.locate(longitude, latitude)] += 1
        return dict(totals)
