#!/usr/bin/env bash
# Writes the Compose stack's secrets once: deploy/secrets.env (env file) and deploy/secrets/* (Compose secrets),
# each a fresh random value, readable by the owner only. Existing files are kept (delete them to rotate).
# Nothing here is committed: .gitignore lists secrets.env and secrets/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
umask 077
rand() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
mkdir -p secrets
[[ -e secrets/stormwatch_ingest_token ]] || rand >secrets/stormwatch_ingest_token
[[ -e secrets/grafana_admin_password ]] || rand >secrets/grafana_admin_password
if [[ ! -e secrets.env ]]; then
    rabbit="$(rand)"
    cat >secrets.env <<ENV
# RabbitMQ's first user (read by the rabbitmq image on its first start only) and Stormwatch's URL to it.
RABBITMQ_DEFAULT_USER=stormwatch
RABBITMQ_DEFAULT_PASS=$rabbit
STORMWATCH_AMQP_URL=amqp://stormwatch:$rabbit@rabbitmq:5672/
# name:role:token entries (docs/api.md). Prometheus and Alertmanager post with the ingest token in
# secrets/stormwatch_ingest_token; give people their own read/respond/admin tokens.
STORMWATCH_API_TOKENS=prometheus:ingest:$(cat secrets/stormwatch_ingest_token),admin:admin:$(rand)
ENV
fi
printf 'compose-secrets: deploy/secrets.env and deploy/secrets/ are in place; the admin token is in secrets.env\n'
