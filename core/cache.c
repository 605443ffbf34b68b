/* PLACEHOLDER: being written. */
#include "cache.h"
