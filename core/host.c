/* core/host.c: PLACEHOLDER, being written this session. */
