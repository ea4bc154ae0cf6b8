/*
 * error.h - one error enum for the whole library, and the error struct that
 * fallible functions fill.
 *
 * Fallible functions return 0 (or a count) on success and a negative
 * PM_E* code on failure; when given a non-NULL struct pm_error they also
 * write a message that names the file, offset, record type or DSO involved.
 * The struct is plain data owned by the caller; no cleanup is needed.
 */
#ifndef PM_ERROR_H
#define PM_ERROR_H

#include <stddef.h>

#define PM_ERRORS(X)                                                        \
	X(NOMEM, "out of memory")                                           \
	X(IO, "I/O error")                                                  \
	X(EMPTY, "empty file")                                              \
	X(MAGIC, "not a perf.data file")                                    \
	X(ENDIAN, "perf.data written on a machine of the other byte order") \
	X(TRUNCATED, "file is truncated")                                   \
	X(CORRUPT, "corrupt data")                                          \
	X(UNSUPPORTED, "unsupported format")                                \
	X(LIMIT, "size over the built-in limit")                            \
	X(ZSTD, "zstd decompression failed")                                \
	X(PERM, "permission denied")                                        \
	X(NOTFOUND, "not found")                                            \
	X(USAGE, "invalid usage")

enum pm_errcode {
	PM_OK = 0,
#define PM_X(name, msg) PM_E##name,
	PM_ERRORS(PM_X)
#undef PM_X
	PM_E_NR
};

struct pm_error {
	int code;	/* negative PM_E* code, 0 when no error was set */
	char msg[512];	/* full message, without the program name */
};

/* Message for a PM_E* code, positive or negative. Never NULL. */
const char *pm_strerror(int code);

/*
 * Record an error: err->code = -code, err->msg = printf(fmt, ...).
 * err may be NULL. Returns -code (so `return pm_error_set(...)` works).
 * code is the positive enum value (PM_ECORRUPT ...).
 */
int pm_error_set(struct pm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear err (NULL accepted). */
void pm_error_clear(struct pm_error *err);

#endif
