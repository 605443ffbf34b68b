#!/bin/sh
# bench_http.sh - `make bench`: LM calls over real HTTP on loopback.
#
# 1. Eval throughput through lm-openai against `promptc sim-server` with
#    50 ms of latency per request, at concurrency 1, 16 and 128, next to
#    the ideal (concurrency / latency). The data is made here: triage-like
#    tickets the sim knows, enough that every concurrency stays busy.
# 2. BootstrapFewShot on examples/triage at 8 threads with 100 ms per call:
#    the in-process sim (latency_ms) against lm-openai + sim-server.
# Figures only: nothing here passes or fails on time.
set -eu
E="$PC_TEST_SRCDIR/../examples/triage"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcbench.XXXXXX")
server=""
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state" XDG_CACHE_HOME="$tmp/cache"

python3 - "$E/data/dev.jsonl" "$tmp/data.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    for i in range(4000):
        r = dict(rows[i % len(rows)])
        r["id"] = "b%05d" % i
        r["ticket"] = "Ticket %d.\n\n%s" % (i, r["ticket"])
        f.write(json.dumps(r) + "\n")
PY
head -n 100 "$tmp/data.jsonl" >"$tmp/data100.jsonl"
head -n 800 "$tmp/data.jsonl" >"$tmp/data800.jsonl"
sed -e "s|\"data/train.jsonl\", \"data/dev.jsonl\", \"data/test.jsonl\"|\"$tmp/data.jsonl\", \"$E/data/train.jsonl\", \"$E/data/dev.jsonl\"|" \
  "$E/sim.json" >"$tmp/sim.json"

start_server() {  # start_server SIM_CONFIG LATENCY_MS
  rm -f "$tmp/port"
  "$PC_PROMPTC" sim-server --listen 127.0.0.1:0 --config "$1" \
    --port-file "$tmp/port" --model-name sim-1 --latency-ms "$2" \
    >"$tmp/server.log" 2>&1 &
  server=$!
  i=0
  while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  port=$(cat "$tmp/port")
  cat >"$tmp/openai.json" <<JSON
{"lm": {"provider": "openai", "model": "sim-1",
        "base_url": "http://127.0.0.1:$port/v1"},
 "adapter": "chat", "metric": {"name": "exact_match", "field": "queue"},
 "eval": {"max_errors": 100000}}
JSON
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

echo "eval through lm-openai -> sim-server (50 ms per request):"
start_server "$tmp/sim.json" 50
for spec in "1 data100" "16 data800" "128 data"; do
  set -- $spec
  start=$(date +%s.%N)
  "$PC_PROMPTC" eval "$E/program.json" --config "$tmp/openai.json" \
    --data "$tmp/$2.jsonl" --threads "$1" --no-cache --no-progress --json \
    >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  end=$(date +%s.%N)
  python3 - "$tmp/out" "$1" "$start" "$end" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
c, secs = int(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3])
calls = o["usage"]["provider_calls"]
print("  concurrency %3d: %5d calls in %6.2f s = %7.1f calls/s"
      "  (ideal %6.1f, %3.0f%%)  score %.4f" % (c, calls, secs, calls / secs,
      c / 0.05, 100 * calls / secs / (c / 0.05), o["score"]))
PY
done
stop_server

echo "bootstrap on examples/triage, 8 threads, 100 ms per LM call:"
sed -e "s|\"data/|\"$E/data/|g" -e 's|"seed": 7,|"seed": 7, "latency_ms": 100,|' \
  "$E/sim.json" >"$tmp/slow.json"
sed -e "s|\"data/|\"$E/data/|g" "$E/sim.json" >"$tmp/sim-triage.json"
start_server "$tmp/sim-triage.json" 100
cp "$tmp/openai.json" "$tmp/openai-triage.json"
for cfg in slow openai-triage; do
  start=$(date +%s.%N)
  "$PC_PROMPTC" compile "$E/program.json" --config "$tmp/$cfg.json" \
    --train "$E/data/train.jsonl" --val "$E/data/dev.jsonl" \
    --optimizer bootstrap --threads 8 --no-cache --no-progress \
    --runs "$tmp/runs.sqlite" --json -o "$tmp/$cfg.out.json" >"$tmp/out" \
    2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  end=$(date +%s.%N)
  python3 - "$tmp/out" "$cfg" "$start" "$end" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
u = o["usage"]
name = {"slow": "in-process sim", "openai-triage": "lm-openai + sim-server"}[sys.argv[2]]
print("  %-24s val %6.2f -> %6.2f  provider calls %5d  %6.2f s" % (name,
      o["baseline"]["score"], o["compiled"]["score"], u["provider_calls"],
      float(sys.argv[4]) - float(sys.argv[3])))
PY
done
