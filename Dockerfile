# One image, several roles (web, worker, beat, listener): the compose file picks the command.
# Pure-Python wheels and manylinux/musllinux-free deps only, so amd64 and arm64 both build.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    DATA_DIR=/app/data

WORKDIR /app
RUN groupadd --system powersync && useradd --system --gid powersync --home /app powersync
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --chown=powersync:powersync . .
RUN mkdir -p /app/data && chown powersync:powersync /app/data \
    && SECRET_KEY=build-only-collectstatic-key-not-used-at-run-time-0123456789abcdef \
       CREDENTIALS_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXNlY3JldCE= \
       python manage.py collectstatic --noinput

USER powersync
EXPOSE 8000
CMD ["gunicorn", "powersync_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30", "--access-logfile", "-"]
