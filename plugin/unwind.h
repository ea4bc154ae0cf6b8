/*
 * unwind.h - DWARF unwinding of a sample's user stack (PERF_SAMPLE_REGS_USER
 * + PERF_SAMPLE_STACK_USER) with libdw, through CPython perf trampolines.
 *
 * One libdw address space (Dwfl) per process, kept in proc->priv and rebuilt
 * when proc->maps_gen changes; modules reported lazily at their load bias;
 * memory reads served from the sample's stack copy and from the mapped ELF
 * files (via struct symbols). A return address inside a perf-map "py::"
 * entry is unwound with the rule decoded from the trampoline template
 * (_Py_trampoline_func_start.._Py_trampoline_func_end) of the interpreter
 * the process has mapped (DESIGN.md table). An unknown template gives one
 * warning and a truncated stack.
 *
 * Ownership: the unwinder owns per-binary caches; per-process state hangs
 * off proc->priv and is freed through unwinder_proc_free (give it to
 * session_set_priv_free). Results are caller-owned storage reused between
 * calls.
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
	uint64_t *ips;		/* [0] = sample ip, then return addresses */
	size_t nr, alloc;
	bool truncated;		/* ran off the stack copy / failed mid-way */
	const char *why;	/* static string explaining truncation */
};

struct unwinder;

struct unwinder *unwinder_new(struct symbols *syms);
void unwinder_free(struct unwinder *u);		/* NULL accepted */
void unwinder_proc_free(void *priv);		/* for session_set_priv_free */

/*
 * Unwind the user part of sample s (attr gives the regs mask) in process p.
 * pm: the process's perf map (or NULL) for trampoline lookups. Returns 0
 * with res filled (res->nr may be 0), or -PM_ENOMEM. A sample without user
 * regs/stack gives nr = 0.
 */
int unwinder_unwind(struct unwinder *u, struct proc *p,
		    const struct pd_attr *attr, const struct pd_sample *s,
		    const struct pymap *pm, struct unwind_result *res);

void unwind_result_release(struct unwind_result *res);

/* Warnings so far (unknown trampoline template, ...), NULL-terminated. */
const char *const *unwinder_warnings(const struct unwinder *u);

#endif
