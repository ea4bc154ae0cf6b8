/*
 * offcpu.h - off-CPU time and GIL wait from sched:sched_switch: the stack a
 * thread had when it was switched out, weighted by the time until it ran
 * again. Blocked time whose native stack is in CPython's GIL acquisition
 * (take_gil and its callers) is GIL wait, reported per Python function and
 * per thread. Part of eventsum (see eventsum.h); owns its profiles.
 */
#ifndef PM_OFFCPU_H
#define PM_OFFCPU_H

#include <stdio.h>

#include "evtab.h"

struct offcpu;

/* How a switch-in time was learnt (exactness decreasing). */
enum offcpu_in {
	IN_SWITCH,		/* PERF_RECORD_SWITCH in, or sched_switch with
				   next_pid == tid (system-wide) */
	IN_SAMPLE,		/* the thread's next sample (upper bound) */
	IN_SWITCH_OUT,		/* its next switch-out (upper bound) */
	IN_EXIT,		/* its EXIT record */
	IN_NR
};

struct offcpu *offcpu_new(void);
void offcpu_free(struct offcpu *o);	/* NULL accepted */

/* A sched:sched_switch sample (field slots: prev_pid, prev_state,
 * next_pid). 0 or -PM_ENOMEM. */
int offcpu_switch(struct offcpu *o, const struct es_ctx *c,
		  const struct es_sample *s);

/* Evidence that tid was running at time (see enum offcpu_in). */
int offcpu_running(struct offcpu *o, uint32_t tid, uint64_t time,
		   enum offcpu_in how);

/* "offcpu" (blocked time, ns) or "gil-wait" (ns); NULL otherwise. */
struct profile *offcpu_profile(const struct offcpu *o, const char *name);

bool offcpu_any(const struct offcpu *o);
void offcpu_write_text(const struct offcpu *o, FILE *f, unsigned top);
void offcpu_write_json(const struct offcpu *o, FILE *f, unsigned top);

#endif
