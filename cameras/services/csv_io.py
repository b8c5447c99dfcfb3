"""The device registry as CSV: the export format and the all-or-nothing import.

One format both ways, so that an exported file re-imports unchanged: UTF-8 with a byte
order mark (Excel then shows Vietnamese correctly), a header row, one device per row.
``last_seen_at`` is exported for reading and ignored on import (feeds set it), and the
``ward`` column is only checked: the ward is always the one containing the point.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device
from cameras.services.devices import DevicePlan, device_plan, device_plan_apply
from ioc import geo
from ioc.models import User, Ward

EXPORT_COLUMNS = (
    "code",
    "name",
    "kind",
    "ward",
    "latitude",
    "longitude",
    "address",
    "vendor",
    "model",
    "installed_on",
    "status",
    "last_seen_at",
    "tags",
)
REQUIRED_COLUMNS = ("code", "name", "kind", "latitude", "longitude")
# Column -> model field, for the columns an import writes.
COLUMN_FIELDS = {
    "name": "name",
    "kind": "kind",
    "latitude": "latitude",
    "longitude": "longitude",
    "address": "address",
    "vendor": "vendor",
    "model": "model_name",
    "installed_on": "installed_on",
    "status": "status",
    "tags": "tags",
}
FIELD_COLUMNS = {field_name: column for column, field_name in COLUMN_FIELDS.items()}
TAG_SEPARATOR = ";"
BOM = "\ufeff"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV injection"):
# every exported cell that does gets a leading apostrophe (Excel's "this is text"), which
# the import takes off again. Plain numbers ("-10.5") are numbers, not formulas.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


# --- Export -----------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """Any value as a CSV cell that a spreadsheet will not run as a formula: text starting
    with a formula character (after any apostrophes, so that the import's unescaping gives
    back exactly what was exported) gets one apostrophe more. ``csv_lines`` applies it to
    every cell of every export: no screen's export can forget it."""
    text = "" if value is None else str(value)
    if PLAIN_NUMBER.fullmatch(text):
        return text
    return f"'{text}" if text.lstrip("'").startswith(FORMULA_STARTS) else text


def _export_row(row: Mapping[str, Any]) -> list[str]:
    """One device row (``cameras.selectors.device_export_rows``) as CSV cells."""
    seen = row["last_seen_at"]
    cells = {
        "code": row["code"],
        "name": row["name"],
        "kind": row["kind"],
        "ward": row["ward__code"],
        "latitude": str(row["latitude"]),
        "longitude": str(row["longitude"]),
        "address": row["address"],
        "vendor": row["vendor"],
        "model": row["model_name"],
        "installed_on": row["installed_on"].isoformat() if row["installed_on"] else "",
        "status": row["status"],
        "last_seen_at": timezone.localtime(seen).isoformat(timespec="seconds") if seen else "",
        "tags": TAG_SEPARATOR.join(str(tag) for tag in row["tags"] or []),
    }
    return [cells[name] for name in EXPORT_COLUMNS]  # csv_lines guards every cell


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """A CSV file line by line, as Excel reads it: the BOM and header first, then one line
    per row of already formatted cells, each guarded against formulas (``csv_cell``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([csv_cell(cell) for cell in header])
    yield BOM + take()
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
        yield take()


def devices_csv_lines(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The export file, line by line: the BOM and header first, then one line per device."""
    return csv_lines(EXPORT_COLUMNS, (_export_row(row) for row in rows))


def csv_text(value: object) -> str:
    """Any value as a text cell of an exported screen (``csv_lines`` guards it against
    formulas, as every cell)."""
    return "" if value is None else str(value)


def csv_date(value: date | None) -> str:
    """A date as dd/mm/yyyy (the city's format), or an empty cell."""
    return value.strftime("%d/%m/%Y") if value else ""


def csv_datetime(value: datetime | None) -> str:
    """A moment as dd/mm/yyyy hh:mm in the city's time zone, or an empty cell."""
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else ""


# --- Import -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """A problem in the file: its row as a spreadsheet numbers it (the header is row 1;
    None for the file as a whole), the column, and what to fix."""

    row: int | None
    column: str
    message: str


@dataclass
class DeviceImportReport:
    """What an import did; when ``errors`` is not empty it changed nothing."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the file was imported."""
        return not self.errors

    @property
    def rows(self) -> int:
        """How many devices the file holds (when it was read)."""
        return len(self.created) + len(self.updated) + len(self.unchanged)


