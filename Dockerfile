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
# A deep listen backlog and a longer handshake timeout: when an incident starts, everyone opens
# the board at once (README "Deployment": how many processes to run).
CMD ["daphne", "-e", "tcp:port=8000:interface=0.0.0.0:backlog=2048", "--websocket_connect_timeout", "30", \
     "--proxy-headers", "incidentcenter.asgi:application"]
