#!/bin/sh
# cli_eval_test.sh - `promptc eval` end to end on the sim LM: results file
# content and order, the same numbers at 1, 4 and 32 threads, the cache
# (a second run makes no provider call; two processes at once; a corrupt
# cache file), slices, error accounting kept apart, max_errors and exit
# codes. The data is made here.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

# 60 questions with gold answers, in three slices; every 4th is hard.
python3 - "$pc_tmp" <<'PY'
import json, sys
d = sys.argv[1]
rows = []
for i in range(60):
    rows.append({"id": "q%03d" % i,
                 "question": "What is the code word of item %d?" % i,
                 "answer": "word-%d" % (i * 7 % 61),
                 "slice": ["alpha", "beta", "gamma"][i % 3],
                 "difficulty": "hard" if i % 4 == 0 else "easy"})
with open(d + "/qa.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
# The same questions with the input missing from rows 5, 9, 13, ...
with open(d + "/broken.jsonl", "w") as f:
    for i, r in enumerate(rows[:30]):
        r = dict(r)
        if i % 4 == 1 and i > 1:
            del r["question"]
        f.write(json.dumps(r) + "\n")
# Gold missing from every 5th row: metric errors.
with open(d + "/nogold.jsonl", "w") as f:
    for i, r in enumerate(rows[:20]):
        r = dict(r)
        if i % 5 == 0:
            del r["answer"]
        f.write(json.dumps(r) + "\n")
prog = {"schema": "promptc.program/1", "name": "qa",
        "modules": {"answer": {"type": "predict",
                               "signature": "question -> answer"}}}
json.dump(prog, open(d + "/qa.json", "w"))
def cfg(name, **extra):
    lm = {"provider": "sim", "knowledge": "qa.jsonl", "seed": 3,
          "call_log": d + "/calls-" + name + ".log"}
    lm.update(extra)
    json.dump({"lm": lm, "metric": "exact_match:answer"},
              open(d + "/" + name + ".json", "w"))
cfg("cfg", malformed_rate=0.0)
cfg("bad", malformed_rate=1.0)
PY

prog="$pc_tmp/qa.json"
cfg="$pc_tmp/cfg.json"
export XDG_CACHE_HOME="$pc_tmp/xdg"

# --- results file, summary, slices ---------------------------------------
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --results "$pc_tmp/r1.jsonl" --threads 1 --no-cache --no-record
cp "$pc_tmp/out" "$pc_tmp/sum1"
contains "$pc_tmp/sum1" "metric    exact_match:answer"
contains "$pc_tmp/sum1" "over 60 examples"
contains "$pc_tmp/sum1" "slice     alpha"
contains "$pc_tmp/sum1" "slice     gamma"
contains "$pc_tmp/sum1" "errors    0 (parse 0, lm 0, metric 0, program 0)"
check "results file: 60 rows in dataset order with id, inputs, outputs, score, error" \
  python3 - "$pc_tmp/r1.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 60, len(rows)
assert [r["id"] for r in rows] == ["q%03d" % i for i in range(60)]
for r in rows:
    assert set(r) == {"id", "slice", "inputs", "outputs", "score", "error"}, r
    assert r["inputs"] == {"question": r["inputs"]["question"]}
    assert r["score"] in (0.0, 1.0) and r["error"] is None
    assert "answer" in r["outputs"]
right = sum(r["score"] for r in rows)
assert 0 < right < 60, right   # the sim is neither perfect nor useless
PY
check "summary score is the mean of the results" python3 - "$pc_tmp/r1.jsonl" "$pc_tmp/sum1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mean = sum(r["score"] for r in rows) / len(rows)
want = "score     %.4f over 60 examples" % mean
assert want in open(sys.argv[2]).read(), want
PY

# --- the same results and numbers at any thread count --------------------
for t in 4 32; do
  run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
    --inputs question --results "$pc_tmp/r$t.jsonl" --threads $t --no-cache --no-record
  check "results at $t threads are byte-identical to 1 thread" \
    cmp -s "$pc_tmp/r1.jsonl" "$pc_tmp/r$t.jsonl"
  check "summary at $t threads is identical to 1 thread" \
    cmp -s "$pc_tmp/sum1" "$pc_tmp/out"
done

# --- the cache: a second identical eval makes no provider call ----------
rm -f "$pc_tmp/calls-cfg.log"
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --cache "$pc_tmp/cache" --results "$pc_tmp/c1.jsonl"
n1=$(wc -l <"$pc_tmp/calls-cfg.log")
check "first run calls the provider once per example ($n1)" [ "$n1" -eq 60 ]
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --cache "$pc_tmp/cache" --results "$pc_tmp/c2.jsonl" \
  --threads 8
n2=$(wc -l <"$pc_tmp/calls-cfg.log")
check "second run makes zero provider calls (log still $n2 lines)" [ "$n2" -eq 60 ]
contains "$pc_tmp/out" "60 LM calls: 0 to the provider, 60 from the cache"
check "cached results equal fresh ones" cmp -s "$pc_tmp/r1.jsonl" "$pc_tmp/c2.jsonl"

# A provider setting is part of the key: another sim seed is not served
# the first seed's answers.
python3 - "$pc_tmp" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(d + "/cfg.json"))
c["lm"]["seed"] = 4
json.dump(c, open(d + "/seed4.json", "w"))
PY
run_promptc 0 eval "$prog" --config "$pc_tmp/seed4.json" \
  --data "$pc_tmp/qa.jsonl" --inputs question --cache "$pc_tmp/cache"
