/*
 * check.h - what the parts of `promptc plugins check` share: the plugin
 * kinds, the options, the rows of the table, the events a child sends.
 *
 * The command is split by responsibility: cmd_plugins_check.c reads the
 * options, keeps the table and prints it; check_elf.c reads the exported
 * symbols from the file; check_child.c runs a check in a child process
 * and turns the events it writes on a pipe into rows; check_descriptor.c
 * is the first child (entry, descriptor, init, interface tables,
 * create/destroy, fini); check_behaviour.c is the per-kind behaviour
 * child. Private to core/cli.
 */
#ifndef PC_CLI_CHECK_H
#define PC_CLI_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "promptc/plugin.h"

#include "errors.h"

/* The longest detail kept for a row. */
#define CHECK_DETAIL_MAX 400

/* Each plugin kind: its bit, its interface, the short name rows use and
 * the v1.0 size of its table (no table has grown since it appeared). */
typedef struct check_kind {
  uint64_t bit;
  const char *iface;
  const char *name;
  uint32_t min_size;
} check_kind;

#define CHECK_N_KINDS 6
extern const check_kind check_kinds[CHECK_N_KINDS];

/* What the command was asked. */
typedef struct check_opts {
  const char *path;        /* the plugin file */
  const char *sim_config;  /* --sim-config: its "lm" role is served */
  const char *settings;    /* --settings: config of the behaviour runs */
  int json;                /* --json */
  int timeout_s;           /* --timeout */
} check_opts;

/* One row of the table: PASS, FAIL, WARN or SKIP, the check, the detail. */
typedef struct check_row {
  char status[8];
  char name[160];
  char detail[CHECK_DETAIL_MAX + 1];
} check_row;

/* A behaviour run to make: table `index` of kind check_kinds[kind]. */
typedef struct check_task {
  size_t kind;
  uint32_t index;
  char name[160];
} check_task;

/* The table: its rows (counted by status) and the behaviour runs queued
 * by the first child. Both arrays are owned by the table. */
typedef struct check_table {
  check_row *rows;
  size_t n, cap;
  check_task *tasks;
  size_t n_tasks, cap_tasks;
  int failed, passed, skipped, warned;
} check_table;

/* ---- cmd_plugins_check.c --------------------------------------------- */

/* Append a row (the strings are copied, the detail cut at
 * CHECK_DETAIL_MAX). PC_OK, or PC_E_NOMEM with the table unchanged. */
int check_add_row(check_table *tb, const char *status, const char *name,
                  const char *fmt, ...) PC_PRINTF(4, 5);

/* Queue a behaviour run; a kind out of range is ignored. PC_OK, or
 * PC_E_NOMEM with the table unchanged. */
int check_add_task(check_table *tb, size_t kind, uint32_t index,
                   const char *name);

/* Append "; text" (or "text" to an empty list) to the problem list
 * `list` of `cap` bytes; what does not fit is cut. */
void check_note(char *list, size_t cap, const char *fmt, ...)
  PC_PRINTF(3, 4);

/* A clean error: a known code and a non-empty one-line message. Writes
 * what is wrong to `why` and returns 0 when it is not clean. */
int check_clean_error(int rc, const pc_error *err, char *why, size_t cap);

/* ---- check_elf.c ----------------------------------------------------- */

/* The "symbols" row: the file must export exactly the entry point, in
 * the PROMPTC_PLUGIN_1 version node. Reads the file; runs none of it. */
void check_symbols(check_table *tb, const char *path);

/* ---- check_child.c --------------------------------------------------- */

/* What a child runs: the options, and the table and row it is about. */
typedef void (*check_child_fn)(const check_opts *o, size_t ki,
                               uint32_t index, const char *row);

/* Run `fn` in a child process and add the rows its events tell; a crash,
 * an exit or a timeout fails the check it was in. `row` (borrowed, may
 * be NULL) names the check for a failure to start the child. */
void check_run_child(check_table *tb, const check_opts *o, check_child_fn fn,
                     size_t ki, uint32_t index, const char *row);

/* In a child: the check NAME begins (a crash from here on fails it). */
void check_ev_begin(const char *name);

/* In a child: the result of check NAME; tabs and line ends in the name
 * and the detail become spaces, the detail is cut at CHECK_DETAIL_MAX. */
void check_ev_row(const char *status, const char *name, const char *fmt,
                  ...) PC_PRINTF(3, 4);

/* In a child: queue a behaviour run of table `index` of kind `kind`. */
void check_ev_task(size_t kind, uint32_t index, const char *name);

/* ---- check_descriptor.c ---------------------------------------------- */

/* A plugin loaded and initialised in a child (never unloaded: the child
 * ends instead). */
typedef struct check_loaded {
  const pc_plugin_info *info;
  void *state;
  int inited;
} check_loaded;

/* The table `index` of kind `k`, as the host would get it, with its size
 * in *size; NULL when there is none. Borrowed from the plugin. */
const pc_abi_header *check_table_at(const check_loaded *l,
                                    const check_kind *k, uint32_t index,
                                    uint32_t *size);

/* Load and init the plugin at `path` quietly, for a behaviour child.
 * Returns 0 and fills `l`, or -1 after writing why to `why`. */
int check_load(const char *path, check_loaded *l, char *why, size_t cap);

/* The first child: entry, descriptor, init, the interface rows (which
 * queue the behaviour runs), create/destroy of every usable table, fini.
 * `ki`, `index` and `row` are unused. */
void check_child_static(const check_opts *o, size_t ki, uint32_t index,
                        const char *row);

/* ---- check_behaviour.c ----------------------------------------------- */

/* A behaviour child: the short run of table `index` of kind `ki`, as the
 * row `row`. */
void check_child_behave(const check_opts *o, size_t ki, uint32_t index,
                        const char *row);

#endif
