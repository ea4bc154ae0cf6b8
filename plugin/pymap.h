/*
 * pymap.h - perf map files (/tmp/perf-PID.map) as CPython writes them under
 * -X perf: lines "START SIZE NAME" (hex, no 0x); Python entries are named
 * "py::QUALNAME:FILENAME". Jitdumps (jitdump.h) and merges of two maps
 * are built into the same struct through pymap_builder.
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

struct tramp_rule;

struct pymap_entry {
	uint64_t start, size;		/* [start, start + size) */
	const char *name;		/* whole name as written */
	const char *qualname;		/* "Matrix.multiply", NULL if not py:: */
	const char *filename;		/* "/src/app.py", NULL if not py:: */
	const char *label;		/* frame text: "Matrix.multiply (app.py)",
					   "f (pkg/__init__.py)"; name if not py:: */
	const struct tramp_rule *rule;	/* this copy's own unwind rule (from a
					   jitdump), owned by the pymap; NULL:
					   use the interpreter's template */
};

struct pymap;

/* Open a map-like file (perf map, jitdump, .lines) under the trust rule
 * above: no symlink, a regular file, owned by the effective user or root
 * unless force. Returns the fd (caller closes; *st filled) or -PM_E*. */
struct stat;
int pymap_open_trusted(const char *path, bool force, struct stat *st,
		       struct pm_error *err);

/* Parse a map file. Malformed lines are skipped and counted. Later entries
 * for the same address replace earlier ones (a recompiled code object). */
struct pymap *pymap_load(const char *path, bool force, struct pm_error *err);
struct pymap *pymap_parse(const char *text, size_t len);	/* tests */
void pymap_free(struct pymap *m);		/* NULL accepted */

/*
 * Add definition lines to the labels ("fib (app.py:12)") from a sidecar
 * written by `pyperf-maps lines`: lines "LINE QUALNAME:FILENAME" (the
 * tool leaves out sources that changed since the recording). Same trust
 * rules as pymap_load(). Returns the number of entries relabelled, or
 * -PM_E* (-PM_ENOTFOUND when there is no such file).
 */
int pymap_apply_lines(struct pymap *m, const char *path, bool force,
		      struct pm_error *err);

/* Entry containing addr, or NULL. O(log n). */
const struct pymap_entry *pymap_lookup(const struct pymap *m, uint64_t addr);

/* Entry containing addr in the first of maps (NULL-terminated list, NULL
 * accepted) that has one: a process's own map, then its ancestors' (a
 * forked CPython 3.12 child keeps its parent's trampolines on its stack but
 * writes only new ones to its own map). */
const struct pymap_entry *pymap_lookup_list(const struct pymap *const *maps,
					    uint64_t addr);

size_t pymap_count(const struct pymap *m);
size_t pymap_bad_lines(const struct pymap *m);

/*
 * Building a pymap from entries found elsewhere (jitdump records, two maps
 * merged): entries are named, labelled and resolved exactly as pymap_load
 * does with lines, in the order added (later wins where they overlap).
 * Names and rules are copied; the caller keeps its buffers.
 */
struct pymap_builder;

struct pymap_builder *pymap_builder_new(void);		/* NULL on OOM */
void pymap_builder_free(struct pymap_builder *b);	/* NULL accepted */

/* Add [start, start + size) named by name[0, name_len) (stops at a NUL),
 * with its own unwind rule or NULL. 0, -PM_ECORRUPT (size 0, range past
 * 2^64, empty name: nothing added), -PM_ENOMEM, -PM_ELIMIT. */
int pymap_builder_add(struct pymap_builder *b, uint64_t start, uint64_t size,
		      const char *name, size_t name_len,
		      const struct tramp_rule *rule);

/* Add an entry at new_start, size bytes, with the name and rule of the
 * latest entry added at old_start (a jitdump CODE_MOVE); only the last
 * 4096 entries are searched. 0, -PM_ENOTFOUND, -PM_ECORRUPT, -PM_ENOMEM. */
int pymap_builder_copy(struct pymap_builder *b, uint64_t old_start,
		       uint64_t new_start, uint64_t size);

/* The pymap of everything added; b is freed in every case. NULL on OOM. */
struct pymap *pymap_builder_finish(struct pymap_builder *b);

/* A new pymap holding a's entries and b's, b's winning where they overlap
 * (either may be NULL). NULL on OOM. a and b are left as they are. */
struct pymap *pymap_merge(const struct pymap *a, const struct pymap *b);

/*
 * The frame text for a symbol named like a perf-map entry ("py::QUALNAME:
 * FILENAME", as in the jitted-PID-N.so files `perf inject --jit` writes):
 * true with the label ("QUALNAME (BASENAME)", as pymap entries have it)
 * in buf, cut to size - 1 bytes; false if name is not a Python entry name
 * (buf untouched).
 */
bool pymap_label_for_name(const char *name, char *buf, size_t size);

#endif
