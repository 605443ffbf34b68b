/*
 * sql.h - the few SQLite helpers the LM cache, the run store and the
 * release registry share.
 */
#ifndef PC_SQL_H
#define PC_SQL_H

#include <stdint.h>
#include <sqlite3.h>

/* Run SQL whose rows are not needed. An SQLite result code. */
int pc_sql_exec(sqlite3 *db, const char *sql);

/* Read one integer from a query such as "PRAGMA user_version" into *out
 * (0 on failure). SQLITE_OK, SQLITE_CORRUPT when the query answers no
 * row, or SQLite's code. */
int pc_sql_query_int(sqlite3 *db, const char *sql, long long *out);

/* Now, as the stores record times: Unix milliseconds (wall clock). */
int64_t pc_sql_now_ms(void);

#endif
