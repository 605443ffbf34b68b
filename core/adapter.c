/* core/adapter.c: PLACEHOLDER, being written this session. */
