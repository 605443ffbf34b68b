#!/usr/bin/env python3
"""gen-unicode-tables.py - write the Unicode tables of the metric-basic plugin.

The metric-basic plugin reproduces DSPy's normalize_text and the DPR simple
tokenizer byte for byte, so it needs the same Unicode data as the Python
that runs DSPy: canonical decompositions and combining classes (NFD),
str.lower() mappings with the Final_Sigma context, re's \\w, str.isspace()
and the general categories the DPR tokenizer's regex uses. This script
reads all of them from this python3's own unicodedata, str and re, so the
tables agree with what that Python does, and writes

    plugins/metric-basic/unicode_tables.h
    plugins/metric-basic/unicode_tables.c

Run it by hand from the top of the source tree when moving to a newer
Unicode version, and commit its output:

    python3 scripts/gen-unicode-tables.py

Every table is sorted by code point and searched by binary search.
Surrogates (U+D800..U+DFFF) are left out of every table: the plugin's UTF-8
decoder never produces them.
"""

import os
import re
import sys
import unicodedata

MAX_CP = 0x110000
SIGMA = 0x3A3
WORD_RE = re.compile(r"\w")


def is_surrogate(c):
    return 0xD800 <= c <= 0xDFFF


def code_points():
    return (c for c in range(MAX_CP) if not is_surrogate(c))


def bool_ranges(pred):
    """Sorted [lo, hi] ranges of the code points where pred holds."""
    out = []
    start = None
    last = None
    for c in code_points():
        if pred(c):
            if start is not None and c == last + 1:
                last = c
                continue
            if start is not None:
                out.append((start, last))
            start = last = c
    if start is not None:
        out.append((start, last))
    return out


def value_ranges(value):
    """Sorted [lo, hi, v] ranges of consecutive code points with the same
    non-zero value."""
    out = []
    for c in code_points():
        v = value(c)
        if not v:
            continue
        if out and out[-1][1] == c - 1 and out[-1][2] == v:
            out[-1][1] = c
        else:
            out.append([c, c, v])
    return [tuple(r) for r in out]


# --- the properties, straight from this Python ------------------------------

def is_word(c):
    """What Python's re matches with \\w (str.isalnum() and '_')."""
    return WORD_RE.match(chr(c)) is not None


def is_space(c):
    """What str.split() with no argument splits on."""
    return chr(c).isspace()


def sigma_final_after(c):
    """Is 'A' + c + SIGMA lowered with a final sigma?"""
    return ("A" + chr(c) + chr(SIGMA)).lower()[-1] == "\u03c2"


def sigma_final_alone(c):
    """Is c + SIGMA lowered with a final sigma?"""
    return (chr(c) + chr(SIGMA)).lower()[-1] == "\u03c2"


# Python's Final_Sigma rule looks left past case-ignorable characters for a
# cased one and right past case-ignorable ones for no cased one. Probing
# str.lower() tells the two properties apart where the rule can see them:
# a case-ignorable character is skipped (final after 'A', not final alone);
# a cased one that is not case-ignorable ends the search (final both ways).
def is_case_ignorable(c):
    return c != SIGMA and sigma_final_after(c) and not sigma_final_alone(c)


def is_cased(c):
    return c == SIGMA or sigma_final_alone(c)


def dpr_class(c):
    """1: a letter, number or mark (\\p{L}\\p{N}\\p{M}); 2: a separator or
    other (\\p{Z}\\p{C}, unassigned included); 0 for the rest."""
    cat = unicodedata.category(chr(c))[0]
    if cat in "LNM":
        return 1
    if cat in "ZC":
        return 2
    return 0


HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def decompositions():
    """(cp, full NFD sequence) of every code point NFD changes, Hangul
    syllables excepted (the plugin decomposes those arithmetically)."""
    out = []
    for c in code_points():
        if HANGUL_FIRST <= c <= HANGUL_LAST:
            continue
        d = unicodedata.normalize("NFD", chr(c))
        if d != chr(c):
            out.append((c, [ord(x) for x in d]))
    return out


