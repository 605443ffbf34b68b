#!/bin/sh
# history_test.sh - the LM calls of eval, run and compile in the run store,
# end to end on the sim: `history --last N`, `--run ID`, `--messages` and
# `--json`, runs recorded with their kind and status, --no-record, the
# default store, Ctrl-C marking a run interrupted, and an unknown run.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="$PC_TEST_SRCDIR/../examples/triage"
R="$pc_tmp/runs.sqlite"
export XDG_CACHE_HOME="$pc_tmp/xdg-cache" XDG_STATE_HOME="$pc_tmp/xdg-state"

# runs_json: the runs of $R as JSON in $pc_tmp/runs.json.
runs_json() {
  "$PC_PROMPTC" history --runs "$R" --json --limit 1000 >"$pc_tmp/runs.json"
}

# --- an eval records itself and its calls --------------------------------
run_promptc 0 eval "$E/program.json" --config "$E/sim.json" \
  --data "$E/data/dev.jsonl" --runs "$R" --no-cache --no-progress --json
cp "$pc_tmp/out" "$pc_tmp/eval.json"
eval_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' \
  "$pc_tmp/eval.json")
check "eval --json names its run: $eval_id" \
  python3 -c 'import re, sys; assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", sys.argv[1])' \
  "$eval_id"

run_promptc 0 history --runs "$R"
contains "$pc_tmp/out" "$eval_id   eval     done"

run_promptc 0 history --runs "$R" --last 5 --json
cp "$pc_tmp/out" "$pc_tmp/last5.json"
check "--json: the last 5 records, with messages, completion, model, tokens" \
  python3 - "$pc_tmp/last5.json" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))
assert isinstance(recs, list) and len(recs) == 5, recs
for r in recs:
    assert r["predictor"] == "classify", r["predictor"]
    assert r["model"].startswith("sim-1@"), r["model"]
    assert r["messages"][0]["role"] == "system" and r["messages"][-1]["role"] == "user"
    # The chat adapter's answer, or the JSON adapter's after a fallback,
    # or an answer neither could parse, recorded with its error (the eval
    # runs on 4 threads, so which calls are last varies).
    if "error" in r:
        assert r["error"]["code"] == "PC_E_PARSE" and "outputs" not in r, r
    else:
        marker = '"queue"' if "fallback" in r else "[[ ## queue ## ]]"
        assert marker in r["completion"], r
    assert r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0
    assert r["cache_hit"] is False and r["retries"] == 0 and r["cost"] is None
    assert r["time_ms"] > 1600000000000
# Oldest first, and the last of the run.
keys = [(r["seq"], r["idx"]) for r in recs]
assert keys == sorted(keys), keys
PY

run_promptc 0 history --runs "$R" --last 5
cp "$pc_tmp/out" "$pc_tmp/last5.txt"
check "--last 5: a table of 5 calls with the model and the same tokens as --json" \
  python3 - "$pc_tmp/last5.txt" "$pc_tmp/last5.json" "$pc_tmp/eval.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
recs = json.load(open(sys.argv[2]))
summary = json.load(open(sys.argv[3]))
assert lines[0].startswith("run %s (eval, done): LM calls " % summary["run_id"]), lines[0]
assert lines[1].split()[:4] == ["#", "time", "predictor", "model"], lines[1]
rows = [l.split() for l in lines[2:]]
assert len(rows) == 5, lines
u = summary["usage"]
# One record per predictor call, answered or failed: a fallback's first
# try is in its call's record.
stored = u["calls"] - u["fallbacks"]
assert [int(r[0]) for r in rows] == list(range(stored - 4, stored + 1)), rows
for row, rec in zip(rows, recs):
    assert row[2] == "classify" and row[3] == rec["model"], row
    assert int(row[4]) == rec["usage"]["prompt_tokens"], (row, rec["usage"])
    assert int(row[5]) == rec["usage"]["completion_tokens"], (row, rec["usage"])
    # cost unknown, no hit, no retry, and the error code of a failed call
    assert row[7:] == ["-", "-", "0", rec.get("error", {}).get("code", "-")], row
PY

