/*
 * fx_chk_empty_message.c - a metric that refuses a bad config with an empty
 * message: "create:metric:*" fails.
 */
#define FX_BUG_EMPTY_MESSAGE
#include "fx_chk_plugin.h"
