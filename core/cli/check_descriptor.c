/*
 * check_descriptor.c - `promptc plugins check`: the first child, which
 * loads the plugin and checks its entry point, its descriptor, init,
 * every interface table it declares, create/destroy of each table with
 * an empty and two bad configs, and fini.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "check.h"
#include "host.h"
#include "loader.h"

#define KNOWN_KINDS \
  (PC_KIND_LM_PROVIDER | PC_KIND_ADAPTER | PC_KIND_METRIC | \
   PC_KIND_OPTIMIZER | PC_KIND_TOOL | PC_KIND_PROGRAM)
#define KNOWN_FLAGS PC_PLUGIN_THREADSAFE_INSTANCES

const check_kind check_kinds[CHECK_N_KINDS] = {
  {PC_KIND_ADAPTER, PC_IFACE_ADAPTER, "adapter",
   sizeof(pc_adapter_iface)},
  {PC_KIND_LM_PROVIDER, PC_IFACE_LM_PROVIDER, "lm_provider",
   sizeof(pc_lm_provider_iface)},
  {PC_KIND_METRIC, PC_IFACE_METRIC, "metric", sizeof(pc_metric_iface)},
  {PC_KIND_OPTIMIZER, PC_IFACE_OPTIMIZER, "optimizer",
   sizeof(pc_optimizer_iface)},
  {PC_KIND_TOOL, PC_IFACE_TOOL, "tool", sizeof(pc_tool_iface)},
  {PC_KIND_PROGRAM, PC_IFACE_PROGRAM, "program", sizeof(pc_program_iface)},
};

/* ---- the descriptor's strings ---------------------------------------- */

static int is_lower_alnum(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Reverse-DNS: three or more dot-separated labels of [a-z0-9_-], the
 * first starting with a letter. */
static int valid_rdns(const char *id)
{
  int labels = 0;
  const char *p = id;

  if (!id || !(*id >= 'a' && *id <= 'z'))
    return 0;
  while (*p) {
    const char *start = p;

    while (*p && (is_lower_alnum((unsigned char)*p) || *p == '_' ||
                  *p == '-'))
      p++;
    if (p == start || (*p && *p != '.'))
      return 0;
    labels++;
    if (*p == '.' && !*++p)
      return 0;
  }
  return labels >= 3;
}

/* Digits without a leading zero; advances *p. */
static int semver_number(const char **p)
{
  const char *s = *p;

  if (!(*s >= '0' && *s <= '9'))
    return 0;
  if (*s == '0' && s[1] >= '0' && s[1] <= '9')
    return 0;
  while (*s >= '0' && *s <= '9')
    s++;
  *p = s;
  return 1;
}

/* Dot-separated identifiers of [0-9A-Za-z-]; advances *p. */
static int semver_idents(const char **p)
{
  const char *s = *p;

  do {
    const char *start = s;

    while ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
           (*s >= 'A' && *s <= 'Z') || *s == '-')
      s++;
    if (s == start)
      return 0;
  } while (*s == '.' && *++s);
  *p = s;
  return 1;
}

/* MAJOR.MINOR.PATCH[-PRE][+BUILD] */
static int valid_semver(const char *v)
{
  const char *p = v;

  if (!v || !semver_number(&p) || *p++ != '.' || !semver_number(&p) ||
      *p++ != '.' || !semver_number(&p))
    return 0;
  if (*p == '-' && (p++, !semver_idents(&p)))
    return 0;
  if (*p == '+' && (p++, !semver_idents(&p)))
    return 0;
  return *p == '\0';
}

/* An SPDX expression, loosely: ids of [A-Za-z0-9.+-], parentheses and
 * single spaces, starting with a letter or '('. */
