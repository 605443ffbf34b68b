/* flow_fixture.h - what the program-running unit tests share: a runtime
 * on the fixture plugins and programs written with single quotes. */
#ifndef PC_FLOW_FIXTURE_H
#define PC_FLOW_FIXTURE_H

#include <json-c/json.h>

#include "config.h"
#include "errors.h"
#include "loader.h"
#include "program.h"
#include "runtime.h"

typedef struct pc_testfx {
  pc_config *cfg;      /* owned */
  pc_registry *reg;    /* owned */
  pc_runtime *rt;      /* owned */
} pc_testfx;

/*
 * pc_testfx_open - a one-thread runtime without cache on the config text
 * `config_json`, with the plugins of `subdirs` (colon-separated folders
 * under "$PC_TEST_BUILDDIR/tests/plugins", "" for that folder itself).
 * On failure prints "<who> setup: <message>", releases what was made and
 * returns non-zero; on success `f` is released with pc_testfx_close().
 */
int pc_testfx_open(pc_testfx *f, const char *who, const char *config_json,
                   const char *subdirs);

/* Release what pc_testfx_open made (a zeroed `f` is a no-op). */
void pc_testfx_close(pc_testfx *f);

/* Parse JSON written with single quotes for double ones. New
 * (json_object_put), NULL on a parse error (printed). */
struct json_object *pc_testfx_parse(const char *text);

/* Load a program written with single quotes, origin "prog.json". New
 * (pc_program_free), NULL on failure with `err` set. */
pc_program *pc_testfx_load(const char *text, pc_error *err);

#endif
