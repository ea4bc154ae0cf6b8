/*
 * session.c - processes, threads and maps over time.
 *
 * Processes and threads live in open-addressing hash tables keyed by pid /
 * tid. A process's maps are a sorted, non-overlapping array; inserting a
 * map trims or splits what it overlaps (mmap over an existing range
 * replaces it, as the kernel does).
 */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strtab.h"

#define MAX_MAPS (1u << 22)		/* per process */
#define MAX_TOTAL_MAPS (1u << 21)	/* copied at FORK, all processes:
					   ~250 MiB; bounds a file of forks */
#define MAX_TASKS (1u << 24)

struct session {
	struct strtab *strings;		/* interned paths and comms */
	struct proc **procs;		/* every proc ever created, in order */
	size_t nr_procs, procs_alloc;
	struct proc **proc_tab;		/* hash by pid -> current proc */
	size_t proc_tab_size, proc_tab_used;
	struct thread **thr_tab;	/* hash by tid -> current thread */
	size_t thr_tab_size, thr_tab_used;
	struct proc kernel;		/* kernel maps (pid -1) */
	void (*priv_free[SESSION_PRIV_SLOTS])(void *);
	size_t nr_priv;
	size_t copied_maps;		/* maps copied at FORK so far */
};

static uint64_t hash_u32(uint32_t v)
{
	uint64_t h = v * 0x9E3779B97F4A7C15ull;

	return h ^ (h >> 29);
}

struct session *session_new(void)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->strings = strtab_new();
	if (!s->strings) {
		free(s);
		return NULL;
	}
	s->kernel.pid = (uint32_t)-1;
	return s;
}

static void proc_release_priv(struct session *s, struct proc *p)
{
	size_t i;

	for (i = 0; i < s->nr_priv; i++) {
		if (p->priv[i] && s->priv_free[i])
			s->priv_free[i](p->priv[i]);
		p->priv[i] = NULL;
	}
}

void session_free(struct session *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nr_procs; i++) {
		proc_release_priv(s, s->procs[i]);
		free(s->procs[i]->maps);
		free(s->procs[i]);
	}
	for (i = 0; i < s->thr_tab_size; i++)
		free(s->thr_tab[i]);
	free(s->kernel.maps);
	free(s->procs);
	free(s->proc_tab);
	free(s->thr_tab);
	strtab_free(s->strings);
	free(s);
}

int session_priv_slot(struct session *s, void (*free_fn)(void *priv))
{
	if (s->nr_priv == SESSION_PRIV_SLOTS)
		return -PM_ELIMIT;
	s->priv_free[s->nr_priv] = free_fn;
	return (int)s->nr_priv++;
}

/* Generic open-addressing table of pointers keyed by a u32 read via key(). */
static void **tab_slot(void **tab, size_t size, uint32_t k,
		       uint32_t (*key)(const void *))
{
	size_t mask = size - 1, i;

	for (i = hash_u32(k) & mask; tab[i]; i = (i + 1) & mask)
		if (key(tab[i]) == k)
			return &tab[i];
	return &tab[i];
}

static int tab_grow(void ***tab, size_t *size, size_t used,
		    uint32_t (*key)(const void *))
{
	size_t nsize, i;
	void **nt;

	if ((used + 1) * 2 < *size)
		return 0;
	nsize = *size ? *size * 2 : 64;
	if (nsize > MAX_TASKS * 2)
		return -PM_ELIMIT;
	nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -PM_ENOMEM;
	for (i = 0; i < *size; i++)
		if ((*tab)[i])
			*tab_slot(nt, nsize, key((*tab)[i]), key) = (*tab)[i];
	free(*tab);
	*tab = nt;
	*size = nsize;
	return 0;
}

static uint32_t proc_key(const void *p)
{
	return ((const struct proc *)p)->pid;
}

static uint32_t thread_key(const void *t)
{
	return ((const struct thread *)t)->tid;
}

struct proc *session_proc(struct session *s, uint32_t pid)
{
	if (!s->proc_tab_size)
		return NULL;
	return *(struct proc **)tab_slot((void **)s->proc_tab,
					 s->proc_tab_size, pid, proc_key);
}

/* Create a new proc for pid, replacing (not freeing: samples may still
 * refer to it through threads) any current one. */
static struct proc *proc_create(struct session *s, uint32_t pid)
{
	struct proc *p, *old, **slot;

	if (tab_grow((void ***)&s->proc_tab, &s->proc_tab_size,
		     s->proc_tab_used, proc_key) < 0)
		return NULL;
	if (grow_array((void **)&s->procs, &s->procs_alloc, s->nr_procs + 1,
		       sizeof(*s->procs), MAX_TASKS) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	slot = (struct proc **)tab_slot((void **)s->proc_tab, s->proc_tab_size,
					pid, proc_key);
	old = *slot;
	if (old) {
		p->generation = old->generation + 1;
		old->exited = true;
		proc_release_priv(s, old);
	} else {
		s->proc_tab_used++;
	}
	*slot = p;
	s->procs[s->nr_procs++] = p;
	return p;
}

static struct thread *thread_lookup(struct session *s, uint32_t tid)
{
	if (!s->thr_tab_size)
		return NULL;
	return *(struct thread **)tab_slot((void **)s->thr_tab,
					   s->thr_tab_size, tid, thread_key);
}

/* Make (pid, tid) a thread of proc p (creating or re-parenting it). */
static struct thread *thread_set(struct session *s, uint32_t tid,
				 struct proc *p)
{
	struct thread **slot, *t;

