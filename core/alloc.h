/*
 * alloc.h - the one allocator of libpromptc.
 *
 * Every allocation in core/ goes through these so that a test build can make
 * the Nth allocation fail (pc__alloc_fail_at) and check that each
 * constructor reports PC_E_NOMEM and leaks nothing. Out of memory is a
 * status, never an abort. Memory from these is released with pc_free().
 */
#ifndef PC_ALLOC_H
#define PC_ALLOC_H

#include <stddef.h>

void *pc_malloc(size_t n);
void *pc_calloc(size_t count, size_t size);
void *pc_realloc(void *p, size_t n);
void pc_free(void *p);

/* Copies owned by the caller (pc_free); NULL when out of memory or when
 * `s` is NULL. pc_strndup copies at most n bytes and always terminates. */
char *pc_strdup(const char *s);
char *pc_strndup(const char *s, size_t n);
void *pc_memdup(const void *p, size_t n);

/* Test hook: make allocation number `n` (counting from 1, from now on)
 * and every later one fail; 0 switches failures off. Not thread-safe:
 * tests only. */
void pc__alloc_fail_at(unsigned long n);

#endif
