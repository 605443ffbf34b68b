/*
 * loader.c - finding, loading and checking plugin shared objects, and the
 * registry of loaded plugins.
 *
 * A plugin is refused, with one line naming its file, when the file is
 * group- or world-writable or not owned by us or root, when dlopen fails,
 * when it lacks pc_plugin_entry_v1, when the entry refuses our ABI or
 * returns a descriptor of another major or shorter than v1.0, when a
 * required descriptor member is missing, or when init fails. Loaded
 * plugins stay resident (no dlclose): unloading code that may have left
 * TLS destructors or atexit handlers behind is how hosts crash.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "host.h"
#include "loader.h"

#define SEARCH_PATH_MAX 4096

int pc_plugin_check_file(const char *path, pc_error *err)
{
  struct stat st;

  if (stat(path, &st) != 0)
    return pc_error_set(err, PC_E_IO, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return pc_error_set(err, PC_E_IO, "%s: not a regular file", path);
  if (st.st_mode & S_IWOTH)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: refused: the file is world-writable", path);
  if (st.st_mode & S_IWGRP)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: refused: the file is group-writable", path);
  if (st.st_uid != 0 && st.st_uid != geteuid())
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: refused: owned by uid %u, neither root nor us",
                        path, (unsigned)st.st_uid);
  return PC_OK;
}

/* Check the descriptor the entry returned. */
static int check_info(const char *path, const pc_plugin_info *info,
                      pc_error *err)
{
  if (!info)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "%s: the plugin refused host ABI %d.%d "
                        "(pc_plugin_entry_v1 returned NULL)",
                        path, PC_ABI_MAJOR, PC_ABI_MINOR);
  if (info->hdr.abi_major != PC_ABI_MAJOR)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "%s: wrong ABI major %u (this host speaks %d)", path,
                        (unsigned)info->hdr.abi_major, PC_ABI_MAJOR);
  if (info->hdr.struct_size < PC_PLUGIN_INFO_V1_SIZE)
    return pc_error_set(err, PC_E_UNSUPPORTED,
                        "%s: descriptor too short (struct_size %u, ABI 1.0 "
                        "needs %zu)", path, (unsigned)info->hdr.struct_size,
                        (size_t)PC_PLUGIN_INFO_V1_SIZE);
  if (!info->id || !*info->id || !info->version || !*info->version)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: descriptor lacks an id or a version", path);
  if (!info->name || !*info->name)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: descriptor of %s lacks a name", path, info->id);
  if (!info->init || !info->get_interface)
    return pc_error_set(err, PC_E_INVALID_ARG,
                        "%s: descriptor of %s lacks init or get_interface",
                        path, info->id);
  return PC_OK;
}

