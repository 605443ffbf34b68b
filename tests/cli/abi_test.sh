#!/bin/sh
# abi_test.sh - the plugin ABI gate (docs/ABI-HISTORY.md, sdk/abi/README.md):
# today's promptc/plugin.h only appends to every baseline (1.0, 1.2, ...)
# (abidiff with the append-only rule); the gate fails on deliberately
# broken copies of the header and passes on a legal append; the 1.0
# baseline is exactly the frozen header's ABI; an old plugin built from
# the frozen header (tests/plugins/fx_v10.c) runs a real eval and compile
# in today's host; a plugin of a newer minor loads, and one that needs a
# service the host lacks refuses itself cleanly at init.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

top="$PC_TEST_SRCDIR/.."
b="${PC_TEST_BUILDDIR:-.}"
abi="$top/sdk/abi"
gate="$abi/abi-gate.sh"
cc=${CC:-cc}
base10="$abi/promptc-plugin-1.0.abi"
# Every released baseline (1.0, 1.2, and each one `make abi-baseline`
# adds when a minor is released).
baselines=$(ls "$abi"/promptc-plugin-1.*.abi 2>/dev/null)

# abigail-tools is a CI dependency (scripts/setup-debian.sh): its absence
# is a failure, never a skip.
for tool in abidw abidiff "$cc"; do
  if command -v "$tool" >/dev/null 2>&1; then
    ok "$tool is installed"
  else
    not_ok "$tool is not installed (Debian: apt-get install abigail-tools)"
    finish
  fi
done

# run_gate INCLUDE-DIR OUT: the gate on that header against every baseline,
# its report in OUT and its status in $st.
run_gate() {
  # shellcheck disable=SC2086
  sh "$gate" check "$1" $baselines >"$2" 2>&1
  st=$?
}

# --- the gate on today's header --------------------------------------------
run_gate "$top/sdk/include" "$pc_tmp/gate.out"
if [ "$st" -eq 0 ]; then
  ok "today's plugin.h only appends to every baseline"
else
  not_ok "the ABI gate fails on today's plugin.h (exit $st)"
  sed 's/^/    | /' "$pc_tmp/gate.out" | head -n 40
fi
contains "$pc_tmp/gate.out" "promptc-plugin-1.0.abi: ok"
contains "$pc_tmp/gate.out" "promptc-plugin-1.2.abi: ok"

# The 1.0 baseline is the frozen header's ABI, exactly (no suppressions).
sh "$gate" dump "$abi/v1.0" "$pc_tmp/frozen.abi" >/dev/null 2>&1
check "the frozen 1.0 header dumps" test -s "$pc_tmp/frozen.abi"
check "the 1.0 baseline is exactly the frozen header's ABI" \
  abidiff "$base10" "$pc_tmp/frozen.abi"
check "the frozen header says ABI 1.0" \
  grep -q '^#define PC_ABI_MINOR 0$' "$abi/v1.0/promptc/plugin.h"
# Below its 9-line comment it is byte for byte the released header
# (git show c15d477:sdk/include/promptc/plugin.h | sha256sum).
frozen_sha=b9729b0c6c18f4dca42ad960bd44069f075b2b8fdcc63afeb3585dabcccb2968
got_sha=$(tail -n +10 "$abi/v1.0/promptc/plugin.h" | sha256sum | cut -d' ' -f1)
if [ "$got_sha" = "$frozen_sha" ]; then
  ok "the frozen header is the released 1.0 header, unedited"
else
  not_ok "sdk/abi/v1.0/promptc/plugin.h was edited (sha256 $got_sha)"
fi

# --- the gate on broken copies of the header -------------------------------
# broken NAME WHAT SED-ARGS...: a copy of today's header changed by sed
# must fail the gate, and the report must name WHAT.
broken() {
  name=$1; what=$2; shift 2
  mkdir -p "$pc_tmp/$name/promptc"
  sed "$@" "$top/sdk/include/promptc/plugin.h" \
    >"$pc_tmp/$name/promptc/plugin.h"
  if cmp -s "$pc_tmp/$name/promptc/plugin.h" \
       "$top/sdk/include/promptc/plugin.h"; then
    not_ok "$name: the sed edit changed nothing (fix the test)"
    return
  fi
  run_gate "$pc_tmp/$name" "$pc_tmp/$name.out"
  if [ "$st" -eq 1 ]; then
    ok "$name: the gate fails"
  else
    not_ok "$name: the gate exits $st, expected 1"
    sed 's/^/    | /' "$pc_tmp/$name.out" | head -n 30
  fi
  contains "$pc_tmp/$name.out" "$what"
}

# In struct pc_error (a 1.0 struct that never grew).
in_error='/^typedef struct pc_error {/,/^}/'
broken swapped-members "struct pc_error" \
  -e "${in_error}{s/^  int32_t code; .*/  int32_t http_status;/;t" \
  -e "s/^  int32_t http_status; .*/  int32_t code;/;}"
broken changed-type "pc_message::content_len" \
  -e '/^typedef struct pc_message {/,/^}/s/uint64_t content_len;/uint32_t content_len;/'
