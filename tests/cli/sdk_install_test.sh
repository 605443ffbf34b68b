#!/bin/sh
# sdk_install_test.sh - what `make install` puts where: the exact set of
# installed files (the plugins checked against those the build made), the
# flags the two pkg-config files give, the installed plugin.h compiling
# alone as C99 and C++, and the installed promptc listing the installed
# plugins.
. "${PC_TEST_SRCDIR:-tests}/cli/lib.sh"

b=${PC_TEST_BUILDDIR:-.}
if ! pc_destdir_install; then
  not_ok "make install DESTDIR=... failed (see $b/tests/destdir.log)"
  sed 's/^/    | /' "$b/tests/destdir.log" | tail -n 20
  finish
fi
ok "make install DESTDIR=$PC_DESTDIR"
d=$PC_DESTDIR

# The installation directories as configured, expanded the way make does
# (the Makefile's values use ${prefix}-style references, which the shell
# expands the same way).
mkvar() { sed -n "s/^$1 = //p" "$b/Makefile"; }
for v in prefix exec_prefix datarootdir bindir libdir includedir datadir \
         mandir; do
  eval "$v=\"$(mkvar $v)\""
done
plugindir=$libdir/promptc/plugins

# --- the installed file list ----------------------------------------------
# libpromptc's file names come from libtool (its -version-info).
libnames=$(sed -n "s/^library_names='\(.*\)'/\1/p" "$b/core/libpromptc.la")
{
  echo "$bindir/promptc"
  echo "$includedir/promptc/plugin.h"
  echo "$includedir/promptc/promptc.h"
  echo "$libdir/libpromptc.la"
  for n in $libnames; do echo "$libdir/$n"; done
  echo "$libdir/pkgconfig/promptc.pc"
  echo "$libdir/pkgconfig/promptc-plugin.pc"
  echo "$datadir/promptc/promptc-plugin.map"
  echo "$mandir/man1/promptc.1"
  echo "$mandir/man7/promptc-plugin.7"
} | sort >"$pc_tmp/want"
(cd "$d" && find . \( -type f -o -type l \) ! -name .done) |
  sed 's|^\.||' | grep -v "^$plugindir/" | sort >"$pc_tmp/got"
if [ -n "$libnames" ] && cmp -s "$pc_tmp/want" "$pc_tmp/got"; then
  ok "installed files are exactly the expected $(wc -l <"$pc_tmp/want")" \
     "(plugins aside)"
else
  not_ok "installed files differ from the expected list (- expected," \
         "+ installed)"
  diff "$pc_tmp/want" "$pc_tmp/got" | grep '^[<>]' |
    sed 's/^</    -/; s/^>/    +/'
fi

