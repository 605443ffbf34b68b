/* core/json_text.c: PLACEHOLDER, being written this session. */