def lower_maps():
    """(simple runs, multi-character mappings) of str.lower(); the capital
    sigma is left to the plugin's Final_Sigma code."""
    single = []
    multi = []
    for c in code_points():
        if c == SIGMA:
            continue
        low = chr(c).lower()
        if low == chr(c):
            continue
        if len(low) == 1:
            single.append((c, ord(low) - c))
        else:
            multi.append((c, [ord(x) for x in low]))
    # Runs of code points with the same delta, spaced by 1 or by 2 (the
    # alternating upper/lower pairs of Latin Extended and friends).
    runs = []
    for c, delta in single:
        if runs:
            lo, hi, stride, d = runs[-1]
            if d == delta:
                if stride == 0 and c - hi in (1, 2):
                    runs[-1] = (lo, c, c - hi, d)
                    continue
                if stride and c - hi == stride:
                    runs[-1] = (lo, c, stride, d)
                    continue
        runs.append((c, c, 0, delta))
    return [(lo, hi, stride or 1, d) for lo, hi, stride, d in runs], multi


# --- output -----------------------------------------------------------------

def rows(items, per_line, fmt):
    line = []
    out = []
    for it in items:
        line.append(fmt(it))
        if len(line) == per_line:
            out.append("  " + ", ".join(line) + ",")
            line = []
    if line:
        out.append("  " + ", ".join(line) + ",")
    return "\n".join(out)


def emit_ranges(name, ranges):
    body = rows(ranges, 3, lambda r: "{0x%05X, 0x%05X}" % r)
    return ("const pc__ut_range %s[] = {\n%s\n};\n"
            "const size_t %s_len = %d;\n" % (name, body, name, len(ranges)))


def emit_value_ranges(name, ranges):
    body = rows(ranges, 3, lambda r: "{0x%05X, 0x%05X, %d}" % r)
    return ("const pc__ut_value_range %s[] = {\n%s\n};\n"
            "const size_t %s_len = %d;\n" % (name, body, name, len(ranges)))


