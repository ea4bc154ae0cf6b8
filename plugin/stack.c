/*
 * stack.c - sample -> symbolized frames, leaf first.
 *
 * Callchain layout (perf_event.h): u64 entries where values >=
 * PERF_CONTEXT_MAX are context markers switching kernel/user mode for the
 * entries that follow. The first entry of each context is where the task
 * was (sample ip, or user ip at kernel entry); later entries are return
 * addresses, looked up at ip - 1 so a call that ends a function is
 * attributed to its caller.
 *
 * With --call-graph dwarf, perf sets exclude_callchain_user: the chain holds
 * only the kernel part and the user part comes from unwinding REGS_USER +
 * STACK_USER (unwind.h).
 */
#include "stack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "idmap.h"
#include "jitdump.h"
#include "merge.h"
#include "pymap.h"
#include "strtab.h"
#include "unwind.h"

#define MAX_FRAMES (1u << 16)
#define MAX_WARNINGS 64
#define SYMHIT_SLOTS 4096		/* per-stacker lookup cache */
#define SYMHIT_FRAMES 6			/* frames kept per entry */

/* A dso_lookup() result, so that repeated addresses do not take the
 * shared symbols' lock (direct-mapped; deeper inline chains are not kept). */
struct symhit {
	const struct dso *dso;		/* NULL: empty */
	uint64_t off;
	int n;
	struct sym_frame f[SYMHIT_FRAMES];
};

/* Per-pid perf map cache entry (st->pymaps, indexed through pymap_ids). */
struct pymap_slot {
	bool tried, warned;
	bool refused;			/* a map was there but not trusted */
	struct pymap *map;
};

/* A mapped file's dso, by the map's interned path (st->dsos). */
struct dso_slot {
	struct dso *dso;
	bool interp;			/* it is CPython's interpreter */
	uint8_t bid_size, bid[20];	/* the build-id it was asked with */
};

struct stacker {
	struct session *sess;
	struct symbols *syms;
	struct stacker_opts opts;
	struct strtab *strings;
	struct unwinder *unwinder;
	size_t uw_folded;		/* unwinder warnings taken over */
	struct idmap pymap_ids;		/* pid -> index in pymaps */
	struct pymap_slot *pymaps;
	size_t nr_pymaps, pymaps_alloc;
	struct idmap dso_ids;		/* map path pointer -> index in dsos */
	struct dso_slot *dsos;
	size_t nr_dsos, dsos_alloc;
	struct sym_frame symbuf[16];
	struct symhit *symhits;		/* SYMHIT_SLOTS, allocated on use */
	struct { uint64_t ip; const char *name; } kcache[4096];
	const struct pymap *pms[9];	/* proc_pymaps() for pms_proc ... */
	struct proc *pms_proc;		/* ... during the current sample */
	const char *warnings[MAX_WARNINGS + 1];
	size_t nr_warnings;
};

static void warn(struct stacker *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct stacker *st, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	const char *w;
	size_t i;

	if (st->nr_warnings >= MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	w = strtab_intern(st->strings, buf);
	for (i = 0; w && i < st->nr_warnings; i++)
		if (st->warnings[i] == w)
			return;		/* interned: same text, same pointer */
	if (w)
		st->warnings[st->nr_warnings++] = w;
	st->warnings[st->nr_warnings] = NULL;
}

/* Take over the unwinder's new warnings, in order. */
static void fold_unwinder_warnings(struct stacker *st)
{
	const char *const *uw = unwinder_warnings(st->unwinder);

	for (; uw[st->uw_folded]; st->uw_folded++)
		warn(st, "%s", uw[st->uw_folded]);
}

struct stacker *stacker_new(struct session *sess, struct symbols *syms,
			    const struct stacker_opts *opts)
{
	struct stacker *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->sess = sess;
	st->syms = syms;
	if (opts)
		st->opts = *opts;
	if (!st->opts.maps_dirs[0])
		st->opts.maps_dirs[0] = "/tmp";
	st->opts.maps_dirs[3] = NULL;
	st->strings = strtab_new();
	if (!st->strings)
		goto fail;
	if (!st->opts.no_unwind) {
		st->unwinder = unwinder_new(syms, sess);
		if (!st->unwinder)
			goto fail;
	}
	return st;
fail:
	stacker_free(st);
	return NULL;
}

struct stacker *stacker_new_sibling(struct stacker *src)
{
	return stacker_new(src->sess, src->syms, &src->opts);
}

void stacker_free(struct stacker *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->nr_pymaps; i++)
		pymap_free(st->pymaps[i].map);
	free(st->pymaps);
	idmap_release(&st->pymap_ids);
	free(st->dsos);
	idmap_release(&st->dso_ids);
	free(st->symhits);
	unwinder_free(st->unwinder);
	strtab_free(st->strings);
	free(st);
}