static int valid_spdx(const char *s)
{
  if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              *s == '('))
    return 0;
  for (const char *p = s; *p; p++) {
    int c = (unsigned char)*p;

    if (c == ' ' && (p[1] == ' ' || p[1] == '\0'))
      return 0;
    if (!(c == ' ' || c == '(' || c == ')' || c == '.' || c == '+' ||
          c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z')))
      return 0;
  }
  return 1;
}

/* A short name: non-empty, no white space or control characters. */
static int valid_name(const char *s)
{
  if (!s || !*s)
    return 0;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ')
      return 0;
  return 1;
}

/* ---- loading in a child ---------------------------------------------- */

/* The table `index` of kind `k`, as the host would get it, with its
 * size; NULL when there is none. */
const pc_abi_header *check_table_at(const check_loaded *l, const check_kind *k,
                                    uint32_t index, uint32_t *size)
{
  const pc_plugin_info *info = l->info;

  *size = 0;
  if (PC_HAS_FIELD(info, pc_plugin_info, get_interface_at) &&
      info->get_interface_at)
    return info->get_interface_at(l->state, k->iface, index, size);
  return index == 0 ? info->get_interface(l->state, k->iface, size) : NULL;
}

/* Load and init the plugin quietly, for a behaviour child. Returns 0 and
 * fills `l`, or -1 after writing why to `why`. */
int check_load(const char *path, check_loaded *l, char *why, size_t cap)
{
  pc_plugin_entry_fn entry;
  pc_error err = PC_ERROR_INIT;
  void *so;
  int rc;

  memset(l, 0, sizeof(*l));
  so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    snprintf(why, cap, "cannot load: %s", dlerror());
    return -1;
  }
  *(void **)(&entry) = dlsym(so, PC_PLUGIN_ENTRY_SYMBOL);
  l->info = entry ? entry(&pc_host_api_get()->hdr) : NULL;
  if (!l->info || l->info->hdr.abi_major != PC_ABI_MAJOR ||
      l->info->hdr.struct_size < PC_PLUGIN_INFO_V1_SIZE ||
      !l->info->init || !l->info->get_interface) {
    snprintf(why, cap, "no usable descriptor (see the entry and descriptor "
             "rows)");
    return -1;
  }
  rc = l->info->init(pc_host_api_get(), &l->state, &err);
  if (rc) {
    snprintf(why, cap, "init failed: %s", err.message);
    return -1;
  }
  l->inited = 1;
  return 0;
}

/* ---- create and destroy, whatever the kind --------------------------- */

static int table_create(const check_kind *k, const void *t, void *state,
                        const char *cfg, void **inst, pc_error *err)
{
  size_t len = strlen(cfg);

  switch (k->bit) {
  case PC_KIND_ADAPTER:
    return ((const pc_adapter_iface *)t)->create(state, cfg, len, inst, err);
  case PC_KIND_LM_PROVIDER:
    return ((const pc_lm_provider_iface *)t)->create(state, cfg, len, inst,
                                                     err);
  case PC_KIND_METRIC:
    return ((const pc_metric_iface *)t)->create(state, cfg, len, inst, err);
  case PC_KIND_OPTIMIZER:
    return ((const pc_optimizer_iface *)t)->create(state, cfg, len, inst,
                                                   err);
  case PC_KIND_TOOL:
    return ((const pc_tool_iface *)t)->create(state, cfg, len, inst, err);
  default:
    return ((const pc_program_iface *)t)->create(state, cfg, len, "[]", 2,
                                                 inst, err);
  }
}

static void table_destroy(const check_kind *k, const void *t, void *inst)
{
  switch (k->bit) {
  case PC_KIND_ADAPTER:
    ((const pc_adapter_iface *)t)->destroy(inst);
    break;
  case PC_KIND_LM_PROVIDER:
    ((const pc_lm_provider_iface *)t)->destroy(inst);
    break;
  case PC_KIND_METRIC:
    ((const pc_metric_iface *)t)->destroy(inst);
    break;
  case PC_KIND_OPTIMIZER:
    ((const pc_optimizer_iface *)t)->destroy(inst);
    break;
  case PC_KIND_TOOL:
    ((const pc_tool_iface *)t)->destroy(inst);
    break;
  default:
    ((const pc_program_iface *)t)->destroy(inst);
    break;
  }
}