int pc_plugin_open(const char *path, pc_plugin **out, pc_error *err)
{
  pc_plugin *p = NULL;
  void *so = NULL;
  pc_plugin_entry_fn entry;
  pc_error ierr = PC_ERROR_INIT;
  const pc_host_api *host = pc_host_api_get();
  int rc;

  *out = NULL;
  rc = pc_plugin_check_file(path, err);
  if (rc)
    return rc;
  p = pc_calloc(1, sizeof(*p));
  if (!p || !(p->path = pc_strdup(path))) {
    rc = pc_error_set(err, PC_E_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  rc = pc_sha256_file(path, p->sha256, err);
  if (rc)
    goto fail;
  so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char *why = dlerror();

    rc = pc_error_set(err, PC_E_IO, "%s: cannot load: %s", path,
                      why ? why : "unknown dlopen error");
    goto fail;
  }
  *(void **)(&entry) = dlsym(so, PC_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    rc = pc_error_set(err, PC_E_UNSUPPORTED,
                      "%s: no %s symbol: not a promptc plugin, or built for "
                      "another ABI major", path, PC_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  p->info = entry(&host->hdr);
  rc = check_info(path, p->info, err);
  if (rc)
    goto fail;
  p->so = so;
  rc = p->info->init(host, &p->state, &ierr);
  if (rc) {
    /* init may have started something: keep the .so resident. */
    so = NULL;
    if (!ierr.code)
      ierr.code = rc;
    rc = pc_error_wrap(err, &ierr, "%s: init of %s failed", path,
                       p->info->id);
    goto fail;
  }
  *out = p;
  return PC_OK;

fail:
  if (so)
    dlclose(so);
  if (p)
    pc_free(p->path);
  pc_free(p);
  return rc;
}

void pc_plugin_close(pc_plugin *p)
{
  if (!p)
    return;
  if (p->info && p->info->fini)
    p->info->fini(p->state);
  pc_free(p->path);
  pc_free(p);
}

static const pc_abi_header *check_table(const pc_abi_header *hdr,
                                        uint32_t size, uint32_t min_size)
{
  if (!hdr || hdr->abi_major != PC_ABI_MAJOR ||
      hdr->struct_size < min_size || size < min_size)
    return NULL;
  return hdr;
}

const void *pc_plugin_interface(const pc_plugin *p, const char *iface_id,
                                uint32_t min_size)
{
  uint32_t size = 0;
  const pc_abi_header *hdr = p->info->get_interface(p->state, iface_id,
                                                    &size);

  return check_table(hdr, size, min_size);
}

/* get_interface_at is newer than the v1.0 prefix the loader checked. */
static int has_interface_at(const pc_plugin_info *info)
{
  return PC_HAS_FIELD(info, pc_plugin_info, get_interface_at) &&
         info->get_interface_at;
}

const void *pc_plugin_interface_at(const pc_plugin *p, const char *iface_id,
                                   uint32_t index, uint32_t min_size,
                                   int *end)
{
  const pc_abi_header *hdr;
  uint32_t size = 0;

  if (has_interface_at(p->info))
    hdr = p->info->get_interface_at(p->state, iface_id, index, &size);
  else
    hdr = index == 0 ? p->info->get_interface(p->state, iface_id, &size)
                     : NULL;
  if (end)
    *end = (hdr == NULL);
  return check_table(hdr, size, min_size);
}

/* ---- registry ---------------------------------------------------------- */

pc_registry *pc_registry_new(void)
{
  return pc_calloc(1, sizeof(pc_registry));
}

void pc_registry_free(pc_registry *reg)
{
  if (!reg)
    return;
  for (size_t i = reg->n_plugins; i-- > 0;)
    pc_plugin_close(reg->plugins[i]);
  for (size_t i = 0; i < reg->n_failures; i++) {
    pc_free(reg->failures[i].path);
    pc_free(reg->failures[i].message);
  }
  pc_free(reg->plugins);
  pc_free(reg->failures);
  pc_free(reg);
}

/* Record a plugin that did not load; the message is formatted. */
static int add_failure(pc_registry *reg, const char *path, int code,
                       const char *fmt, ...) PC_PRINTF(4, 5);

static int add_failure(pc_registry *reg, const char *path, int code,
                       const char *fmt, ...)
{
  pc_load_failure *f;
  char message[PC_ERROR_MESSAGE_MAX * 2];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);

  f = pc_realloc(reg->failures, (reg->n_failures + 1) * sizeof(*f));
  if (!f)
    return PC_E_NOMEM;
  reg->failures = f;
  f += reg->n_failures;
  f->path = pc_strdup(path);
  f->message = pc_strdup(message);
  f->code = code;
  if (!f->path || !f->message) {
    pc_free(f->path);
    pc_free(f->message);
    return PC_E_NOMEM;
  }
  reg->n_failures++;
  return PC_OK;
}

static int add_plugin(pc_registry *reg, pc_plugin *p)
{
  pc_plugin **v = pc_realloc(reg->plugins,
                             (reg->n_plugins + 1) * sizeof(*v));

  if (!v)
    return PC_E_NOMEM;
  reg->plugins = v;
  v[reg->n_plugins++] = p;
  return PC_OK;
}

static int load_one(pc_registry *reg, const char *path, pc_error *err)
{
  pc_error perr = PC_ERROR_INIT;
  pc_plugin *p = NULL, *dup;
  int rc;

  rc = pc_plugin_open(path, &p, &perr);
  if (rc == PC_E_NOMEM)
    return pc_error_set(err, rc, "%s", perr.message);
  if (rc)
    return add_failure(reg, path, rc, "%s", perr.message) ?
      pc_error_set(err, PC_E_NOMEM, "registry: out of memory") : PC_OK;
  dup = pc_registry_find(reg, p->info->id);
  if (dup) {
    rc = add_failure(reg, path, PC_E_INVALID_ARG, "%s: duplicate plugin id "
                     "%s (already loaded from %s); skipped", path,
                     p->info->id, dup->path);
    pc_plugin_close(p);
    return rc ? pc_error_set(err, PC_E_NOMEM, "registry: out of memory")
              : PC_OK;
  }
  if (add_plugin(reg, p)) {
    pc_plugin_close(p);
    return pc_error_set(err, PC_E_NOMEM, "registry: out of memory");
  }
  return PC_OK;
}

static int has_so_suffix(const char *name)
{
  size_t n = strlen(name);

  return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int pc_registry_add_dir(pc_registry *reg, const char *dir, pc_error *err)
{
  DIR *d;
  struct dirent *e;
  struct stat st;
  char **names = NULL, **grown;
  size_t n = 0;
  int rc = PC_OK;

  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return PC_OK;  /* a configured directory that does not exist yet */
  if (st.st_mode & S_IWOTH)
    return add_failure(reg, dir, PC_E_INVALID_ARG, "%s: refused: the plugin "
                       "directory is world-writable", dir) ?
      pc_error_set(err, PC_E_NOMEM, "registry: out of memory") : PC_OK;
  d = opendir(dir);
  if (!d)
    return add_failure(reg, dir, PC_E_IO, "%s: %s", dir, strerror(errno)) ?
      pc_error_set(err, PC_E_NOMEM, "registry: out of memory") : PC_OK;
  while ((e = readdir(d)) != NULL) {
    if (!has_so_suffix(e->d_name))
      continue;
    grown = pc_realloc(names, (n + 1) * sizeof(*names));
    if (!grown || !(grown[n] = pc_strdup(e->d_name))) {
      names = grown ? grown : names;
      rc = pc_error_set(err, PC_E_NOMEM, "registry: out of memory");
      goto out;
    }
    names = grown;
    n++;
  }
  if (n)
    qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n && rc == PC_OK; i++) {
    pc_buf path;

    pc_buf_init(&path, SEARCH_PATH_MAX);
    if (pc_buf_printf(&path, "%s/%s", dir, names[i]))
      rc = pc_error_set(err, PC_E_NOMEM, "%s: path too long", dir);
    else
      rc = load_one(reg, path.data, err);
    pc_buf_free(&path);
  }
out:
  closedir(d);
  for (size_t i = 0; i < n; i++)
    pc_free(names[i]);
  pc_free(names);
  return rc;
}

/* Load each directory of a colon-separated list. */
static int add_path_list(pc_registry *reg, const char *list, pc_error *err)
{
  const char *p = list;

  while (p && *p) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);

    if (len > 0 && len < SEARCH_PATH_MAX) {
      char dir[SEARCH_PATH_MAX];
      int rc;

      memcpy(dir, p, len);
      dir[len] = '\0';
      rc = pc_registry_add_dir(reg, dir, err);
      if (rc)
        return rc;
    }
    p = colon ? colon + 1 : NULL;
  }
  return PC_OK;
}

