/*
 * unwind.h - DWARF unwinding of a sample's user stack (PERF_SAMPLE_REGS_USER
 * + PERF_SAMPLE_STACK_USER) with libdw, through CPython perf trampolines.
 *
 * Own stepper over libdw's CFI (no Dwfl): per binary, the .eh_frame /
 * .debug_frame rule of each pc is compiled once and cached (cfi.h); per
 * process, the map -> binary/bias resolution lives in the unwinder's slot
 * of proc->priv[] and is redone when proc->maps_gen changes. Memory reads
 * are served from the sample's stack copy and from the mapped ELF files
 * (via struct symbols). Code without CFI falls back to the frame-pointer
 * chain when that lands in mapped code. A return address inside a
 * perf-map "py::" entry is unwound with the rule decoded from the
 * trampoline template (_Py_trampoline_func_start.._Py_trampoline_func_end)
 * of the interpreter the process has mapped (DESIGN.md table). An unknown template gives one
 * warning and a truncated stack.
 *
 * Ownership: the unwinder owns per-binary caches; per-process state hangs
 * off its own slot of proc->priv[] (session_priv_slot) and is freed by the
 * session. Results are caller-owned storage reused between calls.
 *
 * Threads: an unwinder is used by one thread at a time. Several unwinders
 * (each on its own struct symbols) may run at once over one session while
 * it does not change (pipeline.h).
 */
#ifndef PM_UNWIND_H
#define PM_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfdata.h"
#include "pymap.h"
#include "session.h"
#include "symbols.h"

struct unwind_result {
	uint64_t *ips;		/* [0] = user ip from the sampled regs, then
				   return addresses (look up at ip - 1) */
	uint64_t *sps;		/* each frame's stack pointer: the sampled
				   sp, then each callee's CFA (stitch.h) */
	size_t nr, alloc;	/* of both arrays */
	bool truncated;		/* ran off the stack copy / failed mid-way /
				   depth limit (1024); false when the chain
				   ended normally (RA undefined, as at _start
				   and thread starts, or a binary's entry
				   code without CFI) */
	const char *why;	/* static string explaining truncation */
	bool stitched;		/* completed from an earlier sample of the
				   thread (unwinder_stitch); then truncated
				   is false */
	size_t nr_stitched;	/* ips taken from that sample (at the end) */
};

struct unwinder;

/* An unwinder over syms for the processes of sess. It takes one of the
 * session's SESSION_PRIV_SLOTS for the session's lifetime (a pipeline of
 * 8 threads takes 8). NULL on OOM or when sess has no slot left. */
struct unwinder *unwinder_new(struct symbols *syms, struct session *sess);
void unwinder_free(struct unwinder *u);		/* NULL accepted */

/*
 * Unwind the user part of sample s (attr gives the regs mask) in process p.
 * pms: NULL-terminated list of perf maps for trampoline lookups (the
 * process's own, then its ancestors'), or NULL. Returns 0
 * with res filled (res->nr may be 0), or -PM_ENOMEM. A sample without user
 * regs/stack gives nr = 0.
 */
int unwinder_unwind(struct unwinder *u, struct proc *p,
		    const struct pd_attr *attr, const struct pd_sample *s,
		    const struct pymap *const *pms, struct unwind_result *res);

/*
 * Stitching (stitch.h) of res, the unwinder_unwind() result of sample s of
 * thread tid in p (possibly from another unwinder): a stack cut where the
 * copy ends is completed from an earlier sample of the same thread that
 * shows the same outermost frame with the same stack bytes, and then has
 * stitched set. Every unwound sample of the thread should go through here,
 * in time order (its stack pointer tells which frames have returned), on
 * one unwinder, with the session as it was at the sample. History memory is
 * bounded (stitch.h) and freed by unwinder_free. 0 or -PM_ENOMEM.
 */
int unwinder_stitch(struct unwinder *u, struct proc *p, uint32_t tid,
		    const struct pd_sample *s, struct unwind_result *res);

/* unwinder_unwind, then unwinder_stitch. */
int unwinder_unwind_thread(struct unwinder *u, struct proc *p, uint32_t tid,
			   const struct pd_attr *attr,
			   const struct pd_sample *s,
			   const struct pymap *const *pms,
			   struct unwind_result *res);

/* Forget the stitching history of a thread that exited (PERF_RECORD_EXIT);
 * optional, the history is bounded anyway. */
void unwinder_thread_exit(struct unwinder *u, uint32_t pid, uint32_t tid);

void unwind_result_release(struct unwind_result *res);

/* Warnings so far (unknown trampoline template, ...), NULL-terminated. */
const char *const *unwinder_warnings(const struct unwinder *u);

#endif
