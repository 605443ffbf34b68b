/* flow_fixture.c - the runtime and program helpers of flow_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "flow_fixture.h"
#include "harness.h"
#include "json_text.h"

int pc_testfx_open(pc_testfx *f, const char *who, const char *config_json,
                   const char *subdirs)
{
  const char *b = getenv("PC_TEST_BUILDDIR"), *s = subdirs, *cfg_path;
  pc_runtime_opts o;
  pc_buf dirs;
  pc_error err = PC_ERROR_INIT;
  int rc = 1;

  memset(f, 0, sizeof(*f));
  pc_buf_init(&dirs, 65536);
  b = (b && *b) ? b : ".";
  for (;;) {
    size_t n = strcspn(s, ":");

    if ((dirs.len && pc_buf_putc(&dirs, ':')) ||
        pc_buf_printf(&dirs, "%s/tests/plugins%s%.*s/.libs", b,
                      n ? "/" : "", (int)n, s)) {
      pc_error_set(&err, PC_E_NOMEM, "out of memory");
      goto out;
    }
    if (!s[n])
      break;
    s += n + 1;
  }
  cfg_path = pc_test_tmpfile(config_json, strlen(config_json), ".json");
  if (pc_config_load(cfg_path, &f->cfg, &err) ||
      !(f->reg = pc_registry_new()) ||
      pc_registry_load_default(f->reg, dirs.data, &err))
    goto out;
  memset(&o, 0, sizeof(o));
  o.cfg = f->cfg;
  o.reg = f->reg;
  o.threads = 1;
  o.no_cache = 1;
  if (pc_runtime_open(&o, &f->rt, &err))
    goto out;
  rc = 0;

out:
  if (rc) {
    fprintf(stderr, "%s setup: %s\n", who, err.message);
    pc_testfx_close(f);
  }
  pc_buf_free(&dirs);
  return rc;
}

void pc_testfx_close(pc_testfx *f)
{
  pc_runtime_close(f->rt);
  pc_registry_free(f->reg);
  pc_config_free(f->cfg);
  memset(f, 0, sizeof(*f));
}

struct json_object *pc_testfx_parse(const char *text)
{
  struct json_object *root = NULL;
  pc_error err = PC_ERROR_INIT;
  char *copy = pc_strdup(text);

  if (!copy)
    return NULL;
  for (char *p = copy; *p; p++)
    if (*p == '\'')
      *p = '"';
  if (pc_json_parse(copy, strlen(copy), 0, &root, &err))
    fprintf(stderr, "parse: %s\n", err.message);
  pc_free(copy);
  return root;
}

pc_program *pc_testfx_load(const char *text, pc_error *err)
{
  struct json_object *root = pc_testfx_parse(text);
  pc_program *prog = NULL;

  if (pc_program_from_json("prog.json", root, &prog, err))
    prog = NULL;
  json_object_put(root);
  return prog;
}
