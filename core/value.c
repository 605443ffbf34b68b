/* core/value.c: PLACEHOLDER, being written this session. */