void stack_result_release(struct stack_result *res)
{
	free(res->frames);
	free(res->kips);
	unwind_result_release(&res->ur);
	memset(res, 0, sizeof(*res));
}

void stacker_thread_exit(struct stacker *st, uint32_t pid, uint32_t tid)
{
	if (st->unwinder)
		unwinder_thread_exit(st->unwinder, pid, tid);
}

const char *const *stacker_warnings(const struct stacker *st)
{
	return st->warnings;	/* warn() keeps it NULL-terminated */
}

size_t stacker_nr_warnings(const struct stacker *st)
{
	return st->nr_warnings;
}

/* ---- per-pid perf maps ---- */

static struct pymap_slot *pymap_slot_get(struct stacker *st, uint32_t pid)
{
	bool added;
	long k = idmap_slot(&st->pymap_ids, pid, (void **)&st->pymaps,
			    &st->nr_pymaps, &st->pymaps_alloc,
			    sizeof(*st->pymaps), &added);

	return k < 0 ? NULL : &st->pymaps[k];
}

/* The perf map of pid, loaded on first use; NULL if there is none. */
static const struct pymap *pymap_for(struct stacker *st, uint32_t pid)
{
	struct pymap_slot *slot = pymap_slot_get(st, pid);
	struct pm_error err = {0};
	char path[4096];
	size_t i;

	if (!slot)
		return NULL;
	if (slot->tried)
		return slot->map;
	slot->tried = true;
	for (i = 0; st->opts.maps_dirs[i] && !slot->map; i++) {
		snprintf(path, sizeof(path), "%s/perf-%u.map",
			 st->opts.maps_dirs[i], pid);
		slot->map = pymap_load(path, st->opts.force, &err);
		if (!slot->map && err.code != -PM_ENOTFOUND) {
			warn(st, "%s", err.msg);
			slot->refused = true;
			break;
		}
	}
	/* -X perf_jit (CPython 3.13+) writes jit-PID.dump instead; a process
	 * can have both (perf_jit switched on at run time): merge them */
	for (i = 0; st->opts.maps_dirs[i]; i++) {
		struct jitdump_stats js;
		struct pymap *jm, *both;

		snprintf(path, sizeof(path), "%s/jit-%u.dump",
			 st->opts.maps_dirs[i], pid);
		jm = jitdump_load(path, st->opts.force, &js, &err);
		if (!jm) {
			if (err.code == -PM_ENOTFOUND)
				continue;
			warn(st, "%s", err.msg);
			break;
		}
		if (js.note[0])
			warn(st, "%s", js.note);
		if (!slot->map) {
			slot->map = jm;
			break;
		}
		both = pymap_merge(slot->map, jm);
		pymap_free(jm);
		if (both) {
			pymap_free(slot->map);
			slot->map = both;
		}
		break;
	}
	/* definition lines from `pyperf-maps lines`, applied to the final map
	 * (a perf map, a jitdump, or both merged) */
	for (i = 0; slot->map && st->opts.maps_dirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/perf-%u.lines",
			 st->opts.maps_dirs[i], pid);
		if (pymap_apply_lines(slot->map, path, st->opts.force,
				      &err) >= 0)
			break;
		if (err.code != -PM_ENOTFOUND) {
			warn(st, "%s", err.msg);
			break;
		}
	}
	return slot->map;
}

