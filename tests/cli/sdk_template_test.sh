#!/bin/sh
# sdk_template_test.sh - the out-of-tree plugin template (sdk/template),
# copied outside the source tree and built against a `make install
# DESTDIR=...` of promptc with nothing but its Makefile and pkg-config:
# each .so exports exactly the entry symbol and needs nothing of promptc,
# the installed promptc loads both from PROMPTC_PLUGIN_PATH, a compile of
# examples/triage with the template optimizer and metric scores at least
# the baseline with the metric's feedback in the optimizer's report,
# `promptc plugins check` passes both, and make install / clean work.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

b=${PC_TEST_BUILDDIR:-.}
top=$(cd "$PC_TEST_SRCDIR/.." && pwd)
if ! pc_destdir_install; then
  not_ok "make install DESTDIR=... failed (see $b/tests/destdir.log)"
  finish
fi
d=$PC_DESTDIR
mkvar() { sed -n "s/^$1 = //p" "$b/Makefile"; }
for v in prefix exec_prefix bindir libdir; do
  eval "$v=\"$(mkvar $v)\""
done
plugindir=$d$libdir/promptc/plugins

# Build as a plugin author would, outside the tree: their own shell, the
# staged promptc found through pkg-config alone.
tpl=$pc_tmp/my-plugins
mkdir "$tpl" && cp "$top"/sdk/template/* "$tpl"/ && rm -f "$tpl/Makefile.inc"
PKG_CONFIG_PATH=$d$libdir/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$d
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
# tmake ARGS...: the template's make, without make check's environment.
tmake() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tpl" "$@"
}
if tmake >"$pc_tmp/build.log" 2>&1; then
  ok "the template builds out of tree with pkg-config promptc-plugin"
else
  not_ok "the template does not build"
  sed 's/^/    | /' "$pc_tmp/build.log" | tail -n 20
  finish
fi
# The README's other way: the pkg-config variables on make's command line
# (GNU make 4.3 does not hand those to $(shell) by itself).
tmake clean >/dev/null 2>&1
if env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR -u MAKEFLAGS -u MFLAGS \
     -u MAKELEVEL make -C "$tpl" PKG_CONFIG_PATH="$PKG_CONFIG_PATH" \
     PKG_CONFIG_SYSROOT_DIR="$d" >"$pc_tmp/build.log" 2>&1 &&
   [ -f "$tpl/metric.so" ] && [ -f "$tpl/optimizer.so" ]; then
  ok "it also builds with make PKG_CONFIG_PATH=... PKG_CONFIG_SYSROOT_DIR=..."
else
  not_ok "make PKG_CONFIG_PATH=... does not build the template"
  sed 's/^/    | /' "$pc_tmp/build.log" | tail -n 20
fi
# Every include path is the staged one ($d/...): one into the source tree
# (-I/abs/top/sdk/include) or anywhere else fails. (A plain grep for
# "-I$top" would also match $d when the build directory is inside the
# source tree, as scripts/test.sh's _build/werror is.)
stray=$(grep -o -- '-I[^ ]*' "$pc_tmp/build.log" |
        awk -v p="-I$d/" 'index($0, p) != 1' | sort -u | tr '\n' ' ')
if grep -q -- "-Wl,--version-script=$d" "$pc_tmp/build.log" &&
   grep -qF -- "-I$d/" "$pc_tmp/build.log" && [ -z "$stray" ] &&
   ! grep -qF -- -lpromptc "$pc_tmp/build.log"; then
  ok "it links with the installed version script and nothing of promptc"
else
  not_ok "the build did not use the installed flags only${stray:+ ($stray)}"
  sed 's/^/    | /' "$pc_tmp/build.log" | tail -n 10
fi

for so in metric optimizer; do
  syms=$("$PC_NM" -D --defined-only "$tpl/$so.so" |
         awk '$2 != "A" { print $3 }' | tr '\n' ' ')
  if [ "$syms" = "pc_plugin_entry_v1@@PROMPTC_PLUGIN_1 " ]; then
    ok "$so.so exports only pc_plugin_entry_v1@@PROMPTC_PLUGIN_1"
  else
    not_ok "$so.so exports: $syms"
  fi
  # Only libc (and the loader): nothing of promptc, no other library.
  needed=$(readelf -d "$tpl/$so.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
           grep -v '^libc\.so\|^ld-linux' | tr '\n' ' ')
  if [ -z "$needed" ]; then
    ok "$so.so needs no library but libc"
  else
    not_ok "$so.so needs $needed"
  fi
  # One .c file each, including only <promptc/plugin.h> and libc headers.
  incs=$(grep -h '^#include' "$tpl/$so.c" | grep -v '<std[a-z]*\.h>\|<string\.h>' |
         tr '\n' ' ')
  if [ "$incs" = "#include <promptc/plugin.h> " ]; then
    ok "$so.c includes only <promptc/plugin.h> and the C library"
  else
    not_ok "$so.c includes $incs"
  fi
done

# The installed promptc, its staged plugins and the template's.
PROMPTC_PLUGIN_PATH="$tpl:$plugindir"
PROMPTC_NO_SYSTEM_PLUGINS=1
LD_LIBRARY_PATH="$d$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PATH="$d$bindir:$PATH"
PC_PROMPTC=$d$bindir/promptc
export PROMPTC_PLUGIN_PATH PROMPTC_NO_SYSTEM_PLUGINS LD_LIBRARY_PATH PATH
export XDG_CACHE_HOME="$pc_tmp/xdg" XDG_STATE_HOME="$pc_tmp/xdg"
mkdir -p "$pc_tmp/xdg/promptc"

run_promptc 0 plugins list
for id in com.example.metric.word_overlap com.example.optimizer.demo_search; do
  if grep -q "^$id .* $tpl/[a-z]*\.so\$" "$pc_tmp/out"; then
    ok "plugins list shows $id from the template's folder"
  else
    not_ok "plugins list lacks $id"
    sed 's/^/    | /' "$pc_tmp/out" | head -n 30
  fi
done
if [ -s "$pc_tmp/err" ]; then
  not_ok "plugins list warned"
  sed 's/^/    | /' "$pc_tmp/err" | head -n 10
else
  ok "plugins list loaded everything without a warning"
fi

# A compile of examples/triage with both: 20 train and 20 val tickets.
tri=$top/examples/triage
head -n 20 "$tri/data/train.jsonl" >"$pc_tmp/train.jsonl"
head -n 20 "$tri/data/dev.jsonl" >"$pc_tmp/val.jsonl"
out=$pc_tmp/triage.json
run_promptc 0 compile "$tri/program.json" --config "$tri/sim.json" \
  --train "$pc_tmp/train.jsonl" --val "$pc_tmp/val.jsonl" \
  --optimizer demo_search --set k=3 --set candidates=4 \
  --metric word_overlap:queue --json -o "$out"
cp "$pc_tmp/out" "$pc_tmp/summary.json"
# field FILE EXPR: a value of the JSON document d in FILE.
field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}
rep=$pc_tmp/triage.report.json
if [ "$(field "$pc_tmp/summary.json" 'd["optimizer"]["id"]')" = \
     com.example.optimizer.demo_search ] &&
   [ "$(field "$out" 'd["compile"]["metric"]')" = word_overlap:queue ]; then
  ok "the compile ran the template's optimizer and metric"
else
  not_ok "the compile did not run com.example.optimizer.demo_search"
fi
got=$(field "$pc_tmp/summary.json" '(d["compiled"]["score"] >=
 d["baseline"]["score"] > 0 and d["compiled"]["n"] == 20)')
if [ "$got" = True ]; then
  ok "the compiled program scores at least the baseline on val" \
     "($(field "$pc_tmp/summary.json" \
         '"%s -> %s" % (d["baseline"]["score"], d["compiled"]["score"])'))"
else
  not_ok "compiled vs baseline: $got"
fi
# The demos it chose are train tickets, as many as k.
got=$(python3 -c 'import json, sys
train = [json.loads(l)["ticket"] for l in open(sys.argv[2])]
demos = json.load(open(sys.argv[1]))["state"]["classify"]["demos"]
print(len(demos), sum(x["ticket"] in train for x in demos))' \
  "$out" "$pc_tmp/train.jsonl" 2>&1)
if [ "$got" = "3 3" ]; then
  ok "the compiled program holds 3 demos, all train tickets"
else
  not_ok "compiled demos, of which train tickets: $got"
fi
# The metric's feedback reaches the optimizer (evaluate with
# PC_EVAL_FEEDBACK), which puts the weakest examples' in its report.
fb=$(field "$rep" '"\n".join(d["optimizer_report"]["feedback"])')
case "$fb" in
  *"gold words found (F1 "*"missing words: "*)
    ok "the report holds the metric's feedback ($(echo "$fb" | head -n 1))" ;;
  *) not_ok "no word_overlap feedback in the report: $fb" ;;
esac
n_trials=$(field "$rep" 'len(d["trials"])')
if [ "$n_trials" = 5 ]; then
  ok "the report has the baseline and 4 candidates as trials"
else
  not_ok "the report has $n_trials trials, expected 5"
fi

# Bad settings and a bad metric config are clear errors.
run_promptc 2 compile "$tri/program.json" --config "$tri/sim.json" \
  --train "$pc_tmp/train.jsonl" --optimizer demo_search --set k=0 \
  --metric word_overlap:queue -o "$pc_tmp/bad.json"
contains "$pc_tmp/err" "demo_search: k: expected an integer from 1 to 16"
if [ -e "$pc_tmp/bad.json" ]; then
  not_ok "a refused compile wrote its output"
else
  ok "a refused compile writes no output"
fi

# promptc plugins check on both (as `make check` of the template runs it).
for so in metric optimizer; do
  run_promptc 0 plugins check "$tpl/$so.so"
  contains "$pc_tmp/out" "0 failed"
  contains "$pc_tmp/out" "PASS  behave:"
done
if tmake check >"$pc_tmp/check.log" 2>&1 &&
   [ "$(grep -c ': conforming$' "$pc_tmp/check.log")" = 2 ]; then
  ok "make check of the template checks both plugins and passes"
else
  not_ok "make check of the template fails"
  sed 's/^/    | /' "$pc_tmp/check.log" | tail -n 20
fi

# make install: to pkg-config's plugindir (staged here) or to PLUGINDIR.
if tmake install DESTDIR="$pc_tmp/stage" >"$pc_tmp/inst.log" 2>&1 &&
   [ -f "$pc_tmp/stage$plugindir/metric.so" ] &&
   [ -f "$pc_tmp/stage$plugindir/optimizer.so" ]; then
  ok "make install puts both in pkg-config's plugindir (under DESTDIR)"
else
  not_ok "make install DESTDIR=... did not install both"
  sed 's/^/    | /' "$pc_tmp/inst.log" | tail -n 10
fi
if tmake install PLUGINDIR="$pc_tmp/mine" >"$pc_tmp/inst.log" 2>&1 &&
   [ "$(stat -c %a "$pc_tmp/mine/metric.so")" = 644 ]; then
  ok "make install PLUGINDIR=DIR installs there, mode 644"
else
  not_ok "make install PLUGINDIR=DIR failed"
fi
if tmake clean >/dev/null 2>&1 && [ ! -e "$tpl/metric.so" ] &&
   [ ! -e "$tpl/optimizer.so" ]; then
  ok "make clean removes the plugins"
else
  not_ok "make clean left the plugins"
fi
finish
