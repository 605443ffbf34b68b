#!/bin/sh
# providers_test.sh - the HTTP LM providers (openai, anthropic, ollama)
# end to end over real HTTP on loopback, against `promptc sim-server`:
# - an eval through each provider, streamed and not, scores exactly like
#   the in-process sim with the same seed (same score, same outputs);
# - 401 and context-length errors fail at once with the server's message
#   and are not retried;
# - an API key planted in the environment appears in no output, file,
#   cache, run store or history.
# The fault-injection test is providers_faults_test.sh.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

E="$PC_TEST_SRCDIR/../examples/triage"
command -v python3 >/dev/null || { echo "skip: python3 is needed"; exit 77; }

# The key lives only in the environment; every file this test makes goes
# under $pc_tmp, which is searched for it at the end.
PC_TEST_KEY="sk-planted-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export PC_TEST_KEY
export XDG_STATE_HOME="$pc_tmp/state" XDG_CACHE_HOME="$pc_tmp/cache"

servers=""
cleanup() {
  for p in $servers; do kill "$p" 2>/dev/null; done
  for p in $servers; do wait "$p" 2>/dev/null; done
  rm -rf "$pc_tmp"
}
trap cleanup EXIT

# start_server NAME ARGS...: a sim-server on an ephemeral port; sets
# $port. Its output goes to $pc_tmp/NAME.log.
start_server() {
  name=$1; shift
  rm -f "$pc_tmp/$name.port"
  "$PC_PROMPTC" sim-server --listen 127.0.0.1:0 --config "$E/sim.json" \
    --port-file "$pc_tmp/$name.port" --model-name sim-1 "$@" \
    >"$pc_tmp/$name.log" 2>&1 &
  servers="$servers $!"
  i=0
  while [ ! -s "$pc_tmp/$name.port" ] && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
  done
  port=$(cat "$pc_tmp/$name.port" 2>/dev/null)
  if [ -n "$port" ]; then ok "sim-server $name listens on $port"
  else not_ok "sim-server $name did not start"; cat "$pc_tmp/$name.log"
       finish; fi
}

# stats PORT EXPR: evaluate a python expression over the server's /stats
# (bound to s) and print it.
stats() {
  python3 - "$1" "$2" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/stats")
s = json.loads(c.getresponse().read())
print(eval(sys.argv[2]))
PY
}

# config NAME PROVIDER BASE_URL EXTRA_JSON: a run config for the triage
# example through a provider.
config() {
  python3 - "$pc_tmp/$1.json" "$2" "$3" "$4" "$E" <<'PY'
import json, sys
path, provider, base, extra, ex = sys.argv[1:6]
lm = {"provider": provider, "model": "sim-1", "base_url": base,
      "api_key": "env:PC_TEST_KEY"}
lm.update(json.loads(extra))
json.dump({"lm": lm, "adapter": "chat",
           "metric": {"name": "exact_match", "field": "queue"},
           "eval": {"max_errors": 100000}, "concurrency": 8},
          open(path, "w"))
PY
}

start_server main --api-key env:PC_TEST_KEY
base="http://127.0.0.1:$port"

# The reference: the in-process sim.
run_promptc 0 eval "$E/program.json" --config "$E/sim.json" \
  --data "$E/data/dev.jsonl" --no-cache --no-progress --json \
  --results "$pc_tmp/ref.jsonl"
cp "$pc_tmp/out" "$pc_tmp/ref.json"

# same_results A B: the same outputs, scores and errors per example.
same_results() {
  python3 - "$1" "$2" <<'PY'
import json, sys
def rows(p):
    return [(r["id"], r["outputs"], r["score"], r["error"] is None)
            for r in map(json.loads, open(p))]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a == b and len(a) == 100 else 1)
PY
}

for provider in openai anthropic ollama; do
  case $provider in
    openai) url="$base/v1" ;;
    *) url="$base" ;;
  esac
  for stream in false true; do
    name="$provider-$stream"
    config "$name" "$provider" "$url" "{\"stream\": $stream}"
    run_promptc 0 eval "$E/program.json" --config "$pc_tmp/$name.json" \
      --data "$E/data/dev.jsonl" --no-cache --no-progress --json \
      --results "$pc_tmp/$name.jsonl"
    cp "$pc_tmp/out" "$pc_tmp/$name.out"
    check "$provider (stream $stream): the score equals the in-process sim's" \
      python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a["score"]==b["score"] and a["evaluated"]==b["evaluated"] else 1)' \
      "$pc_tmp/ref.json" "$pc_tmp/$name.out"
    check "$provider (stream $stream): every example's outputs equal the sim's" \
      same_results "$pc_tmp/ref.jsonl" "$pc_tmp/$name.jsonl"
  done