/* The perf maps to search for p's addresses, built once per sample: p's
 * own, then its ancestors' (pymap_lookup_list). */
static const struct pymap *const *proc_pymaps(struct stacker *st,
					      struct proc *p)
{
	struct proc *a = p;
	size_t npm = 0, hops;

	if (st->pms_proc == p)
		return st->pms;
	for (hops = 0; a && hops < 8; hops++) {
		const struct pymap *m = pymap_for(st, a->pid);

		if (m)
			st->pms[npm++] = m;
		if (!a->ppid || a->ppid == a->pid)
			break;
		a = session_proc(st->sess, a->ppid);
	}
	st->pms[npm] = NULL;
	st->pms_proc = p;
	return st->pms;
}

/* Code in anonymous memory that no perf map names: JIT code, or a Python
 * process whose perf map is gone. Say so once per process. */
static void warn_no_map(struct stacker *st, struct proc *p)
{
	struct pymap_slot *slot = pymap_slot_get(st, p->pid);
	char dirs[512] = "";
	size_t i, len = 0;

	if (!slot || slot->warned || slot->refused)
		return;		/* refused: pymap_for said why already */
	slot->warned = true;
	for (i = 0; st->opts.maps_dirs[i] && len < sizeof(dirs); i++)
		len += (size_t)snprintf(dirs + len, sizeof(dirs) - len, "%s%s",
					i ? ", " : "", st->opts.maps_dirs[i]);
	if (slot->map)
		warn(st, "pid %u (%s): addresses in anonymous executable memory "
		     "that perf-%u.map does not name: shown as [unknown]",
		     p->pid, p->comm ? p->comm : "?", p->pid);
	else
		warn(st, "pid %u (%s): no perf-%u.map or jit-%u.dump in %s: "
		     "Python frames of this process show as [unknown] (run "
		     "Python with -X perf, and keep the maps: pyperf-record "
		     "collects them)", p->pid, p->comm ? p->comm : "?", p->pid,
		     p->pid, dirs);
}

/* ---- dso classification ---- */

/* Whether d is CPython's interpreter (defines the eval loop). */
static bool dso_is_interp(struct dso *d)
{
	uint64_t a, sz;

	return dso_symbol_addr(d, "_PyEval_EvalFrameDefault", &a, &sz);
}

/* The dso of a file map, and whether it is the interpreter: worked out
 * once per path (interned by the session, so the pointer is the key) in
 * this stacker's own symbols. NULL on OOM. */
static struct dso *map_dso(struct stacker *st, const struct map *m,
			   bool *interp)
{
	bool added;
	long k = idmap_slot(&st->dso_ids, (uintptr_t)m->path,
			    (void **)&st->dsos, &st->nr_dsos, &st->dsos_alloc,
			    sizeof(*st->dsos), &added);
	struct dso_slot *ds = k < 0 ? NULL : &st->dsos[k];
	struct dso *d;

	if (ds && ds->dso && ds->bid_size == m->build_id_size &&
	    !memcmp(ds->bid, m->build_id, m->build_id_size)) {
		*interp = ds->interp;
		return ds->dso;
	}
	d = symbols_dso(st->syms, m->path,
			m->build_id_size ? m->build_id : NULL,
			m->build_id_size);
	if (!d)
		return NULL;
	*interp = dso_is_interp(d);
	/* the first build-id seen for a path is cached; another one (the
	 * file was replaced while recording) is looked up every time */
	if (ds && !ds->dso) {
		ds->dso = d;
		ds->interp = *interp;
		ds->bid_size = m->build_id_size;
		memcpy(ds->bid, m->build_id, m->build_id_size);
	}
	return d;
}

/* ---- frames ---- */

