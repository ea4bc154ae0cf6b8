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
 *
 * Threads: lookups (session_thread_peek, session_proc, proc_find_map) only
 * read; several threads may run them while no one calls session_process()
 * or session_thread().
 */
#ifndef PM_SESSION_H
#define PM_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "perfdata.h"

struct map {
	uint64_t start, end;		/* [start, end) */
	uint64_t pgoff;
	const char *path;		/* interned; "//anon", "[stack]", ... */
	uint8_t build_id_size;		/* from MMAP2 with MMAP_BUILD_ID */
	uint8_t build_id[20];
	bool exec;			/* PROT_EXEC, or an MMAP record */
	bool kernel;			/* [kernel.kallsyms]_text, modules */
	bool file;			/* map_is_file(), computed at insert */
};

#define SESSION_PRIV_SLOTS 16	/* per-process state slots (proc->priv) */

struct proc {
	uint32_t pid;
	uint32_t ppid;			/* parent at fork, 0 if unknown */
	unsigned generation;		/* bumped when the PID is reused */
	const char *comm;		/* comm of the main thread */
	struct map *maps;		/* sorted by start, non-overlapping */
	size_t nr_maps, maps_alloc;
	bool exited;
	unsigned maps_gen;		/* bumped on every change of maps */
	unsigned code_gen;		/* bumped when executable maps change
					   (exec, a new or trimmed code map);
					   data maps do not count */
	void *priv[SESSION_PRIV_SLOTS];	/* per-process state of later stages
					   (one slot per unwinder); freed by
					   the session, session_priv_slot() */
};

struct thread {
	uint32_t pid, tid;
	const char *comm;
	struct proc *proc;
};

struct session;

struct session *session_new(void);
void session_free(struct session *s);		/* NULL accepted */

/* A slot of proc->priv[] for one user (an unwinder), with the hook that
 * frees what it keeps there (called when a proc is reused, exec's, or at
 * session_free). Returns the slot, or -PM_ELIMIT when all are taken. */
int session_priv_slot(struct session *s, void (*free_fn)(void *priv));

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

/* What session_thread() would return if that needs no change to the
 * session (the thread is known, in that process), else NULL. Reads only:
 * safe while other threads read the session. */
struct thread *session_thread_peek(struct session *s, uint32_t pid,
				   uint32_t tid);
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