class _FileRejected(Exception):
    """The file as a whole cannot be read; the message says why."""


def _decode(file_bytes: bytes) -> str:
    """The file's text: UTF-8 with or without a byte order mark, and nothing else."""
    if len(file_bytes) > MAX_FILE_BYTES:
        raise _FileRejected(
            _("The file is larger than %(size)d MB.") % {"size": MAX_FILE_BYTES // 1024 // 1024}
        )
    if file_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileRejected(
            _("The file is UTF-16 text. Save it as “CSV UTF-8 (comma delimited)” and try again.")
        )
    try:
        text = file_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _FileRejected(
            _(
                "The file is not UTF-8 text (byte %(position)d). Is it a CSV file? In Excel, "
                "save it as “CSV UTF-8 (comma delimited)”."
            )
            % {"position": exc.start + 1}
        ) from exc
    text = text.removeprefix(BOM)
    if "\x00" in text:
        raise _FileRejected(_("The file is not a CSV text file."))
    if not text.strip():
        raise _FileRejected(_("The file is empty."))
    return text


def _reader(text: str) -> Any:
    """A CSV reader over the text; semicolons are accepted where Excel used them instead
    of commas (a Vietnamese Windows list separator)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _header(cells: list[str]) -> list[str]:
    """Check the header row: known columns, each once, the required ones present."""
    columns = [cell.strip().lower() for cell in cells]
    unknown = [c for c in columns if c not in EXPORT_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if unknown:
        problems.append(_("unknown columns: %(names)s") % {"names": ", ".join(unknown)})
    if missing:
        problems.append(_("missing columns: %(names)s") % {"names": ", ".join(missing)})
    if repeated:
        problems.append(_("repeated columns: %(names)s") % {"names": ", ".join(repeated)})
    if problems:
        raise _FileRejected(
            _("The first row must name the columns (%(expected)s); %(problems)s.")
            % {"expected": ", ".join(EXPORT_COLUMNS), "problems": "; ".join(problems)}
        )
    return columns


def _untext(value: str) -> str:
    """A text cell without the apostrophe the export puts before formula characters
    (``csv_cell``: one more than the apostrophes already there)."""
    value = value.strip()
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _number(value: str) -> Decimal:
    """A decimal number; a lone comma is taken as the decimal separator (21,5928)."""
    text = value.strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from exc
    if not number.is_finite():
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value})
    return number


def _date(value: str) -> date | None:
    """An optional date, as YYYY-MM-DD or dd/mm/yyyy (how Excel shows it in Vietnam)."""
    text = value.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(
        _("“%(value)s” is not a date (use YYYY-MM-DD or dd/mm/yyyy).") % {"value": value}
    )


def _row_values(cells: Mapping[str, str], errors: list[tuple[str, str]]) -> dict[str, Any]:
    """The model values of one row's cells; each unusable cell adds (column, problem)."""
    values: dict[str, Any] = {}
    for column, field_name in COLUMN_FIELDS.items():
        if column not in cells:
            continue
        raw = cells[column]
        try:
            if column in ("latitude", "longitude"):
                values[field_name] = _number(raw)
            elif column == "installed_on":
                values[field_name] = _date(raw)
            elif column == "kind":
                values[field_name] = raw.strip().lower()
                if values[field_name] not in DeviceKind.values:
                    raise ValueError(
                        _("“%(value)s” is not a kind (%(allowed)s).")
                        % {"value": raw, "allowed": ", ".join(DeviceKind.values)}
                    )
            elif column == "status":
                status = raw.strip().lower()
                if not status:
                    continue  # blank: keep the device's status (new devices start offline)
                if status not in DeviceStatus.values:
                    raise ValueError(
                        _("“%(value)s” is not a status (%(allowed)s).")
                        % {"value": raw, "allowed": ", ".join(DeviceStatus.values)}
                    )
                values[field_name] = status
            elif column == "tags":
                values[field_name] = [
                    tag.strip() for tag in _untext(raw).split(TAG_SEPARATOR) if tag.strip()
                ]
            else:
                values[field_name] = _untext(raw)
        except ValueError as exc:
            errors.append((column, str(exc)))
    if "latitude" in values and "longitude" in values:
        try:
            geo.check_lon_lat(float(values["longitude"]), float(values["latitude"]))
        except geo.GeometryError as exc:
            errors.append(("latitude", str(exc)))
    return values


def _plan_row(
    line: int,
    cells: Mapping[str, str],
    existing: Mapping[str, Device],
    wards: Mapping[str, Ward],
    report: DeviceImportReport,
) -> DevicePlan | None:
    """Validate one row into a plan, or add its errors to the report."""
    code = _untext(cells["code"])
    problems: list[tuple[str, str]] = []
    if not code:
        problems.append(("code", _("A device code is required.")))
    if not _untext(cells["name"]):
        problems.append(("name", _("A name is required.")))
    values = _row_values(cells, problems)
    if problems:
        report.errors.extend(RowError(line, column, message) for column, message in problems)
        return None
    try:
        return device_plan(
            device=existing.get(code),
            code=code,
            values=values,
            ward_code=cells.get("ward", "").strip(),
            wards=wards,
            validate_unique=False,
        )
    except ValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            column = FIELD_COLUMNS.get(field_name, field_name)
            if field_name == "__all__":
                column = ""
            report.errors.extend(RowError(line, column, message) for message in messages)
        return None


def devices_import_csv(*, actor: User, file_bytes: bytes) -> DeviceImportReport:
    """Create or update devices from a CSV file, matched by code; all or nothing.

    Every row is checked first (columns, kind and status values, numbers, dates, the point
    inside a current ward and the ``ward`` column, if given, matching it, the model's own
    validation); any problem is reported with its row number and nothing is changed.
    Otherwise all rows are saved in one transaction, each created or updated device with
    its own audit entry.
    """
    report = DeviceImportReport()
    try:
        text = _decode(file_bytes)
        records = _records(text, report)
    except _FileRejected as exc:
        report.errors.append(RowError(None, "", str(exc)))
        return report
    codes = [_untext(cells["code"]) for _line, cells in records]
    existing = {d.code: d for d in Device.objects.select_related("ward").filter(code__in=codes)}
    wards = {ward.code: ward for ward in Ward.objects.current()}
    seen: dict[str, int] = {}
    plans: list[DevicePlan] = []
    for line, cells in records:
        code = _untext(cells["code"])
        if code and code in seen:
            report.errors.append(
                RowError(
                    line,
                    "code",
                    _("%(code)s is also on row %(row)d.") % {"code": code, "row": seen[code]},
                )
            )
            continue
        seen[code] = line
        plan = _plan_row(line, cells, existing, wards, report)
        if plan is not None:
            plans.append(plan)
    if report.errors:
        return report
    try:
        with transaction.atomic():
            for plan in plans:
                device_plan_apply(plan, actor=actor, reason="CSV import")
    except IntegrityError:
        report.errors.append(
            RowError(
                None, "", _("The registry changed during the import; nothing was saved. Try again.")
            )
        )
        return report
    for plan in plans:
        target = (
            report.created if plan.created else report.updated if plan.changed else report.unchanged
        )
        target.append(plan.device.code)
    return report


def _records(text: str, report: DeviceImportReport) -> list[tuple[int, dict[str, str]]]:
    """The data rows as (spreadsheet row number, column -> cell), blank rows skipped; a row
    with the wrong number of cells is reported and left out."""
    reader = _reader(text)
    try:
        rows = iter(reader)
        header: list[str] | None = None
        records: list[tuple[int, dict[str, str]]] = []
        for cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _header(cells)
                continue
            if len(cells) != len(header):
                report.errors.append(
                    RowError(
                        reader.line_num,
                        "",
                        _("The row has %(cells)d cells; the header has %(columns)d.")
                        % {"cells": len(cells), "columns": len(header)},
                    )
                )
                continue
            records.append((reader.line_num, dict(zip(header, cells, strict=True))))
            if len(records) > MAX_ROWS:
                raise _FileRejected(
                    _("The file has more than %(count)d devices; split it.") % {"count": MAX_ROWS}
                )
    except csv.Error as exc:
        raise _FileRejected(
            _("The file is not a valid CSV file (row %(row)d: %(error)s).")
            % {"row": reader.line_num, "error": exc}
        ) from exc
    if header is None:
        raise _FileRejected(_("The file is empty."))
    if not records and not report.errors:
        raise _FileRejected(_("The file has a header but no devices."))
    return records
