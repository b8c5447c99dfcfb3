"""The simulated demo city (``manage.py simulate``): devices that behave like real ones.

``model`` decides what each device reports and when (pure Python, testable with a fake
clock); ``app`` serves the devices' own endpoints (camera health and snapshots, signal
controllers); ``pusher`` delivers events to the ingest API like a ward gateway does;
``runner`` wires them to the database's demo devices and runs them.
"""
