#!/bin/sh
# plugin_symbols_test.sh - every plugin .so the project builds exports
# exactly one dynamic symbol, pc_plugin_entry_v1 in version node
# PROMPTC_PLUGIN_1 (nm -D --defined-only; the version node itself is listed
# as an absolute symbol and is not counted). The careless fixture that
# exports helpers must be caught by the same check.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

b=${PC_TEST_BUILDDIR:-.}

# exports FILE: the defined dynamic symbols other than version nodes.
exports() {
  "$PC_NM" -D --defined-only "$1" | awk '$2 != "A" { print $3 }'
}

one_symbol() {
  syms=$(exports "$1" | tr '\n' ' ')
  [ "$syms" = "pc_plugin_entry_v1@@PROMPTC_PLUGIN_1 " ]
}

n=0
for so in "$b"/plugins/*/.libs/*.so "$b"/tests/plugins/.libs/fx_good.so; do
  [ -f "$so" ] || continue
  n=$((n + 1))
  if one_symbol "$so"; then
    ok "$(basename "$so") exports only pc_plugin_entry_v1@@PROMPTC_PLUGIN_1"
  else
    not_ok "$(basename "$so") exports: $(exports "$so" | tr '\n' ' ')"
  fi
done
if [ "$n" -ge 3 ]; then ok "checked $n plugins"; else not_ok "found only $n plugins to check"; fi

bad="$b/tests/plugins/.libs/fx_extra_symbols.so"
bad_syms=$(exports "$bad" | tr '\n' ' ')
case "$bad_syms" in
  *fx_leaked_helper*)
    if one_symbol "$bad"; then
      not_ok "the check missed fx_extra_symbols.so's extra exports"
    else
      ok "the check flags fx_extra_symbols.so ($bad_syms)"
    fi ;;
  *) not_ok "nm did not list fx_extra_symbols.so's exports: '$bad_syms'" ;;
esac
# libpromptc exports exactly the functions promptc.h declares.
lib="$b/core/.libs/libpromptc.so"
declared=$(grep -oE '\bpc_[a-z_]+\(' "$PC_TEST_SRCDIR/../sdk/include/promptc/promptc.h" | tr -d '(' | sort -u | tr '\n' ' ')
exported=$("$PC_NM" -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u | tr '\n' ' ')
if [ -n "$declared" ] && [ "$declared" = "$exported" ]; then
  ok "libpromptc.so exports exactly what promptc.h declares ($exported)"
else
  not_ok "libpromptc.so exports '$exported', promptc.h declares '$declared'"
fi
finish
