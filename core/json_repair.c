/* core/json_repair.c: PLACEHOLDER, being written this session. */