static int push(struct stack_result *res, const char *name, const char *dso,
		enum frame_kind kind)
{
	int err = grow_array((void **)&res->frames, &res->alloc, res->nr + 1,
			     sizeof(*res->frames), MAX_FRAMES);

	if (err == -PM_ELIMIT) {
		/* over MAX_FRAMES (a crafted or runaway stack): keep the leaf
		 * part and mark the stack cut, rather than fail the run */
		res->dropped++;
		return 0;
	}
	if (err)
		return err;
	res->frames[res->nr].name = name;
	res->frames[res->nr].dso = dso ? dso : "";
	res->frames[res->nr].kind = kind;
	res->nr++;
	return 0;
}

/* A kernel frame, named by stacker_finish() (kernel symbols may still be
 * loading while samples are collected, symbols.h). */
static int push_kernel(struct stack_result *res, uint64_t ip)
{
	size_t at = res->nr;
	int err = push(res, NULL, "[kernel.kallsyms]", FRAME_KERNEL);

	if (err || res->nr == at)
		return err;		/* over the frame cap: dropped */
	err = grow_array((void **)&res->kips, &res->kips_alloc,
			 res->nr_kips + 1, sizeof(*res->kips), MAX_FRAMES);
	if (err)
		return err;
	res->kips[res->nr_kips].frame = at;
	res->kips[res->nr_kips++].ip = ip;
	return 0;
}

static const char *kernel_name(struct stacker *st, uint64_t ip)
{
	/* kernel ips repeat a lot: a direct-mapped cache of ip -> name */
	size_t slot = (ip ^ (ip >> 12)) & 4095;
	const char *sym, *name;
	char buf[512];

	if (st->kcache[slot].ip != ip || !st->kcache[slot].name) {
		sym = symbols_kernel_lookup(st->syms, ip);
		snprintf(buf, sizeof(buf), "%s_[k]", sym ? sym : "[unknown]");
		name = strtab_intern(st->strings, buf);
		if (!name)
			return NULL;
		st->kcache[slot].ip = ip;
		st->kcache[slot].name = name;
	}
	return st->kcache[slot].name;
}

/* An address no symbol covers: "[unknown in libz.so.1]" names where it is
 * (flamegraph.pl users know "[libz.so.1]"; the "[unknown" prefix keeps it a
 * bracketed pseudo-frame), "[unknown]" when it is in no mapping at all. */
static int push_unknown(struct stacker *st, struct stack_result *res,
			const char *where)
{
	const char *base = where ? strrchr(where, '/') : NULL, *name;
	char buf[300];

	base = base ? base + 1 : where;
	if (!base || !*base)
		return push(res, FRAME_UNKNOWN, "", FRAME_NATIVE);
	snprintf(buf, sizeof(buf), "[unknown in %s]", base);
	name = strtab_intern(st->strings, buf);
	if (!name)
		return -PM_ENOMEM;
	return push(res, name, base, FRAME_NATIVE);
}

/* dso_lookup() through the stacker's cache; frames in *out. */
static int lookup(struct stacker *st, struct dso *d, uint64_t off,
		  const struct sym_frame **out)
{
	size_t k = (size_t)((off ^ off >> 13 ^ (uintptr_t)d >> 4) &
			    (SYMHIT_SLOTS - 1));
	struct symhit *h;
	int n;

	if (!st->symhits)
		st->symhits = calloc(SYMHIT_SLOTS, sizeof(*st->symhits));
	h = st->symhits ? &st->symhits[k] : NULL;
	if (h && h->dso == d && h->off == off) {
		*out = h->f;
		return h->n;
	}
	n = dso_lookup(d, off, st->symbuf,
		       sizeof(st->symbuf) / sizeof(st->symbuf[0]));
	*out = st->symbuf;
	/* errors too: a binary that is not there fails every time */
	if (h && n <= SYMHIT_FRAMES) {
		h->dso = d;
		h->off = off;
		h->n = n;
		if (n > 0)
			memcpy(h->f, st->symbuf, (size_t)n * sizeof(*h->f));
	}
	return n;
}

