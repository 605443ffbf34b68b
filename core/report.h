/*
 * report.h - the report of one compile: report.json (what the compile did,
 * trial by trial) and report.html (the same data as tables and inline SVG
 * charts, in one self-contained file). docs/reports.md is the reference.
 */
#ifndef PC_REPORT_H
#define PC_REPORT_H

#include <stddef.h>
#include <json-c/json.h>

#include "buf.h"
#include "errors.h"
#include "program.h"

#define PC_REPORT_SCHEMA "promptc.report/1"

/* The trials table of report.html lists every trial up to this many; a
 * longer run shows the first and the last PC_REPORT_TABLE_EDGE. */
#define PC_REPORT_TABLE_MAX 1000
#define PC_REPORT_TABLE_EDGE 500

/* What a report is made of. Every pointer is borrowed for the call and may
 * be NULL unless said otherwise. */
typedef struct pc_report_input {
  /* The `promptc compile --json` summary: run_id, optimizer {name, id,
   * version, settings}, seed, baseline and compiled {score, n}, usage,
   * stopped_by, stop_reason, elapsed_ms. Required. */
  const struct json_object *summary;
  const char *program_name;    /* the program's "name" */
  const char *program_path;    /* the compiled program written (OUT.json) */
  const char *program_sha256;  /* its sha256, hex */
  const struct json_object *trials;  /* pc_compile_result.trial_log */
  const struct json_object *optimizer_report;  /* pc_compile_result.report */
  const struct json_object *state;   /* pc_report_state_of(compiled) */
} pc_report_input;

/*
 * pc_report_build - the report.json object of a compile.
 *
 * Members in this order whatever the order of the inputs: schema, run_id,
 * program {name, path, sha256}, optimizer {name, id, version, settings},
 * seed, baseline {score, n}, compiled {score, n}, stopped_by, stop_reason,
 * usage, elapsed_ms, trials, optimizer_report, state. A member the input
 * lacks is null (trials: []). Values are deep copies. On PC_OK *out is a
 * new object owned by the caller (json_object_put); on failure
 * (PC_E_INVALID_ARG without a summary, PC_E_NOMEM) *out is NULL.
 */
int pc_report_build(const pc_report_input *in, struct json_object **out,
                    pc_error *err);

/*
 * pc_report_state_of - the learnable state of every predictor of `prog`,
 * in predictor order: {"<path>": {"instructions": "...", "demos": [...]}}
 * (unlike the program file's "state", which leaves out predictors that
 * kept their signature's instructions and have no demos). A new object
 * owned by the caller; NULL when out of memory.
 */
struct json_object *pc_report_state_of(const pc_program *prog);

/*
 * pc_report_html - render a report object (pc_report_build's, or a
 * report.json parsed back) as one self-contained HTML page: inline CSS and
 * SVG, no script, no external URL. Every text taken from the report is
 * escaped. Members that are missing or of the wrong type leave their
 * section out or empty; they are not errors. Appends to `out`; PC_E_NOMEM
 * (out of memory or past the buffer's cap) on failure, when `out` holds a
 * partial page the caller discards.
 */
int pc_report_html(const struct json_object *report, pc_buf *out,
                   pc_error *err);

/*
 * pc_report_write - write `report` as pretty JSON to `json_path` and as
 * HTML to `html_path` (either may be NULL to skip it), each through a
 * temporary file renamed over the path, creating missing parent
 * directories. Non-finite numbers are written as null. PC_E_IO naming the
 * path, or PC_E_NOMEM; a file already written stays.
 */
int pc_report_write(const struct json_object *report, const char *json_path,
                    const char *html_path, pc_error *err);

/*
 * pc_report_paths - the report files of a compile: `stem` plus
 * ".report.json" and ".report.html", where stem is `prefix` when given,
 * else `output` without a final ".json" (out.json -> out.report.json).
 * On PC_OK *json_path and *html_path are new strings (pc_free); on
 * PC_E_NOMEM both are NULL.
 */
int pc_report_paths(const char *output, const char *prefix,
                    char **json_path, char **html_path);

#endif
