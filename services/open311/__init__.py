"""Open311 GeoReport v2: the endpoints (``views``), how they answer (``protocol``) and how
they read what clients send (``params``)."""
