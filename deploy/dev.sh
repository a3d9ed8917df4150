#!/usr/bin/env bash
# Stormwatch developer entry point: servers, tools, venv, and the CLI behind them.
# Usage: bash deploy/dev.sh {services|tools|venv|lint|demo|test|bench|bench-http|serve} [args...]
# See deploy/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

AMQP_URL="${STORMWATCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
REDIS_URL="${STORMWATCH_REDIS_URL:-redis://127.0.0.1:6379/0}"
# the history's tests create and drop a database of their own on this server (tests/integration/history_support.py)
POSTGRES_URL="${STORMWATCH_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
WAIT_SECS="${STORMWATCH_SERVICE_WAIT:-120}"

say()  { printf '%s\n' "$*"; }
warn() { printf 'dev.sh: warning: %s\n' "$*" >&2; }
die()  { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

# Root commands: as is when root, else through sudo when there is one.
SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
as_root() { ${SUDO[@]+"${SUDO[@]}"} "$@"; }

APT_UPDATED=0
apt_install() {  # apt_install PKG... ; quiet, returns non-zero on failure
    command -v apt-get >/dev/null 2>&1 || { warn "apt-get not found; cannot install $*"; return 1; }
    say "apt: installing Debian package(s) $* ${APT_WHY:+($APT_WHY)}"
    local log; log="$(mktemp)"
    if [[ $APT_UPDATED -eq 0 ]]; then
        as_root apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; return 1; }
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1 \
        || { tail -n 20 "$log" >&2; rm -f "$log"; return 1; }
    rm -f "$log"
}

# url_hostport URL DEFAULT_PORT -> "host port" (IPv6 without brackets)
url_hostport() {
    python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
try:
    port = u.port or int(sys.argv[2])
except ValueError as e:
    sys.exit(f"dev.sh: bad port in {sys.argv[1]!r}: {e}")
if not u.hostname:
    sys.exit(f"dev.sh: no host in {sys.argv[1]!r}")
print(u.hostname, port)
PY
}

# probe HOST PORT: 0 when something accepts a TCP connection within 2 s.
probe() {
    python3 - "$1" "$2" <<'PY' 2>/dev/null
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

is_local() { [[ $1 == localhost || $1 == ::1 || $1 == 127.* ]]; }

wait_for() {  # wait_for HOST PORT
    local deadline=$((SECONDS + WAIT_SECS))
    until probe "$1" "$2"; do
        (( SECONDS < deadline )) || return 1
        sleep 1
    done
}

start_redis() {  # start_redis PORT
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server || die "could not install redis-server"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$1" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null \
        || die "redis-server failed to start on port $1 (see /var/log/redis/ci.log)"
}

start_rabbitmq() {  # start_rabbitmq PORT
    command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server || die "could not install rabbitmq-server"
    local env=()
    [[ $1 == 5672 ]] || env=(env "RABBITMQ_NODE_PORT=$1")
    as_root ${env[@]+"${env[@]}"} rabbitmq-server -detached >/dev/null 2>&1 \
        || die "rabbitmq-server -detached failed (see /var/log/rabbitmq/)"
}

start_postgresql() {  # start_postgresql PORT: Debian's cluster (its own port setting), installed when missing
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        apt_install postgresql || die "could not install postgresql"
    fi
    local version; version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # the tests connect as postgres over TCP without a password: trust it from this machine only (a dev or CI box)
    if ! as_root grep -qE '^host[[:space:]]+all[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
        say "postgresql: trusting local TCP connections of postgres in $hba (dev and CI machines only)"
        as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 \
        || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 \
        || die "pg_ctlcluster $version main start failed (see /var/log/postgresql/)"
}

ensure_service() {  # ensure_service NAME URL DEFAULT_PORT
    local name=$1 url=$2 hp host port
    hp="$(url_hostport "$url" "$3")" || exit 1
    host=${hp% *}; port=${hp##* }
    if probe "$host" "$port"; then say "$name: ok at $host:$port"; return; fi
    if ! is_local "$host"; then
        local how
        case $name in
            redis)    how="start Redis there (e.g. redis-server --port $port), or point STORMWATCH_REDIS_URL at a running one" ;;
            rabbitmq) how="start RabbitMQ there (e.g. rabbitmq-server -detached), or point STORMWATCH_AMQP_URL at a running one" ;;
            postgresql) how="start PostgreSQL there, or point STORMWATCH_TEST_POSTGRES_URL at a running one" ;;
        esac
        die "$name: not answering at $host:$port; $how"
    fi
    say "$name: not answering at $host:$port, starting it"
    "start_$name" "$port"
    wait_for "$host" "$port" \
        || die "$name: started but not answering at $host:$port after ${WAIT_SECS}s (logs: /var/log/$name/)"
    if [[ $name == rabbitmq ]] && command -v rabbitmqctl >/dev/null 2>&1; then
        as_root rabbitmqctl -q await_startup --timeout "$WAIT_SECS" >/dev/null 2>&1 \
            || warn "rabbitmqctl await_startup did not confirm; port is open, going on"
    fi
    say "$name: ok at $host:$port (started)"
}

cmd_services() {
    ensure_service rabbitmq "$AMQP_URL" 5672
    ensure_service redis "$REDIS_URL" 6379
    ensure_service postgresql "$POSTGRES_URL" 5432
}

