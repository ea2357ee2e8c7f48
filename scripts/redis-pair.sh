#!/usr/bin/env bash
# Two chat instances on one Redis, as a load balancer would see them: redis-server (AOF, fsync
# always) on 127.0.0.1:6379 in a temporary directory, eddy on :8081 and :8082. Ctrl-C stops all
# three. Usage: bash scripts/redis-pair.sh [runtime: start | start:bun | start:deno] [extra flags]
set -euo pipefail
cd "$(dirname "$0")/.."
script="${1:-start}"
shift || true
dir="$(mktemp -d)"
redis-server --port 6379 --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes --appendfsync always \
  --daemonize no --loglevel warning &
redis=$!
pids=("$redis")
stop() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT INT TERM
until redis-cli -p 6379 ping >/dev/null 2>&1; do sleep 0.1; done
for port in 8081 8082; do
  npm run -s "$script" -- --port "$port" --redis redis://127.0.0.1:6379 "$@" &
  pids+=("$!")
done
echo "redis on 127.0.0.1:6379 ($dir); chat on http://127.0.0.1:8081 and http://127.0.0.1:8082"
wait -n
