/* core/api.c: PLACEHOLDER, being written this session. */
