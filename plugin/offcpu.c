/*
 * offcpu.c - off-CPU time and GIL wait (see offcpu.h).
 *
 * sched:sched_switch fires in the context of the task being switched out
 * ("prev"), so a per-process recording sees every switch-out of its threads
 * with their stacks. The switch-in is learnt from whichever comes first:
 * a PERF_RECORD_SWITCH "in" record (perf record --switch-events), a
 * sched_switch with next_pid == tid (system-wide recordings), the thread's
 * next sample of any event, its next switch-out, or its EXIT. The first two
 * are exact; the others are upper bounds, and the summary says how many of
 * each were used.
 *
 * prev_state: 0 is runnable (preempted); the low 7 bits are the sleeping
 * states S, D, T, t, X, Z, P (include/trace/events/sched.h
 * __trace_sched_switch_state); the bit above the report mask only marks
 * preemption. Blocked = any of the low 7 bits.
 *
 * GIL wait: walking the unmerged stack from the leaf, skipping kernel and
 * libc frames, the first interpreter frame is in the GIL list (after lock
 * plumbing frames, which are skipped). Names checked with nm on CPython
 * 3.12.1, 3.13.0 and a 3.13 frame-pointer build: take_gil, drop_gil,
 * _PyEval_AcquireLock, PyEval_RestoreThread, PyEval_AcquireThread,
 * _PyThreadState_Attach, PyGILState_Ensure are symbols in all of them
 * (some static), so they show up whether or not take_gil is inlined.
 */
#include "offcpu.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "json.h"
#include "summary.h"

#define STATE_SLEEPING 0x7f
#define MAX_STACK (1u << 16)

static const char *const gil_frames[] = {
	"take_gil", "drop_gil", "_PyEval_AcquireLock", "PyEval_AcquireLock",
	"PyEval_RestoreThread", "PyEval_AcquireThread",
	"_PyThreadState_Attach", "PyGILState_Ensure", "_PyEval_TakeGIL",
	NULL
};

/* Interpreter lock plumbing that may sit between take_gil and the kernel. */
static const char *const lock_frames[] = {
	"PyMUTEX_LOCK", "PyCOND_WAIT", "PyCOND_TIMEDWAIT", "PyMutex_Lock",
	"_PyMutex_LockTimed", "PyMutex_LockFlags", "_PyParkingLot_Park",
	"_PySemaphore_Wait", "_PySemaphore_PlatformWait",
	"PyThread_acquire_lock_timed", NULL
};

struct pending {
	bool active, blocked, gil;
	uint64_t t_out;
	struct frame *fr;
	size_t n, alloc;
	uint32_t thread;		/* index into threads */
};

struct othread {
	uint32_t tid, pid;
	const char *comm;
	uint64_t blocked_ns, gil_ns, preempt_ns, switches;
};

struct offcpu {
	struct idmap tids;		/* tid -> index of pend and threads */
	struct pending *pend;
	struct othread *thr;
	size_t n, pend_alloc, thr_alloc;
	struct profile *p_off, *p_gil;
	uint64_t switches, blocked_ns, gil_ns, preempt_ns;
	uint64_t resolved[IN_NR], negative;
};

struct offcpu *offcpu_new(void)
{
	struct offcpu *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->p_off = profile_new();
	o->p_gil = profile_new();
	if (!o->p_off || !o->p_gil) {
		offcpu_free(o);
		return NULL;
	}
	return o;
}

void offcpu_free(struct offcpu *o)
{
	size_t i;

	if (!o)
		return;
	for (i = 0; i < o->n; i++)
		free(o->pend[i].fr);
	free(o->pend);
	free(o->thr);
	idmap_release(&o->tids);
	profile_free(o->p_off);
	profile_free(o->p_gil);
	free(o);
}

bool offcpu_any(const struct offcpu *o)
{
	return o->switches > 0;
}

struct profile *offcpu_profile(const struct offcpu *o, const char *name)
{
	if (!strcmp(name, "offcpu"))
		return o->p_off;
	if (!strcmp(name, "gil-wait"))
		return o->p_gil;
	return NULL;
}

/* Whether a leaf-first symbolized stack is blocked in GIL acquisition. */
static bool offcpu_is_gil_wait(const struct frame *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].kind != FRAME_INTERP || !f[i].name)
			continue;
		if (frame_name_in(f[i].name, gil_frames))
			return true;
		if (!frame_name_in(f[i].name, lock_frames))
			return false;
	}
	return false;
}