/* The functions a table of kind `k` must have, checked; problems go to
 * `list`. */
static void check_functions(const check_kind *k, const void *t, char *list,
                            size_t cap)
{
  const char *missing = NULL;

  switch (k->bit) {
  case PC_KIND_ADAPTER: {
    const pc_adapter_iface *a = t;

    missing = !a->create ? "create" : !a->destroy ? "destroy"
            : !a->format ? "format" : !a->parse ? "parse" : NULL;
    break;
  }
  case PC_KIND_LM_PROVIDER: {
    const pc_lm_provider_iface *p = t;

    missing = !p->create ? "create" : !p->destroy ? "destroy"
            : !p->complete ? "complete" : NULL;
    break;
  }
  case PC_KIND_METRIC: {
    const pc_metric_iface *m = t;

    missing = !m->create ? "create" : !m->destroy ? "destroy"
            : !m->score ? "score" : NULL;
    break;
  }
  case PC_KIND_OPTIMIZER: {
    const pc_optimizer_iface *o = t;

    missing = !o->create ? "create" : !o->destroy ? "destroy"
            : !o->compile ? "compile" : !o->settings ? "settings" : NULL;
    break;
  }
  case PC_KIND_TOOL: {
    const pc_tool_iface *tl = t;
    struct json_object *v;

    missing = !tl->create ? "create" : !tl->destroy ? "destroy"
            : !tl->call ? "call" : !tl->description ? "description"
            : !tl->args_schema ? "args_schema" : NULL;
    if (!missing) {
      v = json_tokener_parse(tl->args_schema);
      if (!json_object_is_type(v, json_type_object))
        check_note(list, cap, "args_schema is not a JSON object");
      json_object_put(v);
      if (tl->required_args) {
        v = json_tokener_parse(tl->required_args);
        if (!json_object_is_type(v, json_type_array))
          check_note(list, cap, "required_args is not a JSON array");
        json_object_put(v);
      }
    }
    break;
  }
  default: {
    const pc_program_iface *p = t;

    missing = !p->create ? "create" : !p->destroy ? "destroy"
            : !p->forward ? "forward" : NULL;
    break;
  }
  }
  if (missing)
    check_note(list, cap, "%s is NULL", missing);
}

/* ======================================================================
 * Child 1: entry, descriptor, init, interfaces, create/destroy, fini.
 * ====================================================================== */

/* The entry row; the descriptor for this host, or NULL. */
static const pc_plugin_info *check_entry(const char *path)
{
  const pc_abi_header other = {(uint32_t)sizeof(pc_host_api),
                               PC_ABI_MAJOR + 1, 0};
  const pc_plugin_info *info;
  pc_plugin_entry_fn entry;
  char problems[CHECK_DETAIL_MAX] = "";
  void *so;

  check_ev_begin("entry");
  so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char *why = dlerror();

    check_ev_row("FAIL", "entry", "cannot load: %s",
                 why ? why : "dlopen failed");
    return NULL;
  }
  *(void **)(&entry) = dlsym(so, PC_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    check_ev_row("FAIL", "entry", "no %s symbol", PC_PLUGIN_ENTRY_SYMBOL);
    return NULL;
  }
  if (entry(NULL))
    check_note(problems, sizeof(problems),
               "returns a descriptor for a NULL host header (must be NULL)");
  if (entry(&other))
    check_note(problems, sizeof(problems),
               "returns a descriptor for host ABI major %d (must be NULL)",
               PC_ABI_MAJOR + 1);
  info = entry(&pc_host_api_get()->hdr);
  if (!info)
    check_note(problems, sizeof(problems),
               "returns NULL for this host (ABI %d.%d)",
               PC_ABI_MAJOR, PC_ABI_MINOR);
  if (problems[0])
    check_ev_row("FAIL", "entry", "%s", problems);
  else
    check_ev_row("PASS", "entry",
                 "a descriptor for ABI %d.%d; NULL for a NULL "
                 "header and for major %d",
                 PC_ABI_MAJOR, PC_ABI_MINOR, PC_ABI_MAJOR + 1);
  return info;
}

