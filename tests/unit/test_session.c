/* test_session.c - processes, threads and maps over time. Events are built
 * as struct pd_event values (the reader's output), not bytes. */
#include <stdlib.h>

#include "check.h"
#include "session.h"

static struct pd_event mmap2(uint32_t pid, uint64_t start, uint64_t len,
			     uint64_t pgoff, uint32_t prot, const char *path)
{
	struct pd_event ev = {0};

	ev.type = PD_MMAP2;
	ev.misc = PD_MISC_USER;
	ev.u.mmap.pid = ev.u.mmap.tid = pid;
	ev.u.mmap.start = start;
	ev.u.mmap.len = len;
	ev.u.mmap.pgoff = pgoff;
	ev.u.mmap.prot = prot;
	ev.u.mmap.filename = path;
	return ev;
}

static struct pd_event task(uint32_t type, uint32_t pid, uint32_t ppid,
			    uint32_t tid, uint32_t ptid)
{
	struct pd_event ev = {0};

	ev.type = type;
	ev.u.fork.pid = pid;
	ev.u.fork.ppid = ppid;
	ev.u.fork.tid = tid;
	ev.u.fork.ptid = ptid;
	return ev;
}

static struct pd_event comm(uint32_t pid, uint32_t tid, const char *name,
			    bool exec)
{
	struct pd_event ev = {0};

	ev.type = PD_COMM;
	ev.u.comm.pid = pid;
	ev.u.comm.tid = tid;
	ev.u.comm.comm = name;
	ev.u.comm.exec = exec;
	return ev;
}

int main(void)
{
	struct session *s = session_new();
	struct pd_event ev;
	struct proc *p, *child, *old;
	struct thread *t;
	struct map *m;

	CHECK(s != NULL);
	ev = comm(100, 100, "python3", false);
	CHECK(session_process(s, &ev) == 0);
	ev = mmap2(100, 0x400000, 0x3000, 0, 5, "/usr/bin/python3");
	CHECK(session_process(s, &ev) == 0);
	ev = mmap2(100, 0x7f0000000000, 0x10000, 0x2000, 5, "/lib/libc.so.6");
	CHECK(session_process(s, &ev) == 0);
	p = session_proc(s, 100);
	CHECK(p && p->nr_maps == 2);
	m = proc_find_map(p, 0x401234);
	CHECK(m && !strcmp(m->path, "/usr/bin/python3") && m->exec);
	CHECK(proc_find_map(p, 0x403000) == NULL);	/* end is exclusive */
	CHECK(proc_find_map(p, 0x3fffff) == NULL);
	CHECK_STR(p->comm, "python3");

	/* an mmap in the middle of libc splits it in three */
	ev = mmap2(100, 0x7f0000004000, 0x1000, 0, 3, "//anon");
	CHECK(session_process(s, &ev) == 0);
	CHECK(p->nr_maps == 4);
	m = proc_find_map(p, 0x7f0000005000);
	CHECK(m && !strcmp(m->path, "/lib/libc.so.6"));
	CHECK(m && m->start == 0x7f0000005000 && m->pgoff == 0x2000 + 0x5000);
	m = proc_find_map(p, 0x7f0000004800);
	CHECK(m && !strcmp(m->path, "//anon") && !m->exec);
	/* an mmap covering several maps replaces them */
	ev = mmap2(100, 0x7f0000000000, 0x20000, 0, 5, "/lib/other.so");
	CHECK(session_process(s, &ev) == 0);
	CHECK(p->nr_maps == 2);
	m = proc_find_map(p, 0x7f0000004800);
	CHECK(m && !strcmp(m->path, "/lib/other.so"));

	/* a thread shares the process; a forked process copies the maps */
	ev = task(PD_FORK, 100, 100, 101, 100);
	CHECK(session_process(s, &ev) == 0);
	t = session_thread(s, 100, 101);
	CHECK(t && t->proc == p);
	ev = task(PD_FORK, 200, 100, 200, 100);
	CHECK(session_process(s, &ev) == 0);
	child = session_proc(s, 200);
	CHECK(child && child != p && child->nr_maps == 2 && child->ppid == 100);
	CHECK(proc_find_map(child, 0x401000) != NULL);
	CHECK_STR(child->comm, "python3");
	/* the child's new map does not show in the parent */
	ev = mmap2(200, 0x500000, 0x1000, 0, 5, "/usr/lib/x.so");
	CHECK(session_process(s, &ev) == 0);
	CHECK(proc_find_map(child, 0x500000) && !proc_find_map(p, 0x500000));

	/* exec clears the maps */
	ev = comm(200, 200, "ls", true);
	CHECK(session_process(s, &ev) == 0);
	CHECK(child->nr_maps == 0);
	CHECK_STR(child->comm, "ls");

	/* PID reuse: exit then a new fork of the same pid gives a new proc */
	ev = task(PD_EXIT, 200, 100, 200, 100);
	CHECK(session_process(s, &ev) == 0);
	old = child;
	ev = task(PD_FORK, 200, 100, 200, 100);
	CHECK(session_process(s, &ev) == 0);
	child = session_proc(s, 200);
	CHECK(child != old && child->generation == old->generation + 1);
	CHECK(child->nr_maps == p->nr_maps);

	/* kernel maps live apart */
	ev = mmap2(-1, 0xffffffff81000000ull, 0x1000000, 0, 5,
		   "[kernel.kallsyms]_text");
	ev.type = PD_MMAP;
	ev.misc = PD_MISC_KERNEL;
	CHECK(session_process(s, &ev) == 0);
	CHECK(session_find_kernel_map(s, 0xffffffff81234567ull) != NULL);
	CHECK(proc_find_map(p, 0xffffffff81234567ull) == NULL);

	/* a sample from an unseen pid gets an empty process */
	t = session_thread(s, 999, 1000);
	CHECK(t && t->proc && t->proc->pid == 999 && t->proc->nr_maps == 0);
	session_free(s);
	return check_done();
}