run_promptc 0 history --runs "$R" --last 2 --messages
contains "$pc_tmp/out" "[system]"
contains "$pc_tmp/out" "[[ ## ticket ## ]]"
contains "$pc_tmp/out" "[[ ## policy ## ]]"
contains "$pc_tmp/out" "[completion]"
check "--messages prints each call's completion in full" \
  python3 - "$pc_tmp/out" "$pc_tmp/last5.json" <<'PY'
import json, sys
out = open(sys.argv[1]).read()
recs = json.load(open(sys.argv[2]))
for r in recs[-2:]:
    assert r["completion"] in out
    assert r["messages"][-1]["content"] in out
assert out.count("[completion]") == 2
PY

run_promptc 0 history --runs "$R" "$eval_id"
contains "$pc_tmp/out" "run       $eval_id (eval)"
contains "$pc_tmp/out" "status    done"
contains "$pc_tmp/out" '"command":"eval"'
check "the run shows its call totals and its summary as the result" \
  python3 - "$pc_tmp/out" "$pc_tmp/eval.json" <<'PY'
import json, re, sys
out = open(sys.argv[1]).read()
s = json.load(open(sys.argv[2]))
u = s["usage"]
stored = u["calls"] - u["fallbacks"]
assert "calls     %d LM calls (0 from the cache)" % stored in out, out
result = json.loads(re.search(r"^result    (.*)$", out, re.M).group(1))
assert result["score"] == s["score"] and result["data_sha256"] == s["data_sha256"]
PY

# --- --no-record, and the default store -----------------------------------
runs_json
n_before=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' \
  "$pc_tmp/runs.json")
run_promptc 0 eval "$E/program.json" --config "$E/sim.json" \
  --data "$E/data/dev.jsonl" --runs "$R" --no-record --no-progress
check "eval --no-record prints no run line" \
  sh -c '! grep -q "^run " "$1"' sh "$pc_tmp/out"
runs_json
check "eval --no-record adds no run" python3 - "$pc_tmp/runs.json" "$n_before" <<'PY'
import json, sys
assert len(json.load(open(sys.argv[1]))) == int(sys.argv[2])
PY

run_promptc 0 eval "$E/program.json" --config "$E/sim.json" \
  --data "$E/data/dev.jsonl" --no-progress
contains "$pc_tmp/out" "run       "
check "without --runs, eval records into \$XDG_STATE_HOME/promptc/runs.sqlite" \
  test -f "$XDG_STATE_HOME/promptc/runs.sqlite"
run_promptc 0 history --last 1
contains "$pc_tmp/out" "(eval, done): LM calls"

# --- a run is recorded as kind run ----------------------------------------
run_promptc 0 run "$E/program.json" --config "$E/sim.json" \
  --input-json "@$E/input.json" --runs "$R" --no-cache
cp "$pc_tmp/out" "$pc_tmp/run-out.json"
runs_json
check "the run is the newest run, kind run, done, with one call" \
  python3 - "$pc_tmp/runs.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]
assert r["kind"] == "run" and r["status"] == "done" and r["calls"] == 1, r
PY
run_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["id"])' \
  "$pc_tmp/runs.json")
run_promptc 0 history --runs "$R" --last 3
contains "$pc_tmp/out" "run $run_id (run, done): 1 LM call"
run_promptc 0 history --runs "$R" "$run_id" --json
check "the run's result holds its outputs and usage" \
  python3 - "$pc_tmp/out" "$pc_tmp/run-out.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
outputs = json.load(open(sys.argv[2]))
assert run["kind"] == "run" and run["spec"]["command"] == "run"
assert run["result"]["outputs"] == outputs, (run["result"], outputs)
assert run["result"]["usage"]["calls"] == 1 and run["calls"]["calls"] == 1
PY

# A run that fails before any LM call is recorded, failed, without calls.
run_promptc 3 run "$E/program.json" --config "$E/sim.json" \
  --input-json '{"ticket": "no policy given"}' --runs "$R"
runs_json
nocall_id=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[0]; assert r["status"] == "failed", r; print(r["id"])' \
  "$pc_tmp/runs.json")
run_promptc 0 history --runs "$R" --run "$nocall_id"
contains "$pc_tmp/out" "run $nocall_id (run, failed): no LM calls recorded"