contains "$pc_tmp/out" "60 LM calls: 60 to the provider, 0 from the cache"

# --- two processes at once against one cache ----------------------------
"$PC_PROMPTC" eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --cache "$pc_tmp/shared" --results "$pc_tmp/p1.jsonl" \
  >/dev/null 2>"$pc_tmp/p1.err" &
pid1=$!
"$PC_PROMPTC" eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --cache "$pc_tmp/shared" --results "$pc_tmp/p2.jsonl" \
  --threads 3 >/dev/null 2>"$pc_tmp/p2.err" &
pid2=$!
wait $pid1; s1=$?
wait $pid2; s2=$?
check "two processes sharing a cache both succeed" [ "$s1" -eq 0 -a "$s2" -eq 0 ]
check "process 1 results are correct" cmp -s "$pc_tmp/r1.jsonl" "$pc_tmp/p1.jsonl"
check "process 2 results are correct" cmp -s "$pc_tmp/r1.jsonl" "$pc_tmp/p2.jsonl"

# --- a corrupt cache file is a warning, and results stay right -----------
mkdir -p "$pc_tmp/bad"
head -c 8192 /dev/urandom >"$pc_tmp/bad/lm-cache.sqlite"
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --cache "$pc_tmp/bad" --results "$pc_tmp/b.jsonl"
contains "$pc_tmp/err" "warning"
contains "$pc_tmp/err" "lm-cache.sqlite"
check "results with a corrupt cache are correct" cmp -s "$pc_tmp/r1.jsonl" "$pc_tmp/b.jsonl"

# --- error accounting: parse, program and metric errors kept apart -------
run_promptc 0 eval "$prog" --config "$pc_tmp/bad.json" \
  --data "$pc_tmp/qa.jsonl" --inputs question --no-cache --max-errors 1000 \
  --results "$pc_tmp/parse.jsonl"
contains "$pc_tmp/out" "errors    60 (parse 60, lm 0, metric 0, program 0)"
contains "$pc_tmp/out" "120 LM calls: 120 to the provider, 0 from the cache, 60 fallbacks"
check "parse errors are rows with error kind parse and score 0" \
  python3 - "$pc_tmp/parse.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 60
assert all(r["error"]["kind"] == "parse" and r["score"] == 0.0 and
           r["outputs"] is None for r in rows)
assert "fallback" in rows[0]["error"]["message"]
PY
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/nogold.jsonl" \
  --inputs question --no-cache --failure-score 0.25 --results "$pc_tmp/mg.jsonl"
contains "$pc_tmp/out" "errors    4 (parse 0, lm 0, metric 4, program 0)"
check "metric errors keep the outputs and score the failure score" \
  python3 - "$pc_tmp/mg.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rows if r["error"]]
assert [r["id"] for r in bad] == ["q000", "q005", "q010", "q015"], bad
assert all(r["error"]["kind"] == "metric" and r["score"] == 0.25 and
           r["outputs"] for r in bad)
PY

# --- max_errors: the run stops, says so, and exits 5 ---------------------
# nogold.jsonl fails the metric on q000, q005, q010 and q015.
run_promptc 5 eval "$prog" --config "$cfg" --data "$pc_tmp/nogold.jsonl" \
  --inputs question --no-cache --max-errors 3 --results "$pc_tmp/me.jsonl" \
  --threads 1
contains "$pc_tmp/err" "stopped at max_errors (3)"
contains "$pc_tmp/out" "errors    3 (parse 0, lm 0, metric 3, program 0)"
check "the report ends at the example that reached max_errors" \
  python3 - "$pc_tmp/me.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rows][-1] == "q010", rows[-1]["id"]
