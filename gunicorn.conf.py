"""gunicorn's settings file, read from the working directory (gunicorn's default
``./gunicorn.conf.py``) wherever the platform runs gunicorn: `make serve` (Procfile), the
Docker image and the benches. Their command lines set the address and the workers."""

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Once a worker has loaded Django, do what its first request would otherwise pay for
    (``ioc.warmup``: views, URL tables, catalogues, templates, about 300 ms), then move
    what it allocated (about 100,000 objects) to the collector's permanent generation: a
    request that builds many rows (the city map's 50,000 features) then no longer pays for
    a full collection that rescans all of them."""
    from ioc.warmup import warm_up

    warm_up()
    gc.freeze()
