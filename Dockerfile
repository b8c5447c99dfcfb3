# The production image: one image for web, workers and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app \
    IOC_VAR_DIR=/var/lib/ioc IOC_STATIC_ROOT=/app/static IOC_HOST=0.0.0.0
WORKDIR /app
# FFmpeg (Debian's, with libx264 and libx265): the video relay's pulls.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY ioc ioc
COPY cameras cameras
COPY services services
COPY dashboards dashboards
RUN pip install --upgrade pip && pip install .
COPY manage.py gunicorn.conf.py ./
COPY templates templates
COPY locale locale
# collectstatic needs settings but no database or Redis.
RUN DJANGO_SECRET_KEY=build-only IOC_STATIC_MANIFEST=1 python manage.py collectstatic --noinput -v0

RUN useradd --system --home /var/lib/ioc ioc && mkdir -p /var/lib/ioc && chown ioc /var/lib/ioc
USER ioc
EXPOSE 8000 8001
CMD ["gunicorn", "ioc.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
