#!/bin/sh
# providers_faults_test.sh - the host's retry policy over real HTTP: with
# 20% 429s, 10% 500s, 5% stalls past the client timeout (2 s) and 5% truncated
# bodies injected by `promptc sim-server`, an eval of 300 examples through
# lm-openai scores every example exactly as the in-process sim does and
# counts its retries; with retries off, the failures are reported per
# example and none is lost.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

E="$PC_TEST_SRCDIR/../examples/triage"
command -v python3 >/dev/null || { echo "skip: python3 is needed"; exit 77; }
export XDG_STATE_HOME="$pc_tmp/state" XDG_CACHE_HOME="$pc_tmp/cache"

server=""
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$pc_tmp"' EXIT

# All three splits: 300 examples the sim knows.
cat "$E/data/train.jsonl" "$E/data/dev.jsonl" "$E/data/test.jsonl" \
  >"$pc_tmp/all.jsonl"

"$PC_PROMPTC" sim-server --listen 127.0.0.1:0 --config "$E/sim.json" \
  --port-file "$pc_tmp/port" --model-name sim-1 --seed 4 \
  --fail-429 0.20 --retry-after ms:20 --fail-500 0.10 --stall 0.05 \
  --stall-ms 4000 --truncate 0.05 >"$pc_tmp/server.log" 2>&1 &
server=$!
i=0
while [ ! -s "$pc_tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$pc_tmp/port" 2>/dev/null)
[ -n "$port" ] || { not_ok "sim-server did not start"; cat "$pc_tmp/server.log"; finish; }

stats() {
  python3 - "$port" "$1" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request(sys.argv[2].split()[0], sys.argv[2].split()[1])
print(c.getresponse().read().decode())
PY
}

# config NAME MAX_RETRIES
config() {
  cat >"$pc_tmp/$1.json" <<JSON
{"lm": {"provider": "openai", "model": "sim-1",
        "base_url": "http://127.0.0.1:$port/v1", "timeout": 2,
        "retry": {"max_retries": $2, "initial_backoff_ms": 10,
                  "max_backoff_ms": 100}},
 "adapter": "chat", "metric": {"name": "exact_match", "field": "queue"},
 "eval": {"max_errors": 100000}, "concurrency": 16}
JSON
}

run_promptc 0 eval "$E/program.json" --config "$E/sim.json" \
  --data "$pc_tmp/all.jsonl" --no-cache --no-progress --json \
  --results "$pc_tmp/ref.jsonl"
cp "$pc_tmp/out" "$pc_tmp/ref.json"

config retry 12
stats "POST /stats/reset" >/dev/null
run_promptc 0 eval "$E/program.json" --config "$pc_tmp/retry.json" \
  --data "$pc_tmp/all.jsonl" --no-cache --no-progress --json \
  --results "$pc_tmp/faults.jsonl"
cp "$pc_tmp/out" "$pc_tmp/faults.json"
stats "GET /stats" >"$pc_tmp/stats.json"
python3 - "$pc_tmp/ref.json" "$pc_tmp/faults.json" "$pc_tmp/stats.json" \
  "$pc_tmp/ref.jsonl" "$pc_tmp/faults.jsonl" <<'PY' >"$pc_tmp/report"
import json, sys
ref, got, st = (json.load(open(p)) for p in sys.argv[1:4])
rows = lambda p: [(r["id"], r["outputs"], r["score"]) for r in map(json.loads, open(p))]
o = st["by_outcome"]
print("faults injected: 429 %d, 500 %d, stalled %d, truncated %d, ok %d"
      % (o["rate_limited"], o["error_500"], o["stalled"], o["truncated"], o["ok"]))
print("eval: %d of %d scored, lm errors %d, score %.4f (sim %.4f), retries %d"
      " (%d after a 429)" % (got["evaluated"], got["examples"], got["errors"]["lm"],
      got["score"], ref["score"], got["usage"]["retries"],
      got["usage"]["rate_limited"]))
checks = {
  "every fault kind was injected": all(o[k] > 0 for k in
      ("rate_limited", "error_500", "stalled", "truncated")),
  "every example scored, no LM error": got["evaluated"] == 300 and
      got["errors"]["lm"] == 0 and got["errors"] == ref["errors"],
  "the score equals the fault-free sim's": got["score"] == ref["score"],
  "every example's outputs equal the sim's": rows(sys.argv[4]) == rows(sys.argv[5]),
  # Every try is one request the server saw; every injected fault cost a
  # retry (a slow machine may add retries of its own after a timeout, so
  # the second is at least, not equal).
  "the summary counts every try": got["usage"]["provider_calls"] +
      got["usage"]["retries"] == st["requests"],
  "every fault was retried": got["usage"]["retries"] >=
      o["rate_limited"] + o["error_500"] + o["stalled"] + o["truncated"],
  "429s are counted apart": got["usage"]["rate_limited"] == o["rate_limited"],
}
for k, v in checks.items():
    print(("ok - " if v else "not ok - ") + k)
PY
cat "$pc_tmp/report"
check "every retry check passed" sh -c '! grep -q "^not ok" "$1"' _ "$pc_tmp/report"
contains "$pc_tmp/faults.json" '"retries"'

# Retries off: the failures are reported per example, none lost.
config noretry 0
run_promptc 0 eval "$E/program.json" --config "$pc_tmp/noretry.json" \
  --data "$pc_tmp/all.jsonl" --no-cache --no-progress --json \
  --results "$pc_tmp/noretry.jsonl"
python3 - "$pc_tmp/out" "$pc_tmp/noretry.jsonl" <<'PY' >"$pc_tmp/report"
import json, sys
s = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
failed = [r for r in rows if r["error"]]
print("retries off: %d of 300 examples failed, e.g. %s" % (len(failed),
      failed[0]["error"] if failed else "-"))
checks = {
  "every example has a result row": len(rows) == 300,
  "some examples failed": len(failed) > 0,
  "the summary counts every failure": s["errors"]["total"] == len(failed),
  "the injected faults are LM errors": s["errors"]["lm"] > 0,
  "nothing was retried": s["usage"]["retries"] == 0,
}
for k, v in checks.items():
    print(("ok - " if v else "not ok - ") + k)
PY
cat "$pc_tmp/report"
check "every no-retry check passed" sh -c '! grep -q "^not ok" "$1"' _ "$pc_tmp/report"

finish
