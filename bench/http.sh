#!/usr/bin/env bash
# The HTTP benchmark harness: the release build of an example app under wrk,
# on the in-memory store and on a local memcached, for these requests, spread
# round-robin over 256 sessions:
#   GET /nope    no session touched (a 404: the layer's floor),
#   GET /prefs   a session read (one load-and-touch),
#   GET /visits  a session read and written (load-and-touch, then a CAS save),
# and GET /visits with every connection on one session, the worst case for
# compare-and-set: each save that loses retries, up to the manager's budget,
# and a request that runs out answers 503.
# Usage: bench/http.sh [example-axum] [seconds per run]. Needs wrk and memcached
# (apt-get install wrk memcached). wrk, the app and memcached share the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
app=${1:-example-axum}
seconds=${2:-10}
connections=32

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v memcached >/dev/null || { echo "memcached is missing: apt-get install memcached" >&2; exit 1; }
cargo build --release --quiet -p "$app"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

mc_port=$(free_port)
memcached -u root -l 127.0.0.1 -p "$mc_port" -U 0 -t 1 &
pids+=($!)
export SESSION_SECRET=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

echo "| store | request | requests/s | p50 latency | p99 latency | non-2xx/3xx |"
echo "|---|---|---:|---:|---:|---:|"
for store in memory "memcached://127.0.0.1:$mc_port"; do
    port=$(free_port)
    "target/release/$app" --listen "127.0.0.1:$port" --store "$store" >/dev/null 2>&1 &
    pid=$!
    pids+=($pid)
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/nope" && break; sleep 0.1; done
    cookies=$(mktemp)
    for _ in $(seq 256); do
        curl -s -D - -o /dev/null "http://127.0.0.1:$port/visits" | sed -n 's/^set-cookie: \([^;]*\).*/\1/ip' >>"$cookies"
    done
    for run in /nope /prefs /visits hot:/visits; do
        path=${run#hot:}
        if [ "$run" = "$path" ]; then
            label="GET $path"
            out=$(COOKIES=$cookies wrk -t1 -c"$connections" -d"${seconds}s" --latency -s bench/round-robin.lua "http://127.0.0.1:$port$path")
        else
            label="GET $path, one session"
            out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -H "Cookie: $(head -1 "$cookies")" "http://127.0.0.1:$port$path")
        fi
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        other=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
        echo "| ${store%%://*} | $label | $rps | $p50 | $p99 | ${other:-0} |"
    done
    rm -f "$cookies"
    kill "$pid"
done
