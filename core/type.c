/* core/type.c: PLACEHOLDER, being written this session. */