	if (tab_grow((void ***)&s->thr_tab, &s->thr_tab_size, s->thr_tab_used,
		     thread_key) < 0)
		return NULL;
	slot = (struct thread **)tab_slot((void **)s->thr_tab, s->thr_tab_size,
					  tid, thread_key);
	t = *slot;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->tid = tid;
		*slot = t;
		s->thr_tab_used++;
	}
	if (t->proc != p)
		t->comm = NULL;		/* a reused tid: forget the old name */
	t->pid = p->pid;
	t->proc = p;
	if (!t->comm)
		t->comm = p->comm;
	return t;
}

struct thread *session_thread_peek(struct session *s, uint32_t pid,
				   uint32_t tid)
{
	struct thread *t = thread_lookup(s, tid);

	if (t && t->pid == pid && t->proc && !t->proc->exited)
		return t;
	if (t && t->pid == pid && t->proc &&
	    t->proc == session_proc(s, pid))
		return t;
	return NULL;
}

struct thread *session_thread(struct session *s, uint32_t pid, uint32_t tid)
{
	struct thread *t = session_thread_peek(s, pid, tid);
	struct proc *p;

	if (t)
		return t;
	p = session_proc(s, pid);
	if (!p) {
		p = proc_create(s, pid);
		if (!p)
			return NULL;
	}
	return thread_set(s, tid, p);
}

/* ---- maps ---- */

