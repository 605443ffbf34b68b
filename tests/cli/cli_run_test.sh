#!/bin/sh
# cli_run_test.sh - `promptc run` end to end on the examples and the sim
# LM: the prediction, --trace (messages, raw completion, usage), a
# deterministic answer, and the errors and their exit codes.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

ex="$PC_TEST_SRCDIR/../examples"
export XDG_CACHE_HOME="$pc_tmp/xdg"

run_promptc 0 run "$ex/triage/program.json" --config "$ex/triage/sim.json" \
  --input-json "@$ex/triage/input.json"
check "the prediction has a valid queue and an integer urgency" \
  python3 - "$pc_tmp/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert list(p) == ["queue", "urgency"], p
assert p["queue"] in ("billing", "technical", "account", "other"), p
assert isinstance(p["urgency"], int), p
PY
cp "$pc_tmp/out" "$pc_tmp/first"
run_promptc 0 run "$ex/triage/program.json" --config "$ex/triage/sim.json" \
  --input-json "@$ex/triage/input.json" --no-cache
check "the same input gives the same prediction without the cache" \
  cmp -s "$pc_tmp/first" "$pc_tmp/out"

run_promptc 0 run "$ex/math/program.json" --config "$ex/math/sim.json" \
  --input-json "@$ex/math/input.json" --trace
check "--trace shows each LM call with messages, completion and usage" \
  python3 - "$pc_tmp/out" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert set(o) == {"outputs", "trace", "usage"}, o.keys()
assert "answer" in o["outputs"]
t = o["trace"]
assert len(t) == 1 and t[0]["predictor"] == "solve.predict", t
c = t[0]
for k in ("inputs", "outputs", "adapter", "model", "messages", "completion",
          "cache_hit", "usage", "latency_ms"):
    assert k in c, k
assert c["messages"][0]["role"] == "system"
assert c["messages"][-1]["role"] == "user"
assert "[[ ## completed ## ]]" in c["completion"] or c.get("fallback")
assert c["model"].startswith("sim-1@")
assert o["usage"]["calls"] >= 1
PY

# An input the program does not get: a bad input (3), with the step named.
run_promptc 3 run "$ex/triage/program.json" --config "$ex/triage/sim.json" \
  --input-json '{"ticket": "hello"}'
contains "$pc_tmp/err" "policy"

# A provider no plugin offers: an environment problem (4).
printf '{"lm": {"provider": "nope"}}' >"$pc_tmp/nope.json"
run_promptc 4 run "$ex/triage/program.json" --config "$pc_tmp/nope.json" \
  --input-json "@$ex/triage/input.json"
contains "$pc_tmp/err" "provider \"nope\""

# A config without an LM, a bad provider setting, usage errors.
printf '{"adapter": "chat"}' >"$pc_tmp/nolm.json"
run_promptc 3 run "$ex/triage/program.json" --config "$pc_tmp/nolm.json" \
  --input-json "@$ex/triage/input.json"
contains "$pc_tmp/err" "no \"lm\" configured"
printf '{"lm": {"provider": "sim", "knowledge": "x.jsonl", "params": {"temperature": -1}}}' >"$pc_tmp/badp.json"
run_promptc 3 run "$ex/triage/program.json" --config "$pc_tmp/badp.json" \
  --input-json "@$ex/triage/input.json"
contains "$pc_tmp/err" "lm.params.temperature: expected a number >= 0"
run_promptc 2 run "$ex/triage/program.json" --config "$ex/triage/sim.json"
contains "$pc_tmp/err" "--input-json is required"
run_promptc 2 run "$ex/triage/program.json" --config "$ex/triage/sim.json" \
  --input-json '[1]'
run_promptc 2 run --config "$ex/triage/sim.json" --input-json '{}'
run_promptc 0 run --help
contains "$pc_tmp/out" "usage: promptc run"

finish
