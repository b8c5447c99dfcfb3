"""The simulated demo city (``manage.py simulate``): devices that behave like real ones.

``model`` decides what each device reports and when (pure Python, testable with a fake
clock); ``app`` serves the devices' own endpoints (camera health and snapshots, signal
controllers); ``clips`` encodes the cameras' video once and ``rtsp`` streams it (with
``rtp`` and, for the latency bench, ``clock``); ``pusher`` delivers events to the ingest
API like a ward gateway does; ``runner`` wires them to the database's demo devices and
runs them.
"""
