/* core/loader.c: PLACEHOLDER, being written this session. */
