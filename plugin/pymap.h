/*
 * pymap.h - perf map files (/tmp/perf-PID.map) as CPython writes them under
 * -X perf: lines "START SIZE NAME" (hex, no 0x); Python entries are named
 * "py::QUALNAME:FILENAME".
 *
 * Ownership: a pymap owns its entries and strings until pymap_free().
 * Trust: like perf, a map file is only read when owned by the effective
 * user or root (force overrides); others give -PM_EPERM with a message.
 */
#ifndef PM_PYMAP_H
#define PM_PYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct pymap_entry {
	uint64_t start, size;		/* [start, start + size) */
	const char *name;		/* whole name as written */
	const char *qualname;		/* "Matrix.multiply", NULL if not py:: */
	const char *filename;		/* "/src/app.py", NULL if not py:: */
	const char *label;		/* frame text: "Matrix.multiply (app.py)",
					   "f (pkg/__init__.py)"; name if not py:: */
};

struct pymap;

/* Parse a map file. Malformed lines are skipped and counted. Later entries
 * for the same address replace earlier ones (a recompiled code object). */
struct pymap *pymap_load(const char *path, bool force, struct pm_error *err);
struct pymap *pymap_parse(const char *text, size_t len);	/* tests */
void pymap_free(struct pymap *m);		/* NULL accepted */

/* Entry containing addr, or NULL. O(log n). */
const struct pymap_entry *pymap_lookup(const struct pymap *m, uint64_t addr);

size_t pymap_count(const struct pymap *m);
size_t pymap_bad_lines(const struct pymap *m);

#endif