# --- a compile's calls are in the store ------------------------------------
head -n 20 "$E/data/train.jsonl" >"$pc_tmp/train.jsonl"
head -n 10 "$E/data/dev.jsonl" >"$pc_tmp/val.jsonl"
run_promptc 0 compile "$E/program.json" --config "$E/sim.json" \
  --train "$pc_tmp/train.jsonl" --val "$pc_tmp/val.jsonl" \
  --optimizer bootstrap --runs "$R" --no-cache --no-progress --json \
  -o "$pc_tmp/compiled.json"
cp "$pc_tmp/out" "$pc_tmp/compile.json"
comp_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' \
  "$pc_tmp/compile.json")
run_promptc 0 history --runs "$R" --run "$comp_id" --json
check "the compile's calls: its search's calls plus the baseline and final evaluations" \
  python3 - "$pc_tmp/out" "$pc_tmp/compile.json" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
u = s["usage"]
# The summary counts the search only; the store also has the calls of the
# baseline and final evaluations on val: one call per example (triage is
# one predict module, and on these examples the sim needs no fallback).
want = u["provider_calls"] + u["cache_hits"] + s["baseline"]["n"] + s["compiled"]["n"]
assert len(recs) == want, (len(recs), want, u)
assert u["provider_calls"] > 0
assert all(r["predictor"] == "classify" for r in recs)
PY
run_promptc 0 history --runs "$R" --last 3
contains "$pc_tmp/out" "run $comp_id (compile, done): LM calls"

# --- Ctrl-C marks an eval interrupted ---------------------------------------
python3 - "$E" "$pc_tmp/slow.json" <<'PY'
import json, os, sys
folder, out = sys.argv[1:]
c = json.load(open(os.path.join(folder, "sim.json")))
c["lm"]["knowledge"] = [os.path.join(folder, k) for k in c["lm"]["knowledge"]]
c["lm"]["latency_ms"] = 200
c["concurrency"] = 2
json.dump(c, open(out, "w"))
PY
check "Ctrl-C: eval dies of SIGINT and its run is marked interrupted" \
  python3 - "$PC_PROMPTC" "$E" "$pc_tmp/slow.json" "$R" <<'PY'
import json, signal, subprocess, sys, time
promptc, folder, cfg, runs = sys.argv[1:]
p = subprocess.Popen([promptc, "eval", folder + "/program.json", "--config",
                      cfg, "--data", folder + "/data/dev.jsonl", "--runs",
                      runs, "--no-cache", "--no-progress"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     restore_signals=True)
# Wait until the run is in the store and some calls are answered.
deadline = time.time() + 30
while time.time() < deadline:
    out = subprocess.run([promptc, "history", "--runs", runs, "--json"],
                         capture_output=True, text=True).stdout
    top = json.loads(out)[0] if out.strip() else {}
    if top.get("status") == "running" and top.get("calls", 0) > 0:
        break
    time.sleep(0.1)
else:
    p.kill()
    sys.exit("the slow eval never showed up as running with calls")
p.send_signal(signal.SIGINT)
_, err = p.communicate(timeout=30)
assert p.returncode == -signal.SIGINT, (p.returncode, err)
assert b"interrupted" in err, err
out = subprocess.run([promptc, "history", "--runs", runs, "--json"],
                     capture_output=True, text=True).stdout
top = json.loads(out)[0]
assert top["kind"] == "eval" and top["status"] == "interrupted", top
assert 0 < top["calls"] < 100, top
PY

# --- an unknown run ---------------------------------------------------------
run_promptc 2 history --runs "$R" --run no-such-run
contains "$pc_tmp/err" "promptc: history: run no-such-run: no such run in $R"
run_promptc 2 history --runs "$R" no-such-run --last 3
contains "$pc_tmp/err" "run no-such-run: no such run"
run_promptc 2 history --runs "$R" --run a --last 0
run_promptc 2 history --runs "$R" one --run other
contains "$pc_tmp/err" "two runs given"

# An empty store has no calls to show.
run_promptc 0 history --runs "$pc_tmp/empty.sqlite" --last 5
contains "$pc_tmp/out" "no LM calls recorded in $pc_tmp/empty.sqlite"

# --help names every column of --last, the error code included.
run_promptc 0 history --help
contains "$pc_tmp/out" "retries and the error"

finish
