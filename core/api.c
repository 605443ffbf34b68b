/* api.c - the functions of promptc/promptc.h that have no other home. */
#include "pc_autoconf.h"
#include "promptc/promptc.h"

const char *pc_version(void)
{
  return PACKAGE_VERSION;
}