# Every plugin the build made is installed (with its libtool .la), and
# nothing else is in the plugin directory.
for so in "$b"/plugins/*/.libs/*.so; do
  [ -f "$so" ] || continue
  n=$(basename "$so" .so)
  echo "$plugindir/$n.la"
  echo "$plugindir/$n.so"
done | sort >"$pc_tmp/want_plugins"
(cd "$d" && find ".$plugindir" \( -type f -o -type l \)) | sed 's|^\.||' |
  sort >"$pc_tmp/got_plugins"
n_plugins=$(grep -c '\.so$' "$pc_tmp/want_plugins")
if [ "$n_plugins" -ge 10 ] &&
   cmp -s "$pc_tmp/want_plugins" "$pc_tmp/got_plugins"; then
  ok "the plugin directory holds exactly the $n_plugins plugins the build made"
else
  not_ok "plugin directory differs from the build's $n_plugins plugins"
  diff "$pc_tmp/want_plugins" "$pc_tmp/got_plugins" | grep '^[<>]' |
    sed 's/^</    -/; s/^>/    +/'
fi
# promptc refuses group- or world-writable plugin files.
modes=$(stat -c '%a' "$d$plugindir"/*.so "$d$plugindir" | sort -u |
        tr '\n' ' ')
case "$modes" in
  "755 "|"644 755 ") ok "plugins and their directory are not group- or" \
                        "world-writable ($modes)" ;;
  *) not_ok "plugin files or directory have modes $modes" ;;
esac

# --- the pkg-config files ---------------------------------------------------
# pkg-config reads the staged files first; the sysroot prefixes their
# paths. The system's .pc files stay visible: promptc.pc requires those of
# libpromptc's own dependencies.
PKG_CONFIG_PATH=$d$libdir/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$d
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pkgc=${PKG_CONFIG:-pkg-config}
if ! command -v "$pkgc" >/dev/null 2>&1; then
  not_ok "no pkg-config ($pkgc) to read the installed .pc files with"
  finish
fi
for m in promptc promptc-plugin; do
  check "$m.pc is valid" "$pkgc" --validate "$m"
done

# has_flags WHAT GOT FLAG...: every FLAG is one of the words of GOT.
has_flags() {
  what=$1 got=$2 missing=
  shift 2
  for f in "$@"; do
    case " $got " in *" $f "*) ;; *) missing="$missing $f" ;; esac
  done
  if [ -z "$missing" ]; then
    ok "$what gives $*"
  else
    not_ok "$what lacks$missing (it gives: $got)"
  fi
}

ver=$("$PC_PROMPTC" --version | awk '{ print $2 }')
got=$("$pkgc" --modversion promptc-plugin)
if [ -n "$ver" ] && [ "$got" = "$ver" ] &&
   [ "$("$pkgc" --modversion promptc)" = "$ver" ]; then
  ok "both .pc files have version $ver, as promptc --version says"
else
  not_ok "pc versions '$got', '$("$pkgc" --modversion promptc)'," \
         "promptc --version '$ver'"
fi

map=$d$datadir/promptc/promptc-plugin.map
has_flags "pkg-config --cflags promptc-plugin" \
  "$("$pkgc" --cflags promptc-plugin)" \
  "-I$d$includedir" -fPIC -fvisibility=hidden
has_flags "pkg-config --libs promptc-plugin" "$("$pkgc" --libs promptc-plugin)" \
  -shared -fPIC -Wl,-z,defs "-Wl,--version-script=$map"
if cmp -s "$map" "$PC_TEST_SRCDIR/../sdk/promptc-plugin.map"; then
  ok "the version script is installed where promptc-plugin.pc says"
else
  not_ok "no version script at $map"
fi
got=$("$pkgc" --variable=plugindir promptc-plugin)
if [ "$got" = "$d$plugindir" ] && [ -f "$got/lm-sim.so" ]; then
  ok "pkg-config --variable=plugindir promptc-plugin is the plugin directory"
else
  not_ok "plugindir of promptc-plugin is '$got', expected '$d$plugindir'"
fi
got=$("$pkgc" --variable=plugindir promptc)
if [ "$got" = "$d$plugindir" ]; then
  ok "pkg-config --variable=plugindir promptc is the plugin directory"
else
  not_ok "plugindir of promptc is '$got', expected '$d$plugindir'"
fi
has_flags "pkg-config --cflags promptc" "$("$pkgc" --cflags promptc)" \
  "-I$d$includedir"
has_flags "pkg-config --libs promptc" "$("$pkgc" --libs promptc)" \
  "-L$d$libdir" -lpromptc
# A static link needs the libraries libpromptc uses.
has_flags "pkg-config --static --libs promptc" \
  "$("$pkgc" --static --libs promptc)" -lpromptc -ljson-c -lcurl -lsodium \
  -larchive -lsqlite3 -lpthread

# --- the installed headers ---------------------------------------------------
cflags=$("$pkgc" --cflags promptc-plugin)
printf '#include <promptc/plugin.h>\n' >"$pc_tmp/alone.c"
# shellcheck disable=SC2086 # cflags is a list of words
check "the installed plugin.h compiles alone as C99 -pedantic" \
  "${CC:-cc}" -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only \
  $cflags "$pc_tmp/alone.c"
cxx=${CXX:-g++}
if command -v "$cxx" >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  check "the installed plugin.h compiles alone as C++" \
    "$cxx" -x c++ -Wall -Wextra -pedantic -Werror -fsyntax-only \
    $cflags "$pc_tmp/alone.c"
else
  not_ok "no C++ compiler ($cxx) to check the installed plugin.h with"
fi
if cmp -s "$d$includedir/promptc/plugin.h" \
   "$PC_TEST_SRCDIR/../sdk/include/promptc/plugin.h"; then
  ok "the installed plugin.h is the source tree's"
else
  not_ok "the installed plugin.h differs from sdk/include/promptc/plugin.h"
fi

# --- the installed promptc ------------------------------------------------------
# The installed promptc looks in the plugin directory compiled into it,
# which is the configured prefix's ($plugindir), not the staging copy under
# DESTDIR: a staged tree is not where it will run. So the staged plugin
# directory is named with PROMPTC_PLUGIN_PATH, system plugins are allowed
# (PROMPTC_NO_SYSTEM_PLUGINS unset), and every plugin must come from the
# staged directory.
env -u PROMPTC_NO_SYSTEM_PLUGINS PROMPTC_PLUGIN_PATH="$d$plugindir" \
  LD_LIBRARY_PATH="$d$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$d$bindir/promptc" plugins list >"$pc_tmp/list" 2>"$pc_tmp/list.err"
st=$?
if [ "$st" -eq 0 ]; then
  ok "the installed promptc runs plugins list"
else
  not_ok "the installed promptc plugins list exits $st"
  sed 's/^/    stderr: /' "$pc_tmp/list.err" | head -n 10
fi
n=0 bad=
for so in "$d$plugindir"/*.so; do
  sum=$(sha256sum "$so" | awk '{ print $1 }')
  if grep -q " $sum $so\$" "$pc_tmp/list"; then
    n=$((n + 1))
  else
    bad="$bad $(basename "$so")"
  fi
done
if [ -z "$bad" ] && [ "$n" -eq "$n_plugins" ]; then
  ok "it lists all $n installed plugins, from the staged directory, with" \
     "their sha256"
else
  not_ok "plugins list lacks (or shows another copy of):$bad"
  sed 's/^/    | /' "$pc_tmp/list" | head -n 30
fi
finish
