#!/bin/sh
# index_test.sh - `promptc index build/query/serve` on the multihop corpus:
# fixed queries give the expected passages in order; FTS5 operators and
# punctuation in a query are plain words; bad corpora, missing and foreign
# index files are clear errors; the retrieve module reads the index through
# the built-in search tool and, over real HTTP, through the http-search
# plugin talking to `promptc index serve`.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

E="${PC_TEST_SRCDIR:-tests}/../examples/multihop"
T="$pc_tmp"

# --- build -----------------------------------------------------------------
run_promptc 0 index build "$E/corpus.jsonl" -o "$T/corpus.db"
contains "$T/out" "index: 144 passages from"
run_promptc 1 index build "$E/corpus.jsonl" -o "$T/corpus.db"
contains "$T/err" "corpus.db: exists (use --force to replace it)"
run_promptc 0 index build "$E/corpus.jsonl" -o "$T/corpus.db" --force

printf '{"id": 1, "text": "fine"}\n{"id": 2, "text": "cut\n' >"$T/bad.jsonl"
run_promptc 3 index build "$T/bad.jsonl" -o "$T/bad.db"
contains "$T/err" "bad.jsonl:2: not a JSON value"
check "a failed build leaves no index" test ! -e "$T/bad.db"
check "a failed build leaves no temporary file" \
  sh -c "! ls '$T' | grep -q 'bad.db.tmp'"
printf '{"id": 1, "text": "a"} // note\n' >"$T/lax.jsonl"
run_promptc 3 index build "$T/lax.jsonl" -o "$T/lax.db"
contains "$T/err" "lax.jsonl:1: not a JSON value: offset 23:"
printf '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n' >"$T/dup.jsonl"
run_promptc 3 index build "$T/dup.jsonl" -o "$T/dup.db"
contains "$T/err" "dup.jsonl:2: id: '1' appears twice"
run_promptc 1 index build "$T/none.jsonl" -o "$T/none.db"
contains "$T/err" "none.jsonl"

# --- query -----------------------------------------------------------------
# titles INDEX QUERY K: the titles of the hits, one per line.
titles() {
  "$PC_PROMPTC" index query "$1" "$2" -k "$3" --json |
    python3 -c 'import json,sys
for p in json.load(sys.stdin)["passages"]: print(p["title"])'
}
expect_titles() {  # expect_titles QUERY K TITLE...
  q=$1; k=$2; shift 2
  got=$(titles "$T/corpus.db" "$q" "$k" | tr '\n' '|')
  want=$(printf '%s|' "$@")
  if [ "$got" = "$want" ]; then ok "query '$q' ranks $want"
  else not_ok "query '$q' ranks $got, expected $want"; fi
}
expect_titles "founder of Thistle Energy" 3 "Thistle Energy (company)" \
  "Trevant Energy (company)" "Penrose Energy (company)"
expect_titles "Quenby Holloway birthplace" 2 "Quenby Holloway" \
  "Thistle Energy (company)"
expect_titles "lighthouses port town Marovia" 2 "Silholm" "Renstad"

run_promptc 0 index query "$T/corpus.db" "founder of Thistle Energy"
contains "$T/out" "1. [p006] Thistle Energy (company) | Thistle Energy is"
cp "$T/out" "$T/first"
run_promptc 0 index query "$T/corpus.db" "founder of Thistle Energy"
check "the same query prints the same bytes" cmp -s "$T/out" "$T/first"

# FTS5 syntax from an LM is only words: no error, and the words still count.
for q in 'title:"Thistle" AND (Energy* OR NEAR(x))' '"' 'NOT' '-' \
         "'; DROP TABLE passages; --" '^Quenby + {Holloway}' '???' ''; do
  run_promptc 0 index query "$T/corpus.db" "$q" -k 2
done
expect_titles 'title:"Thistle" AND (Energy* OR NEAR(x))' 1 \
  "Thistle Energy (company)"
run_promptc 0 index query "$T/corpus.db" '???'
check "a query without words finds nothing" test ! -s "$T/out"

run_promptc 2 index query "$T/corpus.db" "x" -k 0
run_promptc 3 index query "$T/missing.db" "x"
contains "$T/err" "missing.db: cannot open index"
run_promptc 3 index query "$E/corpus.jsonl" "x"
contains "$T/err" "not a promptc index"
run_promptc 2 index frobnicate
contains "$T/err" "unknown subcommand 'frobnicate'"

