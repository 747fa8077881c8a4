#!/usr/bin/env bash
# Runs the whole Campus test suite.
#   - installs Mosquitto, PostgreSQL and Chromium with apt-get when they are missing;
#   - starts one Mosquitto and one PostgreSQL on free loopback ports, each with its own data
#     folder under .test-services/, and tells the tests where they are (CAMPUS_TEST_MQTT,
#     CAMPUS_TEST_POSTGRES); tests that must stop or restart a broker start their own;
#   - builds Campus.sln and runs every tests/*.Tests project (a failed project is rerun once and,
#     if it then passes, named FLAKY in the output), stops what it started, and prints
#     one summary line: "Tests: N passed, N failed, N skipped". The exit code is the result.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)
services="$root/.test-services"
results="$root/TestResults"

log() { printf '[test.sh] %s\n' "$*" >&2; }

# --- install what is missing -------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
[ -n "$(pg_bin)" ] || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { log "apt-get install failed"; exit 1; }
fi
PATH="$PATH:/usr/sbin:$(pg_bin)"

# Ports for the services come from below the kernel's ephemeral range: a port there may be the local end
# of an outgoing connection, or of thousands in TIME_WAIT after a benchmark, and then the bind fails.
ephemeral_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "${ephemeral_low:-0}" -gt 12000 ] || ephemeral_low=32768
free_port() {
  local p
  while :; do
    p=$(( 10000 + RANDOM % (ephemeral_low - 10000) ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() { # port what
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  log "$2 did not start listening on 127.0.0.1:$1"; return 1
}

# --- start the services ------------------------------------------------------------------
rm -rf "$services" "$results"
mkdir -p "$services/mosquitto" "$services/postgres"
started_mosquitto=""; started_postgres=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop_services() {
  if [ -n "$started_mosquitto" ]; then kill "$started_mosquitto" 2>/dev/null; wait "$started_mosquitto" 2>/dev/null; fi
  if [ -n "$started_postgres" ]; then as_pg pg_ctl -D "$services/postgres/data" -m fast stop >/dev/null 2>&1; fi
  rm -rf "$services"
}
trap stop_services EXIT

mqtt_port=$(free_port)
cat > "$services/mosquitto/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
user root
persistence false
log_dest file $services/mosquitto/mosquitto.log
max_queued_messages 100000
CONF
mosquitto -c "$services/mosquitto/mosquitto.conf" >/dev/null 2>&1 &
started_mosquitto=$!
wait_port "$mqtt_port" mosquitto || exit 1
export CAMPUS_TEST_MQTT="127.0.0.1:$mqtt_port"
log "mosquitto on $CAMPUS_TEST_MQTT"

pg_port=$(free_port)
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$services/postgres"
as_pg initdb -D "$services/postgres/data" -U campus -A trust --no-sync >"$services/initdb.log" 2>&1 \
  || { log "initdb failed:"; cat "$services/initdb.log" >&2; exit 1; }
as_pg pg_ctl -D "$services/postgres/data" -l "$services/postgres/log" -w \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $services/postgres -c fsync=off -c max_connections=400" start >/dev/null \
  || { log "postgres did not start:"; cat "$services/postgres/log" >&2; exit 1; }
started_postgres=1
export CAMPUS_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=campus;Database=postgres;Pooling=false"
log "postgresql on 127.0.0.1:$pg_port"

# --- build, then run each test project ---------------------------------------------------
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if ! dotnet build Campus.sln -c Debug -nologo -v quiet -clp:ErrorsOnly; then
  echo "Tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
run_project() { # project name trx-file
  dotnet test "$1" -c Debug --no-build -nologo \
    --logger "trx;LogFileName=$3" --logger "console;verbosity=minimal" --results-directory "$results" \
    --blame-hang-timeout 8m
}
status=0
flaky=()
for project in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  log "running $name"
  if ! run_project "$project" "$name" "$name.trx"; then
    # One rerun of a failed project, reported loudly: a test that fails twice fails the suite,
    # and a pass on the rerun is named as flaky below (its first results are kept in .first.trx).
    mv "$results/$name.trx" "$results/$name.first.trx" 2>/dev/null
    log "rerunning $name once after a failure"
    if run_project "$project" "$name" "$name.trx"; then flaky+=("$name"); else status=1; fi
  fi
done

# --- sum every project's results ----------------------------------------------------------
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  case "$trx" in *.first.trx) continue ;; esac
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout); a=$(get aborted)
  total=$(get total); executed=$(get executed) # skipped tests are the ones not executed
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
  skipped=$((skipped + ${total:-0} - ${executed:-0}))
done
# A crashed or hung test host can leave no failed count behind: never report success then.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
for name in "${flaky[@]}"; do
  failed_first=$(grep -o '<UnitTestResult [^>]*outcome="Failed"' "$results/$name.first.trx" | sed -n 's/.*testName="\([^"]*\)".*/\1/p' | tr '\n' ' ')
  log "FLAKY: $name failed once and passed on its rerun: $failed_first"
done
echo "Tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
