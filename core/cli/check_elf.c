/*
 * check_elf.c - `promptc plugins check`: the "symbols" row, read from the
 * file's ELF dynamic symbol table in this process (no tool is needed and
 * no plugin code runs).
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "file.h"

/* The largest plugin file read. */
#define ELF_MAX ((size_t)256 << 20)

/* The version node of dynamic symbol `i`, from the .gnu.version and
 * .gnu.version_d sections (either may be NULL), or NULL when it has none.
 * Borrowed from `data`, which holds `size` bytes; `strs` is the dynamic
 * string table. */
static const char *elf_version(const unsigned char *data,
                               const Elf64_Shdr *versym,
                               const Elf64_Shdr *verdef,
                               const Elf64_Shdr *strs, size_t i)
{
  const char *str = (const char *)data + strs->sh_offset;
  uint16_t vi;
  uint64_t off = 0;

  if (!versym || !verdef || versym->sh_size < (i + 1) * 2)
    return NULL;
  vi = ((const uint16_t *)(data + versym->sh_offset))[i] & 0x7fff;
  for (unsigned k = 0; k < 64 && off + sizeof(Elf64_Verdef) <=
                                 verdef->sh_size; k++) {
    const Elf64_Verdef *vd =
      (const Elf64_Verdef *)(data + verdef->sh_offset + off);

    if (vd->vd_ndx == vi && vd->vd_cnt > 0 &&
        off + vd->vd_aux + sizeof(Elf64_Verdaux) <= verdef->sh_size) {
      const Elf64_Verdaux *va = (const Elf64_Verdaux *)
        (data + verdef->sh_offset + off + vd->vd_aux);

      return va->vda_name < strs->sh_size ? str + va->vda_name : NULL;
    }
    if (!vd->vd_next)
      break;
    off += vd->vd_next;
  }
  return NULL;
}

/* The names of the defined, global dynamic symbols of a 64-bit ELF file,
 * with their version (name@@VERSION), space-separated, appended to
 * `names` (the caller's buffer, which it frees), and their count. The
 * file is read whole into memory freed before returning. Returns 0, or -1
 * with why in `why`. */
static int elf_exports(const char *path, pc_buf *names, int *count,
                       char *why, size_t cap)
{
  pc_error err = PC_ERROR_INIT;
  char *raw = NULL;
  const unsigned char *data;
  size_t size = 0;
  int rc = -1;
  const Elf64_Ehdr *eh;
  const Elf64_Shdr *sh, *strs;
  const Elf64_Shdr *dynsym = NULL, *versym = NULL, *verdef = NULL;
  const Elf64_Sym *sym;
  const char *str;

  *count = 0;
  if (pc_file_read(path, ELF_MAX, &raw, &size, &err)) {
    snprintf(why, cap, "%s", err.message);
    goto out;
  }
  data = (const unsigned char *)raw;
  eh = (const Elf64_Ehdr *)data;
  if (size < sizeof(Elf64_Ehdr) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
      eh->e_ident[EI_CLASS] != ELFCLASS64) {
    snprintf(why, cap, "not a 64-bit ELF file");
    goto out;
  }
  if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
      eh->e_shoff > (uint64_t)size ||
      (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) >
        (uint64_t)size - eh->e_shoff) {
    snprintf(why, cap, "ELF section headers out of the file");
    goto out;
  }
  sh = (const Elf64_Shdr *)(data + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_offset > (uint64_t)size ||
        sh[i].sh_size > (uint64_t)size - sh[i].sh_offset)
      continue;
    if (sh[i].sh_type == SHT_DYNSYM)
      dynsym = &sh[i];
    else if (sh[i].sh_type == SHT_GNU_versym)
      versym = &sh[i];
    else if (sh[i].sh_type == SHT_GNU_verdef)
      verdef = &sh[i];
  }
  if (!dynsym || dynsym->sh_link >= eh->e_shnum ||
      dynsym->sh_entsize != sizeof(Elf64_Sym)) {
    snprintf(why, cap, "no dynamic symbol table");
    goto out;
  }
  strs = &sh[dynsym->sh_link];
  if (strs->sh_offset > (uint64_t)size ||
      strs->sh_size > (uint64_t)size - strs->sh_offset) {
    snprintf(why, cap, "dynamic string table out of the file");
    goto out;
  }
  str = (const char *)data + strs->sh_offset;
  sym = (const Elf64_Sym *)(data + dynsym->sh_offset);
  for (size_t i = 1; i < dynsym->sh_size / sizeof(Elf64_Sym); i++) {
    unsigned bind = ELF64_ST_BIND(sym[i].st_info);
    unsigned type = ELF64_ST_TYPE(sym[i].st_info);
    const char *ver;

    if (sym[i].st_shndx == SHN_UNDEF || sym[i].st_shndx == SHN_ABS ||
        bind == STB_LOCAL || type == STT_SECTION || type == STT_FILE ||
        sym[i].st_name >= strs->sh_size)
      continue;
    ver = elf_version(data, versym, verdef, strs, i);
    (*count)++;
    if (pc_buf_printf(names, "%s%s%s%s", names->len ? " " : "",
                      str + sym[i].st_name, ver ? "@@" : "",
                      ver ? ver : "")) {
      snprintf(why, cap, "out of memory");
      goto out;
    }
  }
  rc = 0;
out:
  pc_free(raw);
  return rc;
}

void check_symbols(check_table *tb, const char *path)
{
  static const char want[] = PC_PLUGIN_ENTRY_SYMBOL "@@PROMPTC_PLUGIN_1";
  pc_buf names;
  char why[CHECK_DETAIL_MAX] = "";
  int n = 0;

  pc_buf_init(&names, 64 * 1024);
  if (elf_exports(path, &names, &n, why, sizeof(why)))
    check_add_row(tb, "FAIL", "symbols", "%s", why);
  else if (n == 1 && names.len && !strcmp(names.data, want))
    check_add_row(tb, "PASS", "symbols", "exports only %s", want);
  else if (n == 1 && names.len &&
           !strncmp(names.data, PC_PLUGIN_ENTRY_SYMBOL "@@", 20))
    check_add_row(tb, "FAIL", "symbols",
                  "%s is in the wrong version node (link "
                  "with promptc-plugin.map)",
                  names.data);
  else if (n == 1 && names.len && !strcmp(names.data, PC_PLUGIN_ENTRY_SYMBOL))
    check_add_row(tb, "WARN", "symbols",
                  "exports only %s, without the PROMPTC_PLUGIN_1 version node",
                  names.data);
  else
    check_add_row(tb, "FAIL", "symbols",
                  "%d exported symbols, want exactly %s: %.300s",
                  n, want, names.len ? names.data : "(none)");
  pc_buf_free(&names);
}