/* The descriptor row. Returns 0 when the plugin can be used further. */
static int check_descriptor(const pc_plugin_info *info)
{
  char problems[CHECK_DETAIL_MAX] = "", warns[CHECK_DETAIL_MAX] = "";
  int fatal = 0;

  check_ev_begin("descriptor");
  if (info->hdr.abi_major != PC_ABI_MAJOR) {
    check_note(problems, sizeof(problems),
               "ABI major %u (this host speaks %d)",
               (unsigned)info->hdr.abi_major, PC_ABI_MAJOR);
    fatal = 1;
  }
  if (info->hdr.struct_size < PC_PLUGIN_INFO_V1_SIZE) {
    check_note(problems, sizeof(problems),
               "struct_size %u is below ABI 1.0's %zu",
               (unsigned)info->hdr.struct_size,
               (size_t)PC_PLUGIN_INFO_V1_SIZE);
    fatal = 1;
  } else if (info->hdr.abi_minor <= PC_ABI_MINOR &&
             info->hdr.struct_size > sizeof(pc_plugin_info)) {
    check_note(problems, sizeof(problems),
               "struct_size %u is larger than ABI 1.%u's descriptor (%zu)",
               (unsigned)info->hdr.struct_size, (unsigned)info->hdr.abi_minor,
               sizeof(pc_plugin_info));
  }
  if (fatal) {
    check_ev_row("FAIL", "descriptor", "%s", problems);
    return -1;
  }
  if (info->hdr.abi_minor > PC_ABI_MINOR)
    check_note(warns, sizeof(warns),
               "built against ABI 1.%u, newer than this host's 1.%d",
               (unsigned)info->hdr.abi_minor, PC_ABI_MINOR);
  if (!valid_rdns(info->id))
    check_note(problems, sizeof(problems),
               "id \"%s\" is not reverse-DNS (like org.example.metric.f2)",
               info->id ? info->id : "(null)");
  if (!valid_name(info->name))
    check_note(problems, sizeof(problems),
               "name \"%s\" is empty or has spaces",
               info->name ? info->name : "(null)");
  if (!valid_semver(info->version))
    check_note(problems, sizeof(problems),
               "version \"%s\" is not semver (MAJOR.MINOR.PATCH)",
               info->version ? info->version : "(null)");
  if (!valid_spdx(info->license))
    check_note(problems, sizeof(problems),
               "license \"%s\" is not an SPDX expression",
               info->license ? info->license : "(null)");
  if (!info->summary || !info->summary[0] || strchr(info->summary, '\n'))
    check_note(problems, sizeof(problems),
               "summary is missing or not one line");
  if (!info->kinds)
    check_note(problems, sizeof(problems), "kinds is 0 (no PC_KIND_* bit)");
  else if (info->kinds & ~(uint64_t)KNOWN_KINDS)
    check_note(problems, sizeof(problems), "kinds has unknown bits 0x%llx",
               (unsigned long long)(info->kinds & ~(uint64_t)KNOWN_KINDS));
  if (info->flags & ~(uint64_t)KNOWN_FLAGS)
    check_note(warns, sizeof(warns), "flags has unknown bits 0x%llx",
               (unsigned long long)(info->flags & ~(uint64_t)KNOWN_FLAGS));
  if (!info->init) {
    check_note(problems, sizeof(problems), "init is NULL");
    fatal = 1;
  }
  if (!info->get_interface) {
    check_note(problems, sizeof(problems), "get_interface is NULL");
    fatal = 1;
  }
  if (problems[0])
    check_ev_row("FAIL", "descriptor", "%s", problems);
  else if (warns[0])
    check_ev_row("WARN", "descriptor", "%s %s: %s", info->id, info->version,
                 warns);
  else
    check_ev_row("PASS", "descriptor", "%s %s (%s), ABI %u.%u, %u bytes",
                 info->id, info->version, info->license,
                 (unsigned)info->hdr.abi_major, (unsigned)info->hdr.abi_minor,
                 (unsigned)info->hdr.struct_size);
  return fatal ? -1 : 0;
}