assert len(rows) == 11 and sum(1 for r in rows if r["error"]) == 3
PY
cp "$pc_tmp/me.jsonl" "$pc_tmp/me1.jsonl"
run_promptc 5 eval "$prog" --config "$cfg" --data "$pc_tmp/nogold.jsonl" \
  --inputs question --no-cache --max-errors 3 --results "$pc_tmp/me.jsonl" \
  --threads 16
check "the max_errors cut is the same at 16 threads" cmp -s "$pc_tmp/me1.jsonl" "$pc_tmp/me.jsonl"
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/nogold.jsonl" \
  --no-cache --max-errors 100 --json
check "--json summary counts metric errors and is not aborted" \
  python3 - "$pc_tmp/out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["errors"]["metric"] == 4 and s["errors"]["total"] == 4, s
assert s["aborted"] is False and s["evaluated"] == 20, s
assert set(s["slices"]) == {"alpha", "beta", "gamma"}
assert 0 <= s["ci95_low"] <= s["score"] <= s["ci95_high"] <= 1
PY

# --- what would fail every example is refused before anything runs --------
run_promptc 3 eval "$prog" --config "$cfg" --data "$pc_tmp/broken.jsonl" \
  --no-cache
contains "$pc_tmp/err" "broken.jsonl:6:"
contains "$pc_tmp/err" "question"
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/broken.jsonl" \
  --no-cache --skip-malformed --json
contains "$pc_tmp/err" "broken.jsonl:6: skipped"
check "--skip-malformed evaluates the 23 good rows" \
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["evaluated"] == 23, s' "$pc_tmp/out"
run_promptc 2 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs slice
contains "$pc_tmp/err" "the program also needs the input 'question'"
: >"$pc_tmp/empty.jsonl"
run_promptc 3 eval "$prog" --config "$cfg" --data "$pc_tmp/empty.jsonl"
contains "$pc_tmp/err" "no examples"
run_promptc 4 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --adapter nope
contains "$pc_tmp/err" "adapter \"nope\""
python3 - "$pc_tmp" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(d + "/cfg.json"))
c["metric"] = {"name": "numeric", "field": "answer", "tolerance": "x"}
json.dump(c, open(d + "/badmetric.json", "w"))
c = json.load(open(d + "/cfg.json"))
c["lm"]["bogus"] = 1
json.dump(c, open(d + "/badsim.json", "w"))
PY
run_promptc 3 eval "$prog" --config "$pc_tmp/badmetric.json" \
  --data "$pc_tmp/qa.jsonl"
contains "$pc_tmp/err" "badmetric.json"
run_promptc 3 eval "$prog" --config "$pc_tmp/badsim.json" \
  --data "$pc_tmp/qa.jsonl"
contains "$pc_tmp/err" "badsim.json"
contains "$pc_tmp/err" "bogus"

# --- the live progress line: on a terminal only ---------------------------
run_promptc 0 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" \
  --inputs question --no-cache
check "no progress line when stderr is not a terminal" \
  sh -c "! grep -q 'ETA' '$pc_tmp/err'"
if command -v script >/dev/null 2>&1; then
  script -qec "'$PC_PROMPTC' eval '$prog' --config '$cfg' --data '$pc_tmp/qa.jsonl' --inputs question --no-cache" \
    /dev/null >"$pc_tmp/tty" 2>&1
  contains "$pc_tmp/tty" "60/60  score"
  contains "$pc_tmp/tty" "ETA"
  script -qec "'$PC_PROMPTC' eval '$prog' --config '$cfg' --data '$pc_tmp/qa.jsonl' --inputs question --no-cache --no-progress" \
    /dev/null >"$pc_tmp/tty" 2>&1
  check "--no-progress draws no line on a terminal" \
    sh -c "! grep -q 'ETA' '$pc_tmp/tty'"
else
  echo "# skip: no script(1) to give eval a terminal"
fi

# --- usage and environment errors -----------------------------------------
run_promptc 2 eval "$prog" --config "$cfg"
contains "$pc_tmp/err" "--data is required"
run_promptc 2 eval "$prog" --data "$pc_tmp/qa.jsonl"
contains "$pc_tmp/err" "--config is required"
run_promptc 2 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" --metric ":x"
run_promptc 4 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" --metric no_such_metric
contains "$pc_tmp/err" "no_such_metric"
run_promptc 3 eval "$prog" --config "$cfg" --data "$pc_tmp/missing.jsonl"
run_promptc 2 eval "$prog" --config "$cfg" --data "$pc_tmp/qa.jsonl" --threads 0
run_promptc 0 eval --help
contains "$pc_tmp/out" "usage: promptc eval"

finish