/* Close tid's pending switch-out at time t. */
static int resolve(struct offcpu *o, long slot, uint64_t t,
		   enum offcpu_in how)
{
	struct pending *p = &o->pend[slot];
	struct othread *th = &o->thr[p->thread];
	uint64_t dt;
	int err = 0;

	if (!p->active)
		return 0;
	p->active = false;
	if (t < p->t_out) {
		o->negative++;
		return 0;
	}
	dt = t - p->t_out;
	o->resolved[how]++;
	if (!p->blocked) {
		o->preempt_ns += dt;
		th->preempt_ns += dt;
		return 0;
	}
	o->blocked_ns += dt;
	th->blocked_ns += dt;
	if (dt)
		err = profile_add(o->p_off, p->fr, p->n, dt);
	if (!err && p->gil) {
		o->gil_ns += dt;
		th->gil_ns += dt;
		if (dt)
			err = profile_add(o->p_gil, p->fr, p->n, dt);
	}
	return err;
}

int offcpu_running(struct offcpu *o, uint32_t tid, uint64_t time,
		   enum offcpu_in how)
{
	long slot = idmap_find(&o->tids, tid);

	if (slot < 0 || !o->pend[slot].active)
		return 0;
	return resolve(o, slot, time, how);
}

static long get_slot(struct offcpu *o, uint32_t tid)
{
	bool added;
	long slot;

	/* thr[] grows first so that a new pend slot always has its thread */
	if (grow_array((void **)&o->thr, &o->thr_alloc, o->n + 1,
		       sizeof(*o->thr), 1u << 22))
		return -1;
	slot = idmap_slot(&o->tids, tid, (void **)&o->pend, &o->n,
			  &o->pend_alloc, sizeof(*o->pend), &added);
	if (slot < 0 || !added)
		return slot;
	memset(&o->thr[slot], 0, sizeof(*o->thr));
	o->pend[slot].thread = (uint32_t)slot;
	o->thr[slot].tid = tid;
	return slot;
}

int offcpu_switch(struct offcpu *o, const struct es_ctx *c,
		  const struct es_sample *s)
{
	uint64_t prev, state = 1, next, t = s->ev->sid.time;
	struct pending *p;
	long slot;
	int err;

	if (!s->ev->sid.has_time)
		return 0;
	if (!es_field(c, s, 0, &prev))
		prev = s->ev->sid.tid;
	if (es_field(c, s, 2, &next) && next && next <= UINT32_MAX) {
		err = offcpu_running(o, (uint32_t)next, t, IN_SWITCH);
		if (err)
			return err;
	}
	if (!prev || prev > UINT32_MAX)
		return 0;		/* the idle task */
	(void)es_field(c, s, 1, &state);
	slot = get_slot(o, (uint32_t)prev);
	if (slot < 0)
		return -PM_ENOMEM;
	p = &o->pend[slot];
	if (p->active) {
		err = resolve(o, slot, t, IN_SWITCH_OUT);
		if (err)
			return err;
	}
	o->switches++;
	o->thr[p->thread].switches++;
	o->thr[p->thread].pid = s->ev->sid.pid;
	if (s->thr && s->thr->comm)
		o->thr[p->thread].comm = s->thr->comm;
	if (grow_array((void **)&p->fr, &p->alloc, s->n ? s->n : 1,
		       sizeof(*p->fr), MAX_STACK))
		return -PM_ENOMEM;
	if (s->n)
		memcpy(p->fr, s->stack, s->n * sizeof(*p->fr));
	p->n = s->n;
	p->t_out = t;
	p->blocked = (state & STATE_SLEEPING) != 0;
	p->gil = s->res && offcpu_is_gil_wait(s->res->frames, s->res->nr);
	p->active = true;
	return 0;
}

static int thr_cmp(const void *a, const void *b)
{
	const struct othread *x = a, *y = b;

	if (x->gil_ns != y->gil_ns)
		return x->gil_ns < y->gil_ns ? 1 : -1;
	if (x->blocked_ns != y->blocked_ns)
		return x->blocked_ns < y->blocked_ns ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static struct othread *sorted_threads(const struct offcpu *o)
{
	struct othread *t = malloc((o->n ? o->n : 1) * sizeof(*t));

	if (!t)
		return NULL;
	if (o->n)
		memcpy(t, o->thr, o->n * sizeof(*t));
	qsort(t, o->n, sizeof(*t), thr_cmp);
	return t;
}

static uint64_t still_off(const struct offcpu *o)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < o->n; i++)
		n += o->pend[i].active;
	return n;
}