broken removed-member "http_status" \
  -e "${in_error}{/int32_t http_status;/d;}"
broken inserted-in-the-middle "struct pc_compile_api" \
  -e '/^typedef struct pc_compile_api {/,/^}/s/^  uint64_t (\*seed)(void \*ctx);/  void *inserted;\n&/'
broken changed-function-type "is_cancelled" \
  -e 's/int32_t (\*is_cancelled)(void \*ctx/int64_t (*is_cancelled)(void *ctx/'
# An append hides nothing: a legal append plus a swap still fails (the
# second pass of the gate; abigail-tools 2.2's suppression alone misses it).
broken append-and-swap "struct pc_error" \
  -e "${in_error}{s/^  int32_t code; .*/  int32_t http_status;/;t" \
  -e "s/^  int32_t http_status; .*/  int32_t code;/;}" \
  -e '/^typedef struct pc_compile_api {/,/^}/s/^} pc_compile_api;/  void *appended;\n&/'

# A legal change passes: members appended at the end of two structs.
mkdir -p "$pc_tmp/append/promptc"
sed -e '/^typedef struct pc_compile_api {/,/^}/s/^} pc_compile_api;/  int (*appended)(void *ctx);\n&/' \
  -e '/^typedef struct pc_text_sink {/,/^}/s/^} pc_text_sink;/  uint64_t flags;\n&/' \
  "$top/sdk/include/promptc/plugin.h" >"$pc_tmp/append/promptc/plugin.h"
run_gate "$pc_tmp/append" "$pc_tmp/append.out"
if [ "$st" -eq 0 ]; then
  ok "members appended at the end pass the gate"
else
  not_ok "members appended at the end fail the gate (exit $st)"
  sed 's/^/    | /' "$pc_tmp/append.out" | head -n 30
fi

# --- old plugin, new host: a real eval and compile -------------------------
v10="$b/tests/abi/.libs/fx_v10.so"
mkdir -p "$pc_tmp/plugins" "$pc_tmp/xdg"
check "the 1.0 fixture plugin is built" test -f "$v10"
cp "$v10" "$pc_tmp/plugins/" 2>/dev/null
chmod 0644 "$pc_tmp/plugins/fx_v10.so" 2>/dev/null
# The build tree's plugins (from the test environment) and the fixture.
PROMPTC_PLUGIN_PATH="${PROMPTC_PLUGIN_PATH:+$PROMPTC_PLUGIN_PATH:}\
$pc_tmp/plugins"
export PROMPTC_PLUGIN_PATH
export XDG_CACHE_HOME="$pc_tmp/xdg" XDG_STATE_HOME="$pc_tmp/xdg"

run_promptc 0 plugins info fx-v10
contains "$pc_tmp/out" "abi          1.0"
contains "$pc_tmp/out" 'pc.metric/1 "v10_match" (abi 1.0'
contains "$pc_tmp/out" 'pc.optimizer/1 "v10_first" (abi 1.0'

tri="$top/examples/triage"
head -n 20 "$tri/data/dev.jsonl" >"$pc_tmp/dev.jsonl"
sed -n 1,30p "$tri/data/train.jsonl" >"$pc_tmp/train.jsonl"
sed -n 61,90p "$tri/data/train.jsonl" >"$pc_tmp/val.jsonl"

# The 1.0 metric gives the same scores as today's exact_match on a field
# whose values are exact literals.
for m in v10_match exact_match; do
  run_promptc 0 eval "$tri/program.json" --config "$tri/sim.json" \
    --data "$pc_tmp/dev.jsonl" --metric "$m:queue" --json --no-record \
    --cache "$pc_tmp/cache" --results "$pc_tmp/$m.jsonl"
  cp "$pc_tmp/out" "$pc_tmp/$m.json"
done
check "the 1.0 metric scores as exact_match does, example by example" \
  python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert a["evaluated"] == 20 and a["errors"]["total"] == 0, a
assert 0 < a["score"] < 1, a["score"]
assert a["score"] == b["score"], (a["score"], b["score"])
sa = [json.loads(l)["score"] for l in open(sys.argv[3])]
sb = [json.loads(l)["score"] for l in open(sys.argv[4])]
assert sa == sb and len(sa) == 20, (sa, sb)
' "$pc_tmp/v10_match.json" "$pc_tmp/exact_match.json" \
  "$pc_tmp/v10_match.jsonl" "$pc_tmp/exact_match.jsonl"

# The 1.0 optimizer compiles through today's compile API.
run_promptc 0 compile "$tri/program.json" --config "$tri/sim.json" \
  --train "$pc_tmp/train.jsonl" --val "$pc_tmp/val.jsonl" \
  --optimizer v10_first --metric v10_match:queue --set k=3 --json \
  --runs "$pc_tmp/runs.sqlite" --cache "$pc_tmp/cache" \
  -o "$pc_tmp/compiled.json"
