/*
 * stack.h - from a sample to its symbolized frames, leaf first: kernel part
 * from the callchain, user part from the callchain (frame pointers) or the
 * DWARF unwinder, each address resolved through the process's maps to a
 * native symbol (with inline frames), a Python frame (perf map entry) or
 * "[unknown]".
 *
 * Ownership: the stacker owns its pymap cache and a string arena; frames it
 * returns point into it, into struct symbols, or into the pymaps, and stay
 * valid until stacker_free(). struct stack_result is caller-owned storage
 * reused from sample to sample.
 *
 * Threads: a stacker is used by one thread at a time. For several threads,
 * each gets a sibling (stacker_new_sibling: own perf maps, unwinder and
 * caches; the symbols are shared, symbols.h); they may run
 * stacker_collect() at once while the session does not change.
 * pipeline.h does that.
 */
#ifndef PM_STACK_H
#define PM_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "perfdata.h"
#include "session.h"
#include "symbols.h"
#include "unwind.h"

struct stacker_opts {
	const char *maps_dirs[4];	/* where perf-PID.map live, searched in
					   order; NULL-terminated; default
					   just /tmp */
	bool force;			/* read maps not owned by us or root */
	bool no_unwind;			/* ignore REGS_USER/STACK_USER */
};

/* Why a user stack stopped where it did. */
enum stack_end {
	STACK_END_ROOT,		/* reached a thread/process start frame */
	STACK_END_UNKNOWN,	/* stopped somewhere else (not provably cut) */
	STACK_END_TRUNCATED,	/* cut short: copy too small, depth limit,
				   unwind failure, unknown code */
	STACK_END_NO_USER,	/* kernel-only sample (kernel thread) */
};

struct stack_result {
	struct thread *thread;		/* the sample's thread */
	struct frame *frames;		/* leaf first */
	size_t nr, alloc;
	enum stack_end end;
	bool has_python;
	bool interp_break;		/* user chain ended inside the
					   interpreter without reaching a root:
					   a build without frame pointers */
	const char *break_dso;		/* that interpreter's DSO name */
	bool unwound;			/* user part came from DWARF unwinding */
	bool stitched;			/* ... completed from an earlier sample
					   of the thread (unwind.h) */
	unsigned dropped;		/* rootward frames over the frame cap */
	/* from stacker_collect() to stacker_finish() */
	struct unwind_result ur;	/* the DWARF unwind, when unwound */
	size_t user_from;		/* its first frame in frames[] */
	struct { size_t frame; uint64_t ip; } *kips;	/* kernel frames */
	size_t nr_kips, kips_alloc;
};

struct stacker;

struct stacker *stacker_new(struct session *sess, struct symbols *syms,
			    const struct stacker_opts *opts);
void stacker_free(struct stacker *st);	/* NULL accepted */

/* A stacker for another thread, over the same session and symbols with
 * the same options: its own perf-map cache, unwinder and caches. src must
 * outlive it. NULL on OOM. */
struct stacker *stacker_new_sibling(struct stacker *src);

/* Symbolize one PD_SAMPLE event of thread t (session_thread() of its
 * pid/tid) into res (cleared first). 0 or -PM_ENOMEM (a stack over the
 * frame cap is cut and marked truncated, not an error). Samples must come
 * in time order per thread (stitching, unwind.h). Same as
 * stacker_collect() then stacker_finish() on st. */
int stacker_sample(struct stacker *st, const struct pd_event *ev,
		   struct thread *t, struct stack_result *res);

/* The two halves of stacker_sample(). stacker_collect() unwinds and
 * symbolizes; it needs only the session as it was at the sample, and may
 * run on any stacker (a sibling, on another thread). stacker_finish()
 * then stitches (unwind.h) and classifies the stack; it must see every
 * sample, in time order per thread, on one stacker, with the session
 * still as it was at the sample; ev is the same event. */
int stacker_collect(struct stacker *st, const struct pd_event *ev,
		    struct thread *t, struct stack_result *res);
int stacker_finish(struct stacker *st, const struct pd_event *ev,
		   struct stack_result *res);

void stack_result_release(struct stack_result *res);

/* A thread exited (PD_EXIT): drop what the unwinder keeps for stitching. */
void stacker_thread_exit(struct stacker *st, uint32_t pid, uint32_t tid);

/* Warnings collected while resolving (maps not found / not trusted, ...),
 * one line each, each once, in the order raised; a NULL-terminated array
 * that only grows (entries stay put), strings valid until stacker_free().
 * A warning raised by a call is at index >= stacker_nr_warnings() before
 * it. Only reads: another thread may read the entries below a count it got
 * from the stacker's thread. */
const char *const *stacker_warnings(const struct stacker *st);
size_t stacker_nr_warnings(const struct stacker *st);

#endif
