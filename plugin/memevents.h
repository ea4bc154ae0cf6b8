/*
 * memevents.h - memory-event summary: bytes mapped and unmapped by
 * mmap/munmap/brk/mremap (enter/exit paired per thread), kmem page
 * allocations and frees, RSS growth from kmem:rss_stat, and
 * PERF_SAMPLE_DATA_SRC decoded. Part of eventsum (see eventsum.h); owns its
 * profiles, which eventsum_profile() hands out by name.
 */
#ifndef PM_MEMEVENTS_H
#define PM_MEMEVENTS_H

#include <stdio.h>

#include "evtab.h"

struct memevents;

struct memevents *memevents_new(void);
void memevents_free(struct memevents *m);	/* NULL accepted */

/* The recording has sys_exit events for syscall sc (SC_*): sizes are then
 * counted at the exit when the call succeeded, else at the enter. */
void memevents_expect_exit(struct memevents *m, int sc);

/* A sample of an AK_SYS_ENTER/EXIT, AK_PAGE_ALLOC/FREE or AK_RSS event. */
int memevents_sample(struct memevents *m, const struct es_ctx *c,
		     const struct es_sample *s);
/* Any sample carrying PERF_SAMPLE_DATA_SRC. */
int memevents_data_src(struct memevents *m, const struct es_ctx *c,
		       const struct es_sample *s);

/* "mmap-bytes", "munmap-bytes", "rss-bytes", "page-alloc-bytes"; NULL for
 * other names or when nothing was recorded. */
struct profile *memevents_profile(const struct memevents *m,
				  const char *name);

void memevents_write_text(const struct memevents *m, FILE *f, unsigned top);
/* A JSON object. */
void memevents_write_json(const struct memevents *m, FILE *f, unsigned top);

#endif
