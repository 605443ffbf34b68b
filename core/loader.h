/*
 * loader.h - finding, loading and checking plugin shared objects.
 *
 * A registry holds every plugin loaded from the plugin directories: the
 * install directory (unless PROMPTC_NO_SYSTEM_PLUGINS is set), the
 * directories of the config's "plugins.path", and those of
 * PROMPTC_PLUGIN_PATH (colon-separated). Plugins stay resident until the
 * registry is freed. A plugin that fails to load does not stop the others:
 * its one-line reason is kept in the registry's failure list.
 */
#ifndef PC_LOADER_H
#define PC_LOADER_H

#include <stddef.h>

#include "errors.h"
#include "hash.h"

/* Every v1 interface table starts with its header and its name; this is
 * that common prefix, and the most tables of one interface a plugin may
 * offer through get_interface_at. */
typedef struct pc_iface_prefix {
  pc_abi_header hdr;
  const char *name;
} pc_iface_prefix;

#define PC_MAX_TABLES 256

/* The v1.0 size of the plugin descriptor: everything up to get_interface.
 * A descriptor shorter than this is refused. */
#define PC_PLUGIN_INFO_V1_SIZE \
  (offsetof(pc_plugin_info, get_interface) + sizeof(void (*)(void)))

typedef struct pc_plugin {
  char *path;                    /* owned */
  char sha256[PC_SHA256_HEX_LEN + 1];
  void *so;                      /* dlopen handle */
  const struct pc_plugin_info *info;  /* plugin-owned, static */
  void *state;                   /* from init, passed back to the plugin */
} pc_plugin;

typedef struct pc_load_failure {
  char *path;     /* owned */
  int code;       /* PC_E_* */
  char *message;  /* owned: one line naming the file */
} pc_load_failure;

typedef struct pc_registry {
  pc_plugin **plugins;  /* owned, in load order */
  size_t n_plugins;
  pc_load_failure *failures;  /* owned */
  size_t n_failures;
} pc_registry;

/*
 * pc_plugin_check_file - the checks of a plugin file made before it is
 * loaded: it must be a regular file, neither group- nor world-writable,
 * owned by us or by root. PC_OK, or PC_E_IO (cannot stat, not a regular
 * file) or PC_E_INVALID_ARG (refused) with one line naming `path`. Runs
 * nothing from the file.
 */
int pc_plugin_check_file(const char *path, pc_error *err);

/*
 * pc_plugin_open - load one plugin .so and check it.
 *
 * Refuses a file pc_plugin_check_file refuses, dlopens it
 * RTLD_NOW|RTLD_LOCAL, finds pc_plugin_entry_v1, checks the descriptor (non-NULL, major, size,
 * id/version/init present), and calls init with the host table. On success
 * *out owns the plugin (pc_plugin_close). On failure returns a code, sets
 * *out to NULL and writes one line naming `path`.
 */
int pc_plugin_open(const char *path, pc_plugin **out, pc_error *err);
void pc_plugin_close(pc_plugin *p);  /* calls fini; keeps the .so resident */

/* Fetch an interface table, checking its header (major, minimum size).
 * Returns NULL when the plugin does not offer it or offers a bad one. */
const void *pc_plugin_interface(const pc_plugin *p, const char *iface_id,
                                uint32_t min_size);

/* The index-th table of `iface_id` (through get_interface_at when the
 * plugin has it, else only index 0), checked the same way. NULL past the
 * end or for a bad table; *end (may be NULL) tells the two apart. */
const void *pc_plugin_interface_at(const pc_plugin *p, const char *iface_id,
                                   uint32_t index, uint32_t min_size,
                                   int *end);

pc_registry *pc_registry_new(void);  /* NULL on OOM */
void pc_registry_free(pc_registry *reg);

/* Load every *.so in `dir` (sorted by name). A missing directory is not
 * an error. Failures of single plugins go to reg->failures; the return is
 * PC_OK unless out of memory. A plugin whose id is already loaded is
 * recorded as a failure ("duplicate id, first loaded from ..."). */
int pc_registry_add_dir(pc_registry *reg, const char *dir, pc_error *err);

/* Load the default directories (see above), then `extra` (a
 * colon-separated list, may be NULL), in that order of precedence:
 * PROMPTC_PLUGIN_PATH first, then `extra`, then the install directory. */
int pc_registry_load_default(pc_registry *reg, const char *extra,
                             pc_error *err);

/* The plugin with this id or short name, or NULL. */
pc_plugin *pc_registry_find(const pc_registry *reg, const char *id_or_name);

/* The first plugin offering interface `iface_id` whose interface table's
 * `name` member equals `name` (every v1 interface table starts with the
 * header and then `const char *name`). Returns the table and sets *plugin. */
const void *pc_registry_find_iface(const pc_registry *reg,
                                   const char *iface_id, const char *name,
                                   uint32_t min_size, pc_plugin **plugin);

#endif
