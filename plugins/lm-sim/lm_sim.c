/* PLACEHOLDER: being written. */
#include "promptc/plugin.h"
