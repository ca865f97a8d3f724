FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 VAR_DIR=/srv/var
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 incidentcenter
WORKDIR /srv/app
COPY pyproject.toml README.md ./
COPY incidentcenter incidentcenter
COPY apps apps
RUN pip install .
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput \
    && mkdir -p /srv/var && chown -R incidentcenter /srv/var
USER incidentcenter
EXPOSE 8000
# uvicorn: it fans a live update out to many open pages faster than daphne (benchmarks/README.md,
# health_fanout.py). A deep listen backlog: when an incident starts, everyone opens the board at
# once. FORWARDED_ALLOW_IPS names the reverse proxy whose X-Forwarded-* headers are trusted.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["uvicorn", "incidentcenter.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--backlog", "2048", \
     "--lifespan", "off", "--proxy-headers"]