/* Check one table's header, name and functions; problems go to `list`.
 * Returns the table's name (borrowed) or NULL when it is unusable. */
static const char *judge_table(const check_kind *k, const pc_abi_header *h,
                               uint32_t size, uint32_t index, char *list,
                               size_t cap)
{
  const pc_iface_prefix *t = (const pc_iface_prefix *)h;
  char sub[CHECK_DETAIL_MAX] = "";

  if (h->abi_major != PC_ABI_MAJOR) {
    check_note(list, cap, "table %u: ABI major %u", (unsigned)index,
               (unsigned)h->abi_major);
    return NULL;
  }
  if (h->struct_size < k->min_size || size < k->min_size) {
    check_note(list, cap,
               "table %u: header size too small (struct_size %u, "
               "reported %u; ABI 1.0 needs %u)",
               (unsigned)index, (unsigned)h->struct_size, (unsigned)size,
               (unsigned)k->min_size);
    return NULL;
  }
  if (!valid_name(t->name)) {
    check_note(list, cap, "table %u: name is empty or has spaces",
               (unsigned)index);
    return NULL;
  }
  check_functions(k, h, sub, sizeof(sub));
  if (sub[0]) {
    check_note(list, cap, "%s: %s", t->name, sub);
    return NULL;
  }
  return t->name;
}

/* The usable tables found by the interface rows, which the create rows
 * and the behaviour children then use (a table that failed its row is
 * not called: its functions may not be there). */
#define MAX_USABLE 64
static struct {
  size_t ki;
  uint32_t index;
} usable[MAX_USABLE];
static size_t n_usable;

/* The interface row of kind `k`; queues a task per usable table. */
static void check_interface(const check_loaded *l, size_t ki)
{
  const check_kind *k = &check_kinds[ki];
  const pc_plugin_info *info = l->info;
  const pc_abi_header *first, *h;
  char row[64], problems[CHECK_DETAIL_MAX] = "", list[CHECK_DETAIL_MAX] = "";
  uint32_t size = 0, n = 0;
  int declared = (info->kinds & k->bit) != 0;
  int has_at = PC_HAS_FIELD(info, pc_plugin_info, get_interface_at) &&
               info->get_interface_at;

  snprintf(row, sizeof(row), "iface:%s", k->iface);
  check_ev_begin(row);
  first = info->get_interface(l->state, k->iface, &size);
  if (!declared) {
    if (first)
      check_ev_row("WARN", row, "offered although kind %s is not declared",
                   k->name);
    else
      check_ev_row("PASS", row, "not declared, not offered");
    return;
  }
  if (!first) {
    check_ev_row("FAIL", row,
                 "kind %s is declared but get_interface(\"%s\") returns NULL",
                 k->name, k->iface);
    return;
  }
  if (has_at) {
    uint32_t size_at = 0;

    h = info->get_interface_at(l->state, k->iface, 0, &size_at);
    if (h != first || size_at != size)
      check_note(problems, sizeof(problems),
                 "get_interface_at index 0 differs from get_interface");
  }
  for (uint32_t i = 0; i < PC_MAX_TABLES; i++) {
    const char *name;

    if (has_at)
      h = info->get_interface_at(l->state, k->iface, i, &size);
    else
      h = i == 0 ? info->get_interface(l->state, k->iface, &size) : NULL;
    if (!h)
      break;
    name = judge_table(k, h, size, i, problems, sizeof(problems));
    if (name && n_usable < MAX_USABLE) {
      check_note(list, sizeof(list), "%s", name);
      check_ev_task(ki, i, name);
      usable[n_usable].ki = ki;
      usable[n_usable++].index = i;
    }
    n++;
  }
  if (problems[0])
    check_ev_row("FAIL", row, "%s", problems);
  else
    check_ev_row("PASS", row, "%u table%s: %s (%u bytes, ABI %u.%u)",
                 (unsigned)n, n == 1 ? "" : "s", list,
                 (unsigned)first->struct_size, (unsigned)first->abi_major,
                 (unsigned)first->abi_minor);
}

