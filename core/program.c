/* core/program.c: PLACEHOLDER, being written this session. */