cmd_tools() {
    # tool_install COMMAND PACKAGE... : the Debian packages that provide COMMAND, unless it is on PATH
    APT_WHY="promtool: the metrics tests, deploy/prometheus rules, the real-Prometheus test" \
        tool_install promtool prometheus
    APT_WHY="amtool: checks deploy/alertmanager/alertmanager.yml; drives the Alertmanager API v2 tests" \
        tool_install amtool prometheus-alertmanager
    APT_WHY="systemd-analyze: verifies deploy/systemd/stormwatch.service" tool_install systemd-analyze systemd
    APT_WHY="the web console's browser test (headless Chromium)" tool_install chromium chromium chromium-driver
}

tool_install() {
    local exe=$1; shift
    command -v "$exe" >/dev/null 2>&1 && return
    if apt_install "$@" && command -v "$exe" >/dev/null 2>&1; then
        say "$exe: installed"
    elif [[ ${CI:-} == true ]]; then
        die "$exe missing and Debian package(s) '$*' could not be installed"
    else
        warn "$exe missing (apt-get install $* failed); tests that need it will skip or fail"
    fi
}

# The lock (deploy/README.md, "The lock"): hashed pins for the build backend and runtime + test dependencies,
# installed with plain pip; then Stormwatch itself, editable, with no dependency resolution of its own.
LOCKS=(deploy/requirements-build.lock deploy/requirements-test.lock)

venv_stamp() {  # the content hash of pyproject.toml and the lock files: a change in any re-installs
    cat pyproject.toml "${LOCKS[@]}" | sha256sum | cut -d' ' -f1
}

cmd_venv() {
    if [[ ! -x $VENV/bin/python ]]; then
        if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            local v; v="$("$PYTHON" --version 2>/dev/null)" || v="not found"
            die "Stormwatch needs Python >= 3.11, but '$PYTHON' is ${v:-unknown}; set PYTHON=python3.11 (or newer)"
        fi
        say "venv: creating .venv with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$VENV"
        rm -f "$VENV/.stamp"
    fi
    local want; want="$(venv_stamp)"
    if [[ ! -e $VENV/.stamp || $(cat "$VENV/.stamp") != "$want" ]]; then
        say "venv: installing from the lock (${LOCKS[*]}), then -e . without dependencies"
        rm -f "$VENV/.stamp"  # a failed install must not leave the old stamp behind
        local log; log="$(mktemp)"
        { "$VENV/bin/python" -m pip install -q --require-hashes "${LOCKS[@]/#/-r}" \
            && "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e . ; } >"$log" 2>&1 \
            || { tail -n 30 "$log" >&2; rm -f "$log"; die "venv: pip install failed"; }
        rm -f "$log"
        "$VENV/bin/python" -m pip check >"$VENV/.pip-check" 2>&1 \
            || { cat "$VENV/.pip-check" >&2
                 die "venv: the lock does not satisfy pyproject.toml; refresh it with: bash deploy/lock.sh"; }
        printf '%s\n' "$want" >"$VENV/.stamp"
    fi
}

cmd_lint() {  # ruff and mypy as configured in pyproject.toml (docs/development.md); no services needed
    cmd_venv
    say "lint: ruff check ."
    "$VENV/bin/ruff" check . || die "lint: ruff found problems (above); see docs/development.md"
    say "lint: mypy"
    "$VENV/bin/mypy" || die "lint: mypy found problems (above); see docs/development.md"
}

cmd_test() {
    cmd_services; cmd_tools; cmd_venv
    # The whole suite (no arguments, as `make test` and CI run it) is linted first; a chosen subset is not.
    # On STORMWATCH_TEST_PROCESSES (3) pytest-xdist processes, a test file each at a time: most of the suite waits on
    # the real services, so three processes overlap the waits on two cores; files go out longest first
    # (tests/file_seconds.txt; --no-loadscope-reorder keeps that order: docs/development.md).
    (( $# )) || { cmd_lint; set -- -q -n "${STORMWATCH_TEST_PROCESSES:-3}" --dist loadfile --no-loadscope-reorder; }
    local rc=0
    "$VENV/bin/python" -m pytest "$@" || rc=$?
    (( rc != 5 )) || say "dev.sh: pytest collected no tests; counted as a failure" >&2
    exit "$rc"
}

bench_tools() {  # wrk and Alertmanager are needed by the benchmarks against Alertmanager only, never by the tests
    command -v wrk >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1 \
        || apt_install wrk prometheus-alertmanager || die "could not install wrk and prometheus-alertmanager"
}

cmd_bench_http() {
    bench_tools
    cmd_run bench-http "$@"
}

cmd_bench() {  # `bench --against alertmanager` needs them too
    [[ " $* " == *" --against "* || " $* " == *" --against="* ]] && bench_tools
    cmd_run bench "$@"
}

cmd_run() {  # demo | bench | bench-http | serve
    local sub=$1; shift
    cmd_services; cmd_venv
    exec "$VENV/bin/stormwatch" "$sub" "$@"
}

sub="${1:-}"; (( $# )) && shift
case $sub in
    services) cmd_services ;;
    tools)    cmd_tools ;;
    venv)     cmd_venv ;;
    lint)     cmd_lint ;;
    test)     cmd_test "$@" ;;
    demo|serve) cmd_run "$sub" "$@" ;;
    bench)      cmd_bench "$@" ;;
    bench-http) cmd_bench_http "$@" ;;
    *) die "usage: deploy/dev.sh {services|tools|venv|lint|demo|test|bench|bench-http|serve} [args...]" ;;
esac