/* The create row of one table: "{}", then two bad configs. */
static void check_create(const check_loaded *l, size_t ki, uint32_t index)
{
  static const char *const bad[] = {"[]", "{\"no_such_key\": 1}"};
  const check_kind *k = &check_kinds[ki];
  const pc_iface_prefix *t;
  char row[160], problems[CHECK_DETAIL_MAX] = "", why[160], good[200];
  pc_error err = PC_ERROR_INIT;
  void *inst = NULL;
  uint32_t size;
  int rc;

  t = (const pc_iface_prefix *)check_table_at(l, k, index, &size);
  if (!t)
    return;
  snprintf(row, sizeof(row), "create:%s:%s", k->name, t->name);
  check_ev_begin(row);
  rc = table_create(k, t, l->state, "{}", &inst, &err);
  if (rc == PC_OK) {
    snprintf(good, sizeof(good), "{} accepted");
    table_destroy(k, t, inst);
  } else if (check_clean_error(rc, &err, why, sizeof(why))) {
    snprintf(good, sizeof(good), "{} refused cleanly (%d)", rc);
  } else {
    check_note(problems, sizeof(problems), "{}: %s", why);
    good[0] = '\0';
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pc_error berr = PC_ERROR_INIT;

    inst = NULL;
    rc = table_create(k, t, l->state, bad[i], &inst, &berr);
    if (rc == PC_OK) {
      check_note(problems, sizeof(problems), "accepted the bad config %s",
                 bad[i]);
      table_destroy(k, t, inst);
    } else if (!check_clean_error(rc, &berr, why, sizeof(why))) {
      check_note(problems, sizeof(problems), "bad config %s: %s", bad[i], why);
    }
  }
  if (problems[0])
    check_ev_row("FAIL", row, "%s", problems);
  else
    check_ev_row("PASS", row,
                 "%s; [] and an unknown key refused with a message", good);
}

/* The whole first child. */
void check_child_static(const check_opts *o, size_t ki, uint32_t index,
                        const char *row)
{
  check_loaded l;
  pc_error err = PC_ERROR_INIT;
  int rc;

  memset(&l, 0, sizeof(l));
  l.info = check_entry(o->path);
  if (!l.info || check_descriptor(l.info))
    return;
  check_ev_begin("init");
  rc = l.info->init(pc_host_api_get(), &l.state, &err);
  if (rc) {
    char why[160];

    if (check_clean_error(rc, &err, why, sizeof(why)))
      check_ev_row("FAIL", "init", "failed: code %d: %s", rc, err.message);
    else
      check_ev_row("FAIL", "init", "failed: %s", why);
    return;
  }
  check_ev_row("PASS", "init", "PC_OK");
  for (size_t kind = 0; kind < CHECK_N_KINDS; kind++)
    check_interface(&l, kind);
  for (size_t i = 0; i < n_usable; i++)
    check_create(&l, usable[i].ki, usable[i].index);
  check_ev_begin("fini");
  if (l.info->fini) {
    l.info->fini(l.state);
    check_ev_row("PASS", "fini", "returned");
  } else {
    check_ev_row("PASS", "fini", "NULL (nothing to release)");
  }
}
