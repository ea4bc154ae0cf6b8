/*
 * session.h - processes, threads and their memory maps over time, built from
 * the ordered record stream (COMM, FORK, EXIT, MMAP, MMAP2).
 *
 * Ownership: the session owns every proc, thread and map. Pointers returned
 * by lookups stay valid until the next session_process() call that changes
 * that process (a map array may be reallocated by a new MMAP; a proc is
 * replaced when its PID is reused) or session_free(). Callers that need a
 * value across records copy it. Strings (paths, comms) are interned in the
 * session's arena and live until session_free().
 */
#ifndef PM_SESSION_H
#define PM_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "perfdata.h"

struct dso;

struct map {
	uint64_t start, end;		/* [start, end) */
	uint64_t pgoff;
	uint32_t prot, flags;		/* PROT_* / MAP_*; MMAP records: r-x */
	uint64_t ino;
	uint32_t maj, min;
	const char *path;		/* interned; "//anon", "[stack]", ... */
	uint8_t build_id_size;		/* from MMAP2 with MMAP_BUILD_ID */
	uint8_t build_id[20];
	bool exec;			/* PROT_EXEC, or an MMAP record */
	bool kernel;			/* [kernel.kallsyms]_text, modules */
	bool file;			/* map_is_file(), computed at insert */
	uint64_t time;			/* when it was mapped */
	struct dso *dso;		/* filled lazily by stack.c, owned by
					   struct symbols */
	uint8_t interp;			/* stack.c: 0 not known yet, 1 no,
					   2 the DSO is CPython's interpreter */
};

struct proc {
	uint32_t pid;
	uint32_t ppid;			/* parent at fork, 0 if unknown */
	unsigned generation;		/* bumped when the PID is reused */
	const char *comm;		/* comm of the main thread */
	const char *exe;		/* first exec'd ELF mapped (best guess) */
	struct map *maps;		/* sorted by start, non-overlapping */
	size_t nr_maps, maps_alloc;
	bool exited;
	unsigned maps_gen;		/* bumped on every change of maps */
	void *priv;			/* per-process state of later stages
					   (unwinder address space); freed by
					   the session via priv_free */
};

struct thread {
	uint32_t pid, tid;
	const char *comm;
	struct proc *proc;
	bool exited;
};

struct session;

struct session *session_new(void);
void session_free(struct session *s);		/* NULL accepted */

/* Release hook for proc->priv (called when a proc is dropped/reused/exec'd
 * or at session_free). */
void session_set_priv_free(struct session *s, void (*fn)(void *priv));

/*
 * Apply one record. COMM with exec clears the maps of that process; FORK of
 * a new process copies the parent's maps (threads share their process);
 * a FORK for a PID already seen replaces it (PID reuse); MMAP/MMAP2 insert
 * a map, trimming or splitting the maps it overlaps; kernel maps go to the
 * kernel address space. Other record types are ignored. Returns 0,
 * -PM_ENOMEM, or -PM_ELIMIT when the maps copied at FORK exceed the
 * session-wide cap (a crafted file).
 */
int session_process(struct session *s, const struct pd_event *ev);

/* Process and thread for a sample; created on first sight (a sample of an
 * unseen pid gets an empty process). NULL only on OOM. */
struct thread *session_thread(struct session *s, uint32_t pid, uint32_t tid);
struct proc *session_proc(struct session *s, uint32_t pid);	/* may be NULL */

/* Whether the map is backed by a regular file we can read code and symbols
 * from (not anonymous memory, a perf map's JIT area, memfd, [vdso], ...). */
static inline bool map_is_file(const struct map *m)
{
	return m->file;
}

/* Map containing addr in proc (user) or in the kernel space; NULL if none. */
struct map *proc_find_map(struct proc *p, uint64_t addr);
struct map *session_find_kernel_map(struct session *s, uint64_t addr);

#endif