cp "$pc_tmp/out" "$pc_tmp/compile.sum"
check "the 1.0 optimizer ran, gave the first 3 train rows as demos" \
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
train = [json.loads(l) for l in open(sys.argv[3])]
assert s["optimizer"]["id"] == "org.promptc.test.v10", s["optimizer"]
assert s["optimizer"]["settings"] == {"k": 3}, s["optimizer"]
assert s["compiled"]["score"] >= s["baseline"]["score"], s
demos = p["state"]["classify"]["demos"]
assert [d["ticket"] for d in demos] == [t["ticket"] for t in train[:3]]
assert [d["queue"] for d in demos] == [t["queue"] for t in train[:3]]
' "$pc_tmp/compile.sum" "$pc_tmp/compiled.json" "$pc_tmp/train.jsonl"

# --- a plugin of a newer minor, and one that needs what the host lacks -----
# The host reads only the prefix of each table it knows (the minor never
# refuses a plugin); a plugin that needs a newer host service checks for
# it and fails init with PC_E_UNSUPPORTED, which the host reports.
cat >"$pc_tmp/future.c" <<'SRC'
#include <string.h>
#include "promptc/plugin.h"
#ifndef NEEDY
#define NEEDY 0
#endif
typedef struct { pc_metric_iface base; void *appended; } metric_v1_99;
typedef struct { pc_plugin_info base; void *appended; } info_v1_99;
static int create(void *s, const char *c, size_t n, void **inst,
                  pc_error *e)
{
  (void)s; (void)c; (void)n; (void)e;
  *inst = &inst;
  return PC_OK;
}
static void destroy(void *inst) { (void)inst; }
static int score(void *inst, const char *ex, size_t exn, const char *pr,
                 size_t prn, const char *tr, size_t trn,
                 const pc_metric_sink *out, pc_error *e)
{
  (void)inst; (void)ex; (void)exn; (void)pr; (void)tr; (void)trn; (void)e;
  return out->score(out->ctx, prn > 2 ? 1.0 : 0.0);
}
static const metric_v1_99 metric = {
  {{sizeof(metric_v1_99), PC_ABI_MAJOR, 99}, "future_len", create, destroy,
   score}, NULL};
static int init(const pc_host_api *h, void **state, pc_error *e)
{
  uint32_t size = 0;
  *state = NULL;
  if (NEEDY && !h->get_host_interface(h->ctx, "pc.future/1", &size)) {
    static const char m[] = "needs host service pc.future/1 (ABI 1.99)";
    memcpy(e->message, m, sizeof(m));
    e->code = PC_E_UNSUPPORTED;
    return PC_E_UNSUPPORTED;
  }
  return PC_OK;
}
static const void *get(void *s, const char *id, uint32_t *size)
{
  (void)s;
  if (strcmp(id, PC_IFACE_METRIC))
    return NULL;
  *size = metric.base.hdr.struct_size;
  return &metric;
}
static const info_v1_99 info = {
  {{sizeof(info_v1_99), PC_ABI_MAJOR, 99},
   NEEDY ? "org.example.needy" : "org.example.future",
   NEEDY ? "needy" : "future", "9.9.0", "MIT", "a 1.99 plugin",
   PC_KIND_METRIC, 0, init, NULL, get, NULL}, NULL};
PC_PLUGIN_EXPORT const pc_plugin_info *pc_plugin_entry_v1(
  const pc_abi_header *h);
const pc_plugin_info *pc_plugin_entry_v1(const pc_abi_header *h)
{
  return h && h->abi_major == PC_ABI_MAJOR ? &info.base : NULL;
}
SRC
mkdir -p "$pc_tmp/future"
check "a 1.99 plugin builds" "$cc" -std=c99 -Wall -Wextra -Werror -fPIC \
  -shared -fvisibility=hidden -I"$top/sdk/include" \
  -o "$pc_tmp/future/future.so" "$pc_tmp/future.c"
check "a 1.99 plugin needing pc.future/1 builds" "$cc" -std=c99 -Wall \
  -Wextra -Werror -fPIC -shared -fvisibility=hidden -DNEEDY=1 \
  -I"$top/sdk/include" -o "$pc_tmp/future/needy.so" "$pc_tmp/future.c"
chmod 0644 "$pc_tmp/future/"*.so
PROMPTC_PLUGIN_PATH="$PROMPTC_PLUGIN_PATH:$pc_tmp/future"
run_promptc 0 plugins info future
contains "$pc_tmp/out" "abi          1.99"
contains "$pc_tmp/err" "needy.so: init of org.example.needy failed"
contains "$pc_tmp/err" "needs host service pc.future/1"
run_promptc 0 eval "$tri/program.json" --config "$tri/sim.json" \
  --data "$pc_tmp/dev.jsonl" --metric future_len --json --no-record \
  --cache "$pc_tmp/cache" --results "$pc_tmp/future.jsonl"
check "the 1.99 metric scored every example through its 1.0 prefix" \
  python3 -c 'import json, sys
a = json.load(open(sys.argv[1]))
assert a["evaluated"] == 20 and a["errors"]["total"] == 0, a
assert a["score"] == 1, a["score"]
assert [json.loads(l)["score"] for l in open(sys.argv[2])] == [1] * 20
' "$pc_tmp/out" "$pc_tmp/future.jsonl"
finish