done
check "openai records the served model and fingerprint" \
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["served"]; sys.exit(0 if s["model"]=="sim-1" and s["system_fingerprint"].startswith("fp_") else 1)' \
  "$pc_tmp/openai-false.out"
check "ollama records the model digest" \
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["served"]; sys.exit(0 if len(s["digest"])==64 else 1)' \
  "$pc_tmp/ollama-false.out"
check "the server answered every streamed and plain request" \
  test "$(stats "$port" 's["by_outcome"]["ok"] >= 600')" = True

# Drift: the server changes its fingerprint after 30 answers; the run
# says so once, flags and counts the calls that came after.
start_server drift --drift-after 30 --api-key env:PC_TEST_KEY
config drift openai "http://127.0.0.1:$port/v1" '{}'
run_promptc 0 eval "$E/program.json" --config "$pc_tmp/drift.json" \
  --data "$E/data/dev.jsonl" --no-cache --no-progress --json --threads 1
contains "$pc_tmp/err" "the served model changed during the run"
check "the warning is logged once" \
  test "$(grep -c 'served model changed' "$pc_tmp/err")" = 1
check "every answer after the change counts as drift" \
  python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["usage"]; sys.exit(0 if u["drifts"]==u["provider_calls"]-30 else 1)' \
  "$pc_tmp/out"

# 401: a wrong key fails at once with the server's message, no retry.
PC_OTHER_KEY="sk-other-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
export PC_OTHER_KEY
start_server auth --api-key env:PC_OTHER_KEY
config auth openai "http://127.0.0.1:$port/v1" '{"retry": {"max_retries": 5}}'
run_promptc 1 run "$E/program.json" --config "$pc_tmp/auth.json" \
  --input-json @"$E/input.json" --no-cache
contains "$pc_tmp/err" "HTTP 401"
contains "$pc_tmp/err" "Incorrect API key provided"
check "a 401 is not retried (one request reached the server)" \
  test "$(stats "$port" 's["by_outcome"]["unauthorized"]')" = 1
for provider in anthropic ollama; do
  config "auth-$provider" $provider "http://127.0.0.1:$port" '{}'
  # Ollama's identity reads /api/tags when the role opens, so its 401 may
  # come before the run (exit 4) rather than from the call (exit 1).
  "$PC_PROMPTC" run "$E/program.json" --config "$pc_tmp/auth-$provider.json" \
    --input-json @"$E/input.json" --no-cache >"$pc_tmp/out" 2>"$pc_tmp/err"
  st=$?
  check "$provider: a wrong key fails (exit $st)" test "$st" -eq 1 -o "$st" -eq 4
  contains "$pc_tmp/err" "401"
done

# Context length: fails at once, with the server's message.
start_server ctx --max-context-tokens 50 --api-key env:PC_TEST_KEY
config ctx openai "http://127.0.0.1:$port/v1" '{"retry": {"max_retries": 5}}'
run_promptc 1 run "$E/program.json" --config "$pc_tmp/ctx.json" \
  --input-json @"$E/input.json" --no-cache
contains "$pc_tmp/err" "maximum context length is 50 tokens"
check "a context-length error is not retried" \
  test "$(stats "$port" 's["by_outcome"]["context_length"]')" = 1

# An api_key that is not a reference is refused without being echoed.
config literal openai "$base/v1" '{"api_key": "sk-literal-not-a-reference"}'
run_promptc 3 run "$E/program.json" --config "$pc_tmp/literal.json" \
  --input-json @"$E/input.json" --no-cache
contains "$pc_tmp/err" "secret reference"
check "a literal key is not echoed" \
  sh -c '! grep -q sk-literal-not-a-reference "$1"' _ "$pc_tmp/err"

# A file: reference works like env: (the file lives outside $pc_tmp).
keydir=$(mktemp -d "${TMPDIR:-/tmp}/pckey.XXXXXX")
printf '%s\n' "$PC_TEST_KEY" >"$keydir/key"
config filekey openai "$base/v1" "{\"api_key\": \"file:$keydir/key\"}"
run_promptc 0 run "$E/program.json" --config "$pc_tmp/filekey.json" \
  --input-json @"$E/input.json" --no-cache
rm -rf "$keydir"

# History and the cache hold no key either: make some with the cache on.
run_promptc 0 eval "$E/program.json" --config "$pc_tmp/openai-false.json" \
  --data "$E/data/dev.jsonl" --no-progress
run_promptc 0 history --last 5 --messages

# The planted key: in no file under $pc_tmp (configs, results, outputs,
# logs, the cache and the run store), which also holds every stdout and
# stderr above.
check "the planted API key appears in no output or file" \
  sh -c '! grep -r -a -l -F "$PC_TEST_KEY" "$1"' _ "$pc_tmp"

finish
