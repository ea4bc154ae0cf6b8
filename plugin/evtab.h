/*
 * evtab.h - pieces shared by the event summaries (faults.c, memevents.c,
 * offcpu.c, eventsum.c): per-second series, small named counters, a
 * tid-keyed hash, and the "by Python function" tables in text and JSON.
 *
 * Ownership: each struct is embedded in its owner and released with its
 * _release(); names stored in them are interned by the owner (strtab) and
 * must outlive them. Every array is grown with grow_array() under a cap.
 */
#ifndef PM_EVTAB_H
#define PM_EVTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frame.h"
#include "idmap.h"
#include "perfdata.h"
#include "profile.h"
#include "session.h"
#include "stack.h"
#include "strtab.h"
#include "tracedata.h"

#define SERIES_MAX_SECONDS	(1u << 20)	/* later samples: last bucket */
#define COUNTS_MAX		256		/* then "(other)" */

/* Per-second totals from the start of the recording. */
struct series {
	uint64_t *v;
	size_t n, alloc;
};

int series_add(struct series *s, uint64_t sec, uint64_t w);
void series_release(struct series *s);
/* A text chart of at most max_rows rows (seconds merged when longer):
 * "  from-to s  value  ####". unit names the values. */
void series_write_text(FILE *f, const struct series *s, const char *title,
		       const char *unit, unsigned max_rows);
/* JSON array of per-second values. */
void series_write_json(FILE *f, const struct series *s);

/* Named counters (value and a second value, e.g. count and bytes). */
struct count {
	const char *name;		/* interned by the caller */
	uint64_t v, w;
};
struct counts {
	struct count *c;
	size_t n, alloc;
};

/* Add v, w under name (interned); a NULL name (a failed strtab_intern)
 * gives -PM_ENOMEM. */
int counts_add(struct counts *c, const char *name, uint64_t v, uint64_t w);
void counts_release(struct counts *c);
/* Entries sorted by v descending (ties by name); caller frees. */
struct count *counts_sorted(const struct counts *c);

/* "Top Python functions" table of profile p: self (innermost Python frame)
 * and total per Python function, with percentages of `whole` (0 = the
 * profile total). fmt_value prints one value in its unit into buf. */
typedef void (*value_fmt)(char *buf, size_t len, uint64_t v);
void pytable_write_text(FILE *f, const struct profile *p, const char *title,
			value_fmt fmt, uint64_t whole, unsigned top);
/* JSON array [{"function":..., "self":N, "total":N}, ...] of the top rows
 * (by self, then total). */
void pytable_write_json(FILE *f, const struct profile *p, unsigned top);

/* Value formatters: plain count, bytes (KiB/MiB/GiB), nanoseconds. */
void fmt_count(char *buf, size_t len, uint64_t v);
void fmt_bytes(char *buf, size_t len, uint64_t v);
void fmt_ns(char *buf, size_t len, uint64_t v);

/* What eventsum.c made of an event (attr), once, from its type/config or
 * its tracepoint format. Field slots per kind are listed in eventsum.c. */
enum ak {
	AK_UNSET, AK_OTHER, AK_CPU, AK_FAULT, AK_SYS_ENTER, AK_SYS_EXIT,
	AK_PAGE_ALLOC, AK_PAGE_FREE, AK_RSS, AK_SWITCH
};
enum { SC_MMAP, SC_MUNMAP, SC_BRK, SC_MREMAP, SC_NR };
enum { FS_ALL, FS_MIN, FS_MAJ, FS_TP_USER, FS_TP_KERNEL };

#define AK_MAX_FIELDS 6
struct attr_kind {
	enum ak kind;
	int sub;			/* SC_* or FS_* */
	unsigned idx;			/* attr index */
	const char *name;		/* event name */
	struct td_field f[AK_MAX_FIELDS];
	struct td_field common_type;	/* tracepoints: checks a sample's RAW
					   record is of this event */
	bool has_common_type;
};

/* What the summaries get for one sample. */
struct es_sample {
	const struct pd_event *ev;
	const struct attr_kind *ak;
	const struct frame *stack;	/* merged, root first */
	size_t n;
	const struct stack_result *res;	/* unmerged, leaf first */
	struct thread *thr;
	uint64_t sec;			/* seconds since the first event */
	uint64_t weight;		/* sample period, >= 1 */
};

/* Shared state the summaries read. */
struct es_ctx {
	struct session *sess;
	struct tracedata *td;		/* NULL without tracing data */
	struct strtab *names;
	uint32_t page_size;
};

/* Field slot f of a tracepoint sample as a number; false if unreadable. */
bool es_field(const struct es_ctx *c, const struct es_sample *s, unsigned f,
	      uint64_t *v);

#endif