void offcpu_write_text(const struct offcpu *o, FILE *f, unsigned top)
{
	char a[32], b[32], d[32];
	struct othread *t;
	size_t i;

	fmt_ns(a, sizeof(a), o->blocked_ns);
	fmt_ns(b, sizeof(b), o->preempt_ns);
	fprintf(f, "\noff-CPU (sched:sched_switch): %llu switch-outs; blocked "
		"%s, runnable but preempted %s\n",
		(unsigned long long)o->switches, a, b);
	fprintf(f, "  switch-in time from: %llu switch records (exact), %llu "
		"next samples, %llu next switch-outs, %llu exits (upper "
		"bounds); %llu still off-CPU at the end\n",
		(unsigned long long)o->resolved[IN_SWITCH],
		(unsigned long long)o->resolved[IN_SAMPLE],
		(unsigned long long)o->resolved[IN_SWITCH_OUT],
		(unsigned long long)o->resolved[IN_EXIT],
		(unsigned long long)still_off(o));
	if (o->resolved[IN_SAMPLE] + o->resolved[IN_SWITCH_OUT] >
	    o->resolved[IN_SWITCH])
		fprintf(f, "  NOTE: record with `perf record --switch-events` "
			"for exact switch-in times.\n");
	pytable_write_text(f, o->p_off, "blocked time by Python function:",
			   fmt_ns, o->blocked_ns, top);
	fmt_ns(a, sizeof(a), o->gil_ns);
	fprintf(f, "  GIL wait: %s (%.1f%% of blocked time)\n", a,
		summary_pct(o->gil_ns, o->blocked_ns));
	pytable_write_text(f, o->p_gil, "GIL wait by Python function:",
			   fmt_ns, o->gil_ns, top);
	t = sorted_threads(o);
	if (!t || !o->n) {
		free(t);
		return;
	}
	fprintf(f, "  by thread:\n    %8s %8s %-16s %12s %12s %12s\n", "tid",
		"pid", "comm", "blocked", "GIL wait", "preempted");
	for (i = 0; i < o->n && i < (top ? top : 15); i++) {
		fmt_ns(a, sizeof(a), t[i].blocked_ns);
		fmt_ns(b, sizeof(b), t[i].gil_ns);
		fmt_ns(d, sizeof(d), t[i].preempt_ns);
		fprintf(f, "    %8u %8u %-16.16s %12s %12s %12s\n", t[i].tid,
			t[i].pid, t[i].comm ? t[i].comm : "?", a, b, d);
	}
	free(t);
}

void offcpu_write_json(const struct offcpu *o, FILE *f, unsigned top)
{
	struct othread *t;
	size_t i;

	fprintf(f, "{\"switch_outs\": %llu, \"blocked_ns\": %llu, "
		"\"preempted_ns\": %llu, \"gil_wait_ns\": %llu, "
		"\"switch_in_from\": {\"switch\": %llu, \"sample\": %llu, "
		"\"switch_out\": %llu, \"exit\": %llu}, \"still_off_cpu\": %llu",
		(unsigned long long)o->switches,
		(unsigned long long)o->blocked_ns,
		(unsigned long long)o->preempt_ns,
		(unsigned long long)o->gil_ns,
		(unsigned long long)o->resolved[IN_SWITCH],
		(unsigned long long)o->resolved[IN_SAMPLE],
		(unsigned long long)o->resolved[IN_SWITCH_OUT],
		(unsigned long long)o->resolved[IN_EXIT],
		(unsigned long long)still_off(o));
	fputs(", \"blocked_by_python_function\": ", f);
	pytable_write_json(f, o->p_off, top);
	fputs(", \"gil_wait_by_python_function\": ", f);
	pytable_write_json(f, o->p_gil, top);
	fputs(", \"threads\": [", f);
	t = sorted_threads(o);
	for (i = 0; t && i < o->n && i < (top ? top : 15); i++) {
		fprintf(f, "%s{\"tid\": %u, \"pid\": %u, \"comm\": ",
			i ? ", " : "", t[i].tid, t[i].pid);
		json_str(f, t[i].comm);
		fprintf(f, ", \"switch_outs\": %llu, \"blocked_ns\": %llu, "
			"\"gil_wait_ns\": %llu, \"preempted_ns\": %llu}",
			(unsigned long long)t[i].switches,
			(unsigned long long)t[i].blocked_ns,
			(unsigned long long)t[i].gil_ns,
			(unsigned long long)t[i].preempt_ns);
	}
	free(t);
	fputs("]}", f);
}