# --- the retrieve module with the built-in search tool ---------------------
cat >"$T/prog.json" <<EOF
{"schema": "promptc.program/1",
 "modules": {"r": {"type": "retrieve", "k": 2, "query": "question"}},
 "flow": [{"call": "r", "inputs": {"question": "\$input.question"}}],
 "outputs": {"passages": "\$r.passages"}}
EOF
cat >"$T/cfg.json" <<EOF
{"lm": {"provider": "sim", "knowledge": ["$E/data/train.jsonl"]},
 "tools": {"search": {"index": "$T/corpus.db", "k": 3}}}
EOF
run_promptc 0 run "$T/prog.json" --config "$T/cfg.json" --no-record \
  --input-json '{"question": "Who founded Thistle Energy?"}'
contains "$T/out" '"Thistle Energy (company) | Thistle Energy is a'
check "retrieve returns k passages" python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert len(o["passages"]) == 2, o' "$T/out"
cat >"$T/cfg-missing.json" <<EOF
{"lm": {"provider": "sim", "knowledge": ["$E/data/train.jsonl"]},
 "tools": {"search": {"index": "$T/nowhere.db"}}}
EOF
# A missing index: pc_runtime_check_program opens every tool the program
# names before anything runs, so the run is refused up front with exit 4
# (an environment problem, PC_E_IO) and no LM call is made.
run_promptc 4 run "$T/prog.json" --config "$T/cfg-missing.json" \
  --no-record --input-json '{"question": "Who founded Thistle Energy?"}'
contains "$T/err" "modules.r.tool: "
contains "$T/err" "nowhere.db: cannot open index"
check "a missing index: nothing written to stdout" test ! -s "$T/out"

# --- serve, and the http-search plugin over real HTTP ----------------------
"$PC_PROMPTC" index serve "$T/corpus.db" --port 0 \
  --port-file "$T/port" >"$T/serve.out" 2>"$T/serve.err" &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$T/port" 2>/dev/null)
check "index serve writes its port" test -n "$port"
contains "$T/serve.out" "on http://127.0.0.1:$port/search"
check "GET /search answers ColBERT-style topk" python3 -c '
import json, sys, urllib.request, urllib.parse
q = urllib.parse.urlencode({"query": "Quenby Holloway birthplace", "k": 2})
with urllib.request.urlopen("http://127.0.0.1:%s/search?%s" % (sys.argv[1], q),
                            timeout=10) as r:
    doc = json.load(r)
t = [p["title"] for p in doc["topk"]]
assert t == ["Quenby Holloway", "Thistle Energy (company)"], t
assert doc["topk"][0]["rank"] == 1 and "born in" in doc["topk"][0]["text"]
' "$port"
check "GET /search without a query is a 400" python3 -c '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/search" % sys.argv[1],
                           timeout=10)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 400 else 1)
sys.exit(1)' "$port"

cat >"$T/cfg-http.json" <<EOF
{"lm": {"provider": "sim", "knowledge": ["$E/data/train.jsonl"]},
 "tools": {"search": {"type": "http-search",
                      "url": "http://127.0.0.1:$port/search", "k": 3,
                      "timeout_ms": 5000}}}
EOF
run_promptc 0 run "$T/prog.json" --config "$T/cfg-http.json" --no-record \
  --input-json '{"question": "Quenby Holloway birthplace?"}'
contains "$T/out" '"Quenby Holloway | Quenby Holloway is a designer, born in'
check "http-search and the local index give the same passages" sh -c "
  '$PC_PROMPTC' run '$T/prog.json' --config '$T/cfg.json' --no-record \
    --input-json '{\"question\": \"Quenby Holloway birthplace?\"}' \
    >'$T/local.out' 2>/dev/null && cmp -s '$T/out' '$T/local.out'"
cat >"$T/cfg-404.json" <<EOF
{"lm": {"provider": "sim", "knowledge": ["$E/data/train.jsonl"]},
 "tools": {"search": {"type": "http-search",
                      "url": "http://127.0.0.1:$port/nothing"}}}
EOF
run_promptc 1 run "$T/prog.json" --config "$T/cfg-404.json" --no-record \
  --input-json '{"question": "x"}'
contains "$T/err" \
  "http-search: http://127.0.0.1:$port/nothing: answered HTTP 404"

kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
check "index serve removes its port file on SIGTERM" test ! -e "$T/port"

finish
