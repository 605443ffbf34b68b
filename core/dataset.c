/* core/dataset.c: PLACEHOLDER, being written this session. */
