/*
 * eventsum.h - the event summaries main.c drives: page faults, memory
 * events (mmap/munmap/brk/mremap, kmem page allocator, RSS, DATA_SRC), GC
 * share of CPU, and off-CPU/GIL wait, all attributed to Python functions.
 *
 * Feed it every sample after merge_stack() (eventsum_sample) and every
 * other record (eventsum_record); then write the text or JSON summary, or
 * take one of its weighted profiles for a flamegraph/folded output.
 *
 * Tracepoints are decoded with the recording's own tracing data
 * (tracedata.h), parsed on the first sample (in pipe mode the tracing data
 * record comes before the samples).
 *
 * Ownership: the eventsum borrows the reader and the session (both must
 * outlive it) and owns its profiles and tables. Frames passed in are
 * copied where kept (off-CPU stacks); their strings must live until
 * eventsum_free() (they do: stacker, symbols and pymaps outlive it).
 */
#ifndef PM_EVENTSUM_H
#define PM_EVENTSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "frame.h"
#include "perfdata.h"
#include "profile.h"
#include "session.h"
#include "stack.h"
#include "summary.h"

struct eventsum;

struct eventsum *eventsum_new(struct perfdata *pd, struct session *sess,
			      struct pm_error *err);
void eventsum_free(struct eventsum *es);	/* NULL accepted */

/* A sample that passed the filters: merged (root first, n frames) and the
 * unmerged result it came from (res may be NULL). 0 or -PM_ENOMEM. */
int eventsum_sample(struct eventsum *es, const struct pd_event *ev,
		    const struct frame *merged, size_t n,
		    const struct stack_result *res);

/* Any non-sample record (SWITCH, EXIT, ...). 0 or -PM_ENOMEM. */
int eventsum_record(struct eventsum *es, const struct pd_event *ev);

/* Weighted profiles: "offcpu" and "gil-wait" (ns), "mmap-bytes",
 * "munmap-bytes", "rss-bytes", "page-alloc-bytes" (bytes), "gc" (CPU
 * samples in the cyclic GC). NULL for other names. *unit (may be NULL)
 * gets "ns", "bytes" or "samples". */
struct profile *eventsum_profile(const struct eventsum *es, const char *name,
				 const char **unit);
/* Whether name is one of those (before any sample was seen). */
bool eventsum_profile_known(const char *name);

/* The caller's per-attr stats and profiles (indexed like the attrs; the
 * CPU event's profile gives the GC share per function). Borrowed until
 * eventsum_free(). */
void eventsum_set_events(struct eventsum *es, const struct event_stats *ev,
			 size_t n);

/* Text sections (after the CPU summary). top: rows per table, 0 = 15.
 * 0 or -PM_EIO. */
int eventsum_write_text(const struct eventsum *es, FILE *f, unsigned top);

/* One JSON object with members "faults", "memory", "gc", "offcpu" (see
 * doc/json-schema.md). 0 or -PM_EIO. */
int eventsum_write_json(const struct eventsum *es, FILE *f, unsigned top);

#endif
