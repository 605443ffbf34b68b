#!/bin/sh
# plugin_header_test.sh - promptc/plugin.h compiles as C99 and as C++ with
# -Wall -Wextra -pedantic -Werror, and includes only <stddef.h> and
# <stdint.h>.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

hdr_dir="$PC_TEST_SRCDIR/../sdk/include"
hdr="$hdr_dir/promptc/plugin.h"
cc=${CC:-cc}
cxx=${CXX:-c++}

includes=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$hdr" | tr -d ' ' | sort | tr '\n' ' ')
if [ "$includes" = "#include<stddef.h> #include<stdint.h> " ]; then
  ok "plugin.h includes only stddef.h and stdint.h"
else
  not_ok "plugin.h includes: $includes"
fi

cat >"$pc_tmp/use.c" <<'SRC'
#include "promptc/plugin.h"
static pc_error e = PC_ERROR_INIT;
int main(void)
{
  pc_plugin_info info = {PC_ABI_HEADER_INIT(pc_plugin_info), 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 0, 0};
  return (int)(e.code + PC_HAS_FIELD(&info, pc_plugin_info, get_interface_at)
               - 1);
}
SRC
check "plugin.h compiles as C99 -pedantic" \
  "$cc" -std=c99 -Wall -Wextra -pedantic -Werror -I"$hdr_dir" \
  -o "$pc_tmp/use_c" "$pc_tmp/use.c"
check "the C99 program runs (PC_HAS_FIELD sees appended fields)" "$pc_tmp/use_c"
cp "$pc_tmp/use.c" "$pc_tmp/use.cc"
if command -v "$cxx" >/dev/null 2>&1; then
  check "plugin.h compiles as C++11 -pedantic" \
    "$cxx" -std=c++11 -Wall -Wextra -pedantic -Werror -I"$hdr_dir" \
    -o "$pc_tmp/use_cc" "$pc_tmp/use.cc"
else
  not_ok "no C++ compiler ($cxx) to check the header with"
fi
finish
