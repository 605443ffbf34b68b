/* core/config.c: PLACEHOLDER, being written this session. */