static size_t map_search(const struct proc *p, uint64_t addr)
{
	/* index of the first map with start > addr */
	size_t lo = 0, hi = p->nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct map *proc_find_map(struct proc *p, uint64_t addr)
{
	size_t i;

	if (!p || !p->nr_maps)
		return NULL;
	i = map_search(p, addr);
	if (i == 0)
		return NULL;
	if (addr < p->maps[i - 1].end)
		return &p->maps[i - 1];
	return NULL;
}

static bool path_is_file(const char *path)
{
	static const char *const not_files[] = {
		"/tmp/perf-", "/memfd:", "/dev/zero", "/anon_hugepage",
		"//anon", "/SYSV", NULL
	};
	const char *const *n;

	if (!path || path[0] != '/')
		return false;
	for (n = not_files; *n; n++)
		if (strncmp(path, *n, strlen(*n)) == 0)
			return false;
	return true;
}

struct map *session_find_kernel_map(struct session *s, uint64_t addr)
{
	return proc_find_map(&s->kernel, addr);
}

/* Insert m into p, cutting overlapped parts of existing maps. */
static int proc_insert_map(struct proc *p, const struct map *m)
{
	size_t i, j, n;
	struct map tail;
	bool split = false, code = m->exec;
	int err;

	if (m->end <= m->start)
		return 0;
	/* worst case: one map split in two, plus the new one */
	err = grow_array((void **)&p->maps, &p->maps_alloc, p->nr_maps + 2,
			 sizeof(*p->maps), MAX_MAPS);
	if (err)
		return err;
	i = map_search(p, m->start);
	if (i > 0 && p->maps[i - 1].end > m->start) {
		struct map *prev = &p->maps[i - 1];

		code |= prev->exec;
		if (prev->end > m->end) {
			tail = *prev;
			tail.pgoff += m->end - prev->start;
			tail.start = m->end;
			split = true;
		}
		prev->end = m->start;
		if (prev->end == prev->start) {
			memmove(prev, prev + 1,
				(p->nr_maps - i) * sizeof(*prev));
			p->nr_maps--;
			i--;
		}
	}
	/* maps starting inside [m->start, m->end) */
	j = i;
	while (j < p->nr_maps && p->maps[j].start < m->end) {
		struct map *q = &p->maps[j];

		code |= q->exec;
		if (q->end > m->end) {
			q->pgoff += m->end - q->start;
			q->start = m->end;
			break;
		}
		j++;
	}
	n = j - i;	/* fully covered maps to drop */
	if (n != 1 || split) {
		size_t add = 1 + (split ? 1 : 0);

		memmove(&p->maps[i + add], &p->maps[j],
			(p->nr_maps - j) * sizeof(*p->maps));
		p->nr_maps = p->nr_maps - n + add;
	}
	p->maps[i] = *m;
	if (split)
		p->maps[i + 1] = tail;
	p->maps_gen++;
	if (code)
		p->code_gen++;
	return 0;
}

static void proc_clear_maps(struct session *s, struct proc *p)
{
	p->nr_maps = 0;
	p->maps_gen++;
	p->code_gen++;
	proc_release_priv(s, p);
}

static int process_mmap(struct session *s, const struct pd_event *ev)
{
	struct map m = {0};
	struct thread *t;
	bool kernel = (ev->misc & PD_CPUMODE_MASK) == PD_MISC_KERNEL ||
		      (ev->misc & PD_CPUMODE_MASK) == PD_MISC_GUEST_KERNEL;
	const char *path;

	if (ev->u.mmap.len == 0 || ev->u.mmap.start + ev->u.mmap.len <
	    ev->u.mmap.start)
		return 0;
	m.start = ev->u.mmap.start;
	m.end = ev->u.mmap.start + ev->u.mmap.len;
	m.pgoff = ev->u.mmap.pgoff;
	if (ev->type == PD_MMAP2)
		m.exec = (ev->u.mmap.prot & 4) != 0;	/* PROT_EXEC */
	else	/* MMAP records are only emitted for executable maps unless
		 * they carry MMAP_DATA */
		m.exec = !(ev->misc & PD_MISC_MMAP_DATA);
	if (ev->misc & PD_MISC_MMAP_BUILD_ID && ev->type == PD_MMAP2) {
		m.build_id_size = ev->u.mmap.build_id_size > 20 ?
				  20 : ev->u.mmap.build_id_size;
		memcpy(m.build_id, ev->u.mmap.build_id, m.build_id_size);
	}
	path = strtab_intern(s->strings, ev->u.mmap.filename ? ev->u.mmap.filename : "");
	if (!path)
		return -PM_ENOMEM;
	m.path = path;
	m.file = path_is_file(path);
	if (kernel) {
		m.kernel = true;
		/* perf synthesizes the kernel map with len up to ~0 and pgoff
		 * = _text: keep it as given. */
		return proc_insert_map(&s->kernel, &m);
	}
	t = session_thread(s, ev->u.mmap.pid, ev->u.mmap.tid);
	if (!t)
		return -PM_ENOMEM;
	return proc_insert_map(t->proc, &m);
}

static int process_comm(struct session *s, const struct pd_event *ev)
{
	struct thread *t;
	const char *comm = strtab_intern(s->strings, ev->u.comm.comm ? ev->u.comm.comm : "");

	if (!comm)
		return -PM_ENOMEM;
	t = session_thread(s, ev->u.comm.pid, ev->u.comm.tid);
	if (!t)
		return -PM_ENOMEM;
	t->comm = comm;
	if (ev->u.comm.pid == ev->u.comm.tid)
		t->proc->comm = comm;
	if (ev->u.comm.exec) {
		proc_clear_maps(s, t->proc);
		/* a new program: its parent's perf map no longer applies */
		t->proc->ppid = 0;
	}
	return 0;
}

static int process_fork(struct session *s, const struct pd_event *ev)
{
	uint32_t pid = ev->u.fork.pid, ppid = ev->u.fork.ppid;
	struct thread *parent, *t;
	struct proc *p, *pp;

	parent = session_thread(s, ppid, ev->u.fork.ptid);
	if (!parent)
		return -PM_ENOMEM;
	if (pid == ppid) {
		/* a new thread of an existing process */
		t = thread_set(s, ev->u.fork.tid, parent->proc);
		if (!t)
			return -PM_ENOMEM;
		t->comm = parent->comm;
		return 0;
	}
	pp = parent->proc;
	p = proc_create(s, pid);	/* replaces a reused PID */
	if (!p)
		return -PM_ENOMEM;
	p->ppid = ppid;
	p->comm = parent->comm;
	if (pp->nr_maps) {
		/* A crafted file of many maps and many forks would otherwise
		 * make memory grow as maps x forks. */
		if (pp->nr_maps > MAX_TOTAL_MAPS - s->copied_maps)
			return -PM_ELIMIT;
		s->copied_maps += pp->nr_maps;
		p->maps = malloc(pp->nr_maps * sizeof(*p->maps));
		if (!p->maps)
			return -PM_ENOMEM;
		memcpy(p->maps, pp->maps, pp->nr_maps * sizeof(*p->maps));
		p->nr_maps = p->maps_alloc = pp->nr_maps;
	}
	t = thread_set(s, ev->u.fork.tid, p);
	if (!t)
		return -PM_ENOMEM;
	t->comm = parent->comm;
	return 0;
}

static int process_exit(struct session *s, const struct pd_event *ev)
{
	struct thread *t = thread_lookup(s, ev->u.fork.tid);

	if (t && t->pid == ev->u.fork.pid && ev->u.fork.pid == ev->u.fork.tid &&
	    t->proc)
		t->proc->exited = true;
	return 0;
}

int session_process(struct session *s, const struct pd_event *ev)
{
	switch (ev->type) {
	case PD_MMAP:
	case PD_MMAP2:
		return process_mmap(s, ev);
	case PD_COMM:
		return process_comm(s, ev);
	case PD_FORK:
		return process_fork(s, ev);
	case PD_EXIT:
		return process_exit(s, ev);
	default:
		return 0;
	}
}
