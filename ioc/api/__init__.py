"""The core's REST API: wards (``wards``), alerts (``alerts``), incidents (``incidents``),
and the staff actions by name that the API and the staff pages share (``actions``)."""
