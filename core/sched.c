/* PLACEHOLDER: being written. */
#include "sched.h"
