/* core/hash.c: PLACEHOLDER, being written this session. */