static int push_user(struct stacker *st, struct stack_result *res,
		     struct proc *p, uint64_t ip, bool is_return)
{
	uint64_t look = is_return ? ip - 1 : ip;
	struct map *m = proc_find_map(p, look);
	const struct pymap_entry *e;
	const struct sym_frame *sf;
	int n, i, err;

	if (m && map_is_file(m)) {
		const char *dname;
		bool interp;
		struct dso *d = map_dso(st, m, &interp);

		if (!d)
			return -PM_ENOMEM;
		dname = dso_name(d);
		n = lookup(st, d, look - m->start + m->pgoff, &sf);
		if (n <= 0 || !sf[n - 1].name)
			return push_unknown(st, res, dname);
		for (i = 0; i < n; i++) {
			char label[512];
			const char *py;

			/* perf inject --jit: jitted-PID-N.so, symbol "py::..." */
			if (pymap_label_for_name(sf[i].name, label,
						 sizeof(label))) {
				py = strtab_intern(st->strings, label);
				if (!py)
					return -PM_ENOMEM;
				err = push(res, py, "", FRAME_PYTHON);
			} else {
				err = push(res, sf[i].name, dname,
					   interp ? FRAME_INTERP : FRAME_NATIVE);
			}
			if (err)
				return err;
		}
		return 0;
	}
	e = pymap_lookup_list(proc_pymaps(st, p), look);
	if (e) {
		if (e->qualname)
			return push(res, e->label, "", FRAME_PYTHON);
		return push(res, e->label, "perf-map", FRAME_NATIVE);
	}
	if (m && m->exec)
		warn_no_map(st, p);
	return push_unknown(st, res, m ? m->path : NULL);
}

/* Classify how the user part (frames [from, res->nr)) ended: complete when
 * it reaches a process/thread start frame. Frame-pointer chains often run
 * past those into garbage (glibc has no frame pointers), so whatever lies
 * rootward of the outermost one is dropped. */
static void finish_user(struct stack_result *res, size_t from, bool cut)
{
	size_t i;

	if (res->nr == from) {
		res->end = STACK_END_NO_USER;
		return;
	}
	for (i = res->nr; i-- > from;) {
		if (res->frames[i].kind == FRAME_NATIVE ||
		    res->frames[i].kind == FRAME_INTERP) {
			if (merge_is_start_frame(res->frames[i].name)) {
				res->nr = i + 1;	/* drop what lies beyond */
				res->end = STACK_END_ROOT;
				return;
			}
		}
	}
	res->end = STACK_END_TRUNCATED;
	if (!cut && res->frames[res->nr - 1].kind == FRAME_INTERP) {
		res->interp_break = true;
		res->break_dso = res->frames[res->nr - 1].dso;
	}
}

int stacker_collect(struct stacker *st, const struct pd_event *ev,
		    struct thread *t, struct stack_result *res)
{
	const struct pd_sample *s = &ev->u.sample;
	const struct pd_attr *attr = ev->attr;
	struct proc *p;
	bool kernel_mode, first = true, any_user = false;
	size_t i, user_from = 0;
	uint64_t ctx;
	int err = 0;

	res->nr = 0;
	res->end = STACK_END_UNKNOWN;
	res->has_python = res->interp_break = false;
	res->unwound = res->stitched = false;
	res->dropped = 0;
	res->ur.nr = 0;
	res->user_from = 0;
	res->nr_kips = 0;
	st->pms_proc = NULL;		/* maps may have changed since */
	res->break_dso = NULL;

	res->thread = t;
	p = t->proc;
	kernel_mode = (ev->misc & PD_CPUMODE_MASK) == PD_MISC_KERNEL;

