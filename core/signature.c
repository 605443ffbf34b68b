/* core/signature.c: PLACEHOLDER, being written this session. */