HEADER_H = """\
/*
 * unicode_tables.h - Unicode property tables for the metric-basic plugin.
 *
 * GENERATED by scripts/gen-unicode-tables.py from the unicodedata, str and
 * re of Python {pyver} (Unicode {univer}). Do not edit: rerun the script.
 *
 * Every table is sorted by code point, has no overlapping entries and
 * leaves out the surrogates; look code points up by binary search.
 */
#ifndef PC_METRIC_UNICODE_TABLES_H
#define PC_METRIC_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define PC__UT_UNICODE_VERSION "{univer}"

/* Longest lowercase mapping and longest decomposition, in code points. */
#define PC__UT_LOWER_MAX_LEN {lower_max}
#define PC__UT_DECOMP_MAX_LEN {decomp_max}

/* An inclusive range of code points that have a property. */
typedef struct pc__ut_range {{
  uint32_t lo;
  uint32_t hi;
}} pc__ut_range;

/* An inclusive range of code points that share a non-zero value. */
typedef struct pc__ut_value_range {{
  uint32_t lo;
  uint32_t hi;
  uint32_t value;
}} pc__ut_value_range;

/* A run of single-code-point lowercase mappings: every `stride`-th code
 * point from lo to hi lowers to itself plus `delta`. */
typedef struct pc__ut_lower_run {{
  uint32_t lo;
  uint32_t hi;
  uint32_t stride;  /* 1 or 2 */
  int32_t delta;
}} pc__ut_lower_run;

/* A code point whose lowercase form is several code points. */
typedef struct pc__ut_lower_multi {{
  uint32_t cp;
  uint32_t len;
  uint32_t seq[PC__UT_LOWER_MAX_LEN];
}} pc__ut_lower_multi;

/* A code point's full canonical decomposition (NFD, already in canonical
 * order): `len` code points from pc__ut_decomp_pool[off]. */
typedef struct pc__ut_decomp {{
  uint32_t cp;
  uint16_t off;
  uint16_t len;
}} pc__ut_decomp;

/* re's \\w: str.isalnum() characters and '_'. */
extern const pc__ut_range pc__ut_word[];
extern const size_t pc__ut_word_len;

/* str.isspace(): what str.split() splits on. */
extern const pc__ut_range pc__ut_space[];
extern const size_t pc__ut_space_len;

/* Case_Ignorable and Cased as str.lower()'s Final_Sigma rule sees them
 * (a character that is both is only listed as case-ignorable: the rule
 * skips it before asking whether it is cased). */
extern const pc__ut_range pc__ut_case_ignorable[];
extern const size_t pc__ut_case_ignorable_len;
extern const pc__ut_range pc__ut_cased[];
extern const size_t pc__ut_cased_len;

/* DPR tokenizer classes: value 1 for \\p{{L}}\\p{{N}}\\p{{M}}, 2 for
 * \\p{{Z}}\\p{{C}} (unassigned included); absent code points are 0 (any
 * other character, a token of its own). */
extern const pc__ut_value_range pc__ut_dpr_class[];
extern const size_t pc__ut_dpr_class_len;

/* Canonical combining classes other than 0. */
extern const pc__ut_value_range pc__ut_ccc[];
extern const size_t pc__ut_ccc_len;

/* str.lower() of single characters, U+03A3 apart. */
extern const pc__ut_lower_run pc__ut_lower_runs[];
extern const size_t pc__ut_lower_runs_len;
extern const pc__ut_lower_multi pc__ut_lower_multi_map[];
extern const size_t pc__ut_lower_multi_len;

/* NFD of every code point it changes, Hangul syllables apart. */
extern const pc__ut_decomp pc__ut_decomps[];
extern const size_t pc__ut_decomps_len;
extern const uint32_t pc__ut_decomp_pool[];

#endif
"""


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = os.path.join(top, "plugins", "metric-basic")
    pyver = "%d.%d.%d" % sys.version_info[:3]
    univer = unicodedata.unidata_version

    word = bool_ranges(is_word)
    space = bool_ranges(is_space)
    ignorable = bool_ranges(is_case_ignorable)
    cased = bool_ranges(lambda c: is_cased(c) and not is_case_ignorable(c))
    dpr = value_ranges(dpr_class)
    ccc = value_ranges(lambda c: unicodedata.combining(chr(c)))
    runs, multi = lower_maps()
    decomps = decompositions()

    lower_max = max([1] + [len(s) for _, s in multi])
    decomp_max = max(len(s) for _, s in decomps)
    pool = []
    index = []
    for c, seq in decomps:
        index.append((c, len(pool), len(seq)))
        pool.extend(seq)
    assert len(pool) < 0x10000

    header = HEADER_H.format(pyver=pyver, univer=univer, lower_max=lower_max,
                             decomp_max=decomp_max)

    src = []
    src.append("""\
/*
 * unicode_tables.c - Unicode property tables for the metric-basic plugin.
 *
 * GENERATED by scripts/gen-unicode-tables.py from the unicodedata, str and
 * re of Python %s (Unicode %s). Do not edit: rerun the script.
 */
#include "unicode_tables.h"
""" % (pyver, univer))
    src.append(emit_ranges("pc__ut_word", word))
    src.append(emit_ranges("pc__ut_space", space))
    src.append(emit_ranges("pc__ut_case_ignorable", ignorable))
    src.append(emit_ranges("pc__ut_cased", cased))
    src.append(emit_value_ranges("pc__ut_dpr_class", dpr))
    src.append(emit_value_ranges("pc__ut_ccc", ccc))
    body = rows(runs, 2, lambda r: "{0x%05X, 0x%05X, %d, %d}" % r)
    src.append("const pc__ut_lower_run pc__ut_lower_runs[] = {\n%s\n};\n"
               "const size_t pc__ut_lower_runs_len = %d;\n"
               % (body, len(runs)))
    body = rows(multi, 1, lambda m: "{0x%05X, %d, {%s}}" % (
        m[0], len(m[1]), ", ".join("0x%05X" % x for x in m[1])))
    src.append("const pc__ut_lower_multi pc__ut_lower_multi_map[] = {\n%s\n"
               "};\nconst size_t pc__ut_lower_multi_len = %d;\n"
               % (body, len(multi)))
    body = rows(index, 3, lambda d: "{0x%05X, %d, %d}" % d)
    src.append("const pc__ut_decomp pc__ut_decomps[] = {\n%s\n};\n"
               "const size_t pc__ut_decomps_len = %d;\n"
               % (body, len(index)))
    body = rows(pool, 6, lambda x: "0x%05X" % x)
    src.append("const uint32_t pc__ut_decomp_pool[] = {\n%s\n};\n" % body)

    with open(os.path.join(outdir, "unicode_tables.h"), "w") as f:
        f.write(header)
    with open(os.path.join(outdir, "unicode_tables.c"), "w") as f:
        f.write("\n".join(src))
    print("gen-unicode-tables: Unicode %s: %d word, %d space, %d "
          "case-ignorable, %d cased, %d DPR, %d ccc ranges; %d lower runs, "
          "%d multi; %d decompositions (%d code points)"
          % (univer, len(word), len(space), len(ignorable), len(cased),
             len(dpr), len(ccc), len(runs), len(multi), len(index),
             len(pool)))


if __name__ == "__main__":
    main()