	if (attr && (attr->sample_type & PD_S_CALLCHAIN) && s->nr_callchain) {
		ctx = kernel_mode ? PD_CONTEXT_KERNEL : PD_CONTEXT_USER;
		for (i = 0; i < s->nr_callchain && !err; i++) {
			uint64_t ip = pd_u64(s->callchain, i);

			if (ip >= PD_CONTEXT_MAX) {
				if (ip == PD_CONTEXT_USER && !any_user)
					user_from = res->nr;
				ctx = ip;
				first = true;
				continue;
			}
			if (ctx == PD_CONTEXT_KERNEL) {
				err = push_kernel(res, ip);
			} else if (ctx == PD_CONTEXT_USER) {
				if (!any_user)
					user_from = res->nr;
				any_user = true;
				err = push_user(st, res, p, ip, !first);
			}
			first = false;
		}
		if (err)
			return err;
		if (any_user) {
			size_t cap = attr->sample_max_stack ?
				     attr->sample_max_stack : 127;

			finish_user(res, user_from,
				    s->nr_callchain >= cap);
		}
	} else if (attr && (attr->sample_type & PD_S_IP)) {
		if (kernel_mode) {
			err = push_kernel(res, s->ip);
		} else {
			user_from = res->nr;
			any_user = true;
			err = push_user(st, res, p, s->ip, false);
			/* a lone ip proves nothing about the stack */
			res->end = STACK_END_UNKNOWN;
		}
		if (err)
			return err;
		if (!st->unwinder || !s->user_abi || !s->user_stack_dyn_size)
			return 0;
		if (any_user) {
			/* unwinding replaces the lone user ip */
			res->nr = user_from;
			any_user = false;
		}
	}

	if (!any_user && st->unwinder && s->user_abi && s->user_stack_size) {
		err = unwinder_unwind(st->unwinder, p, attr, s,
				      proc_pymaps(st, p), &res->ur);
		fold_unwinder_warnings(st);
		if (err)
			return err;
		res->user_from = res->nr;
		for (i = 0; i < res->ur.nr && !err; i++)
			err = push_user(st, res, p, res->ur.ips[i], i > 0);
		if (err)
			return err;
		res->unwound = true;	/* classified by stacker_finish */
	} else if (!any_user && res->nr) {
		res->end = STACK_END_NO_USER;
	}
	return 0;
}

int stacker_finish(struct stacker *st, const struct pd_event *ev,
		   struct stack_result *res)
{
	struct unwind_result *ur = &res->ur;
	struct proc *p = res->thread->proc;
	size_t i;
	int err;

	for (i = 0; i < res->nr_kips; i++) {
		res->frames[res->kips[i].frame].name =
			kernel_name(st, res->kips[i].ip);
		if (!res->frames[res->kips[i].frame].name)
			return -PM_ENOMEM;
	}
	if (res->unwound) {
		size_t from = ur->nr;

		err = unwinder_stitch(st->unwinder, p, ev->sid.tid,
				      &ev->u.sample, ur);
		if (err)
			return err;
		/* the frames taken from an earlier sample of the thread */
		if (ur->stitched)
			from = ur->nr - ur->nr_stitched;
		for (i = from; i < ur->nr; i++) {
			err = push_user(st, res, p, ur->ips[i], true);
			if (err)
				return err;
		}
		res->stitched = ur->stitched;
		if (ur->nr) {
			finish_user(res, res->user_from, ur->truncated);
			/* The unwinder ending without truncation means the
			 * return address was undefined: the CFI says this is
			 * the outermost frame (ld.so's _start has no symbol
			 * on Debian, so the name check alone misses it). */
			if (!ur->truncated &&
			    res->end == STACK_END_TRUNCATED &&
			    !res->interp_break) {
				res->end = STACK_END_ROOT;
			}
		}
	}
	if (res->dropped)
		res->end = STACK_END_TRUNCATED;
	for (i = 0; i < res->nr; i++)
		if (res->frames[i].kind == FRAME_PYTHON)
			res->has_python = true;
	return 0;
}

int stacker_sample(struct stacker *st, const struct pd_event *ev,
		   struct thread *t, struct stack_result *res)
{
	int err = stacker_collect(st, ev, t, res);

	return err ? err : stacker_finish(st, ev, res);
}