int pc_registry_load_default(pc_registry *reg, const char *extra,
                             pc_error *err)
{
  const char *env = getenv("PROMPTC_PLUGIN_PATH");
  const char *no_system = getenv("PROMPTC_NO_SYSTEM_PLUGINS");
  int rc;

  rc = add_path_list(reg, env, err);
  if (rc == PC_OK)
    rc = add_path_list(reg, extra, err);
  if (rc == PC_OK && !(no_system && *no_system && strcmp(no_system, "0")))
    rc = pc_registry_add_dir(reg, PC_PLUGIN_DIR, err);
  return rc;
}

pc_plugin *pc_registry_find(const pc_registry *reg, const char *id_or_name)
{
  for (size_t i = 0; i < reg->n_plugins; i++) {
    const pc_plugin_info *info = reg->plugins[i]->info;

    if (strcmp(info->id, id_or_name) == 0 ||
        strcmp(info->name, id_or_name) == 0)
      return reg->plugins[i];
  }
  return NULL;
}

const void *pc_registry_find_iface(const pc_registry *reg,
                                   const char *iface_id, const char *name,
                                   uint32_t min_size, pc_plugin **plugin)
{
  if (min_size < sizeof(pc_iface_prefix))
    min_size = sizeof(pc_iface_prefix);
  for (size_t i = 0; i < reg->n_plugins; i++) {
    int end = 0;

    for (uint32_t k = 0; !end && k < PC_MAX_TABLES; k++) {
      const pc_iface_prefix *t;

      t = pc_plugin_interface_at(reg->plugins[i], iface_id, k, min_size,
                                 &end);
      if (t && t->name && strcmp(t->name, name) == 0) {
        if (plugin)
          *plugin = reg->plugins[i];
        return t;
      }
    }
  }
  if (plugin)
    *plugin = NULL;
  return NULL;
}
