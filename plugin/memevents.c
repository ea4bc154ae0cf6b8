/*
 * memevents.c - the memory-event summary (see memevents.h).
 *
 * Syscalls (syscalls:sys_enter_X / sys_exit_X, CONFIG_FTRACE_SYSCALLS):
 * the enter record holds the arguments, the exit record "ret"; both are
 * samples of the same thread, so the enter is kept per tid until the exit.
 *   mmap:   len rounded up to pages is mapped when ret is not -errno.
 *   munmap: len is unmapped when ret == 0.
 *   mremap: new_len - old_len is mapped (or unmapped when negative).
 *   brk:    ret is the new break (the old one on failure); the change from
 *           the previous break of that process is mapped/unmapped. The
 *           first brk() of a process (glibc's brk(0)) sets the baseline.
 * Bytes are attributed to the exit sample's stack (the same user stack as
 * the enter), with the kernel frames at the leaf dropped.
 *
 * kmem:mm_page_alloc / mm_page_free: page_size << order bytes; pfn == -1 is
 * a failed allocation. kmem:rss_stat: "size" is the counter "member"
 * (0 file, 1 anon, 2 swap entries, 3 shmem) of mm "mm_id" in bytes; growth
 * is the increase over the last value seen for that mm and member, counted
 * against the current stack when "curr" says the mm is the task's own.
 *
 * DATA_SRC: union perf_mem_data_src (uapi perf_event.h), decoded into
 * operation, memory level, snoop, TLB and lock; 0x1e05080021 ("all NA", what
 * software events report) and 0 mean "no data source".
 */
#include "memevents.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "json.h"
#include "summary.h"

#define DATA_SRC_ALL_NA UINT64_C(0x1e05080021)
#define MAX_ORDER_BITS 20

struct pend {
	int sc;				/* -1: none */
	uint64_t a, b;
};

struct mm_rss {
	int64_t cur[4];
	bool seen[4];
};

struct memevents {
	bool expect_exit[SC_NR];
	uint64_t calls[SC_NR], failed[SC_NR], unpaired;
	uint64_t mapped[SC_NR], unmapped[SC_NR];
	struct idmap tids;
	struct pend *pend;
	size_t nr_pend, pend_alloc;
	struct idmap pids;		/* pid -> brk slot */
	uint64_t *brk;
	size_t nr_brk, brk_alloc;
	struct profile *p_mapped, *p_unmapped, *p_rss, *p_alloc;
	struct series t_mapped, t_unmapped, t_rss;
	uint64_t pa_n, pa_bytes, pa_failed, pf_n, pf_bytes;
	struct idmap mms;
	struct mm_rss *mm;
	size_t nr_mm, mm_alloc;
	uint64_t rss_events, rss_growth, rss_shrink;
	int64_t rss_peak;
	uint64_t ds_samples, ds_na;
	struct counts ds_op, ds_lvl, ds_snoop, ds_tlb, ds_lock;
};

static const char *const sc_names[SC_NR] = { "mmap", "munmap", "brk",
					      "mremap" };

struct memevents *memevents_new(void)
{
	struct memevents *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->p_mapped = profile_new();
	m->p_unmapped = profile_new();
	m->p_rss = profile_new();
	m->p_alloc = profile_new();
	if (!m->p_mapped || !m->p_unmapped || !m->p_rss || !m->p_alloc) {
		memevents_free(m);
		return NULL;
	}
	return m;
}

void memevents_free(struct memevents *m)
{
	if (!m)
		return;
	idmap_release(&m->tids);
	idmap_release(&m->pids);
	idmap_release(&m->mms);
	free(m->pend);
	free(m->brk);
	free(m->mm);
	profile_free(m->p_mapped);
	profile_free(m->p_unmapped);
	profile_free(m->p_rss);
	profile_free(m->p_alloc);
	series_release(&m->t_mapped);
	series_release(&m->t_unmapped);
	series_release(&m->t_rss);
	counts_release(&m->ds_op);
	counts_release(&m->ds_lvl);
	counts_release(&m->ds_snoop);
	counts_release(&m->ds_tlb);
	counts_release(&m->ds_lock);
	free(m);
}

void memevents_expect_exit(struct memevents *m, int sc)
{
	if (sc >= 0 && sc < SC_NR)
		m->expect_exit[sc] = true;
}

struct profile *memevents_profile(const struct memevents *m,
				  const char *name)
{
	if (!strcmp(name, "mmap-bytes"))
		return m->p_mapped;
	if (!strcmp(name, "munmap-bytes"))
		return m->p_unmapped;
	if (!strcmp(name, "rss-bytes"))
		return m->p_rss;
	if (!strcmp(name, "page-alloc-bytes"))
		return m->p_alloc;
	return NULL;
}

/* The stack without its kernel frames at the leaf end. */
static size_t user_part(const struct es_sample *s)
{
	size_t n = s->n;

	while (n > 0 && s->stack[n - 1].kind == FRAME_KERNEL)
		n--;
	return n;
}

static int account(struct memevents *m, const struct es_sample *s, int sc,
		   int64_t bytes)
{
	int err;

	if (bytes > 0) {
		m->mapped[sc] += (uint64_t)bytes;
		err = series_add(&m->t_mapped, s->sec, (uint64_t)bytes);
		if (!err)
			err = profile_add(m->p_mapped, s->stack, user_part(s),
					  (uint64_t)bytes);
	} else if (bytes < 0) {
		m->unmapped[sc] += (uint64_t)-bytes;
		err = series_add(&m->t_unmapped, s->sec, (uint64_t)-bytes);
		if (!err)
			err = profile_add(m->p_unmapped, s->stack,
					  user_part(s), (uint64_t)-bytes);
	} else {
		err = 0;
	}
	return err;
}

static uint64_t page_round(const struct es_ctx *c, uint64_t len)
{
	uint64_t ps = c->page_size ? c->page_size : 4096;

	if (len > UINT64_MAX - ps)
		return len;
	return (len + ps - 1) & ~(ps - 1);
}

/* Bytes an enter (or enter + exit) means; brk handled by the caller. */
static int64_t syscall_bytes(const struct es_ctx *c, int sc,
			     const struct pend *p)
{
	uint64_t a = page_round(c, p->a), b = page_round(c, p->b);

	switch (sc) {
	case SC_MMAP:
		return a > INT64_MAX ? 0 : (int64_t)a;
	case SC_MUNMAP:
		return a > INT64_MAX ? 0 : -(int64_t)a;
	case SC_MREMAP:
		if (a > INT64_MAX || b > INT64_MAX)
			return 0;
		return (int64_t)b - (int64_t)a;
	default:
		return 0;
	}
}

static int do_brk(struct memevents *m, const struct es_sample *s,
		  uint64_t ret)
{
	bool added;
	long slot = idmap_slot(&m->pids, s->ev->sid.pid, (void **)&m->brk,
			       &m->nr_brk, &m->brk_alloc, sizeof(*m->brk),
			       &added);
	int64_t d = 0;

	if (slot < 0)
		return -PM_ENOMEM;
	if (added) {
		m->brk[slot] = ret;
		return 0;
	}
	if (ret > m->brk[slot] && ret - m->brk[slot] <= INT64_MAX)
		d = (int64_t)(ret - m->brk[slot]);
	else if (ret < m->brk[slot] && m->brk[slot] - ret <= INT64_MAX)
		d = -(int64_t)(m->brk[slot] - ret);
	m->brk[slot] = ret;
	return account(m, s, SC_BRK, d);
}

static int sys_enter(struct memevents *m, const struct es_ctx *c,
		     const struct es_sample *s)
{
	int sc = s->ak->sub;
	struct pend p = { .sc = sc };
	bool added;
	long slot;

	m->calls[sc]++;
	if (!es_field(c, s, 0, &p.a))
		return 0;
	if (sc == SC_MREMAP && !es_field(c, s, 1, &p.b))
		return 0;
	if (!m->expect_exit[sc])
		return sc == SC_BRK ? 0 : account(m, s, sc,
						  syscall_bytes(c, sc, &p));
	slot = idmap_slot(&m->tids, s->ev->sid.tid, (void **)&m->pend,
			  &m->nr_pend, &m->pend_alloc, sizeof(*m->pend),
			  &added);
	if (slot < 0)
		return -PM_ENOMEM;
	if (!added && m->pend[slot].sc >= 0) {
		m->unpaired++;		/* an enter without its exit */
	}
	m->pend[slot] = p;
	return 0;
}

static int sys_exit(struct memevents *m, const struct es_ctx *c,
		    const struct es_sample *s)
{
	int sc = s->ak->sub;
	long slot = idmap_find(&m->tids, s->ev->sid.tid);
	struct pend p;
	uint64_t ret;

	if (!es_field(c, s, 0, &ret))
		return 0;
	if (sc == SC_BRK) {
		if (slot >= 0)
			m->pend[slot].sc = -1;
		return do_brk(m, s, ret);
	}
	if (slot < 0 || m->pend[slot].sc != sc) {
		m->unpaired++;		/* exit without enter (recording
					   started inside the call) */
		return 0;
	}
	p = m->pend[slot];
	m->pend[slot].sc = -1;
	if (ret >= (uint64_t)-4095) {	/* -errno */
		m->failed[sc]++;
		return 0;
	}
	if (sc == SC_MUNMAP && ret != 0)
		return 0;
	return account(m, s, sc, syscall_bytes(c, sc, &p));
}

static int page_event(struct memevents *m, const struct es_ctx *c,
		      const struct es_sample *s, bool alloc)
{
	uint64_t pfn, order, bytes;

	if (!es_field(c, s, 0, &pfn) || !es_field(c, s, 1, &order) ||
	    order > MAX_ORDER_BITS)
		return 0;
	bytes = (uint64_t)(c->page_size ? c->page_size : 4096) << order;
	if (!alloc) {
		m->pf_n++;
		m->pf_bytes += bytes;
		return 0;
	}
	m->pa_n++;
	if (pfn == UINT64_MAX || pfn == UINT32_MAX) {
		m->pa_failed++;
		return 0;
	}
	m->pa_bytes += bytes;
	return profile_add(m->p_alloc, s->stack, s->n, bytes);
}

static int rss_event(struct memevents *m, const struct es_ctx *c,
		     const struct es_sample *s)
{
	uint64_t mm_id, curr, member, size;
	struct mm_rss *r;
	int64_t d, sum;
	bool added;
	long slot;
	int err = 0;

	if (!es_field(c, s, 0, &mm_id) || !es_field(c, s, 1, &curr) ||
	    !es_field(c, s, 2, &member) || !es_field(c, s, 3, &size) ||
	    member >= 4 || member == 2 || (int64_t)size < 0)
		return 0;	/* swap entries are not resident */
	m->rss_events++;
	/* the whole mm_id: it is a kernel pointer, cutting it would merge
	 * address spaces */
	slot = idmap_slot(&m->mms, mm_id, (void **)&m->mm, &m->nr_mm,
			  &m->mm_alloc, sizeof(*m->mm), &added);
	if (slot < 0)
		return -PM_ENOMEM;
	r = &m->mm[slot];
	d = r->seen[member] ? (int64_t)size - r->cur[member] : 0;
	r->cur[member] = (int64_t)size;
	r->seen[member] = true;
	sum = r->cur[0] + r->cur[1] + r->cur[3];
	if (sum > m->rss_peak)
		m->rss_peak = sum;
	if (d > 0) {
		m->rss_growth += (uint64_t)d;
		err = series_add(&m->t_rss, s->sec, (uint64_t)d);
		if (!err && curr)
			err = profile_add(m->p_rss, s->stack, s->n,
					  (uint64_t)d);
	} else if (d < 0) {
		m->rss_shrink += (uint64_t)-d;
	}
	return err;
}

int memevents_sample(struct memevents *m, const struct es_ctx *c,
		     const struct es_sample *s)
{
	switch (s->ak->kind) {
	case AK_SYS_ENTER:
		return sys_enter(m, c, s);
	case AK_SYS_EXIT:
		return sys_exit(m, c, s);
	case AK_PAGE_ALLOC:
		return page_event(m, c, s, true);
	case AK_PAGE_FREE:
		return page_event(m, c, s, false);
	case AK_RSS:
		return rss_event(m, c, s);
	default:
		return 0;
	}
}

/* Names of the set bits of v (width bits) from names[], joined by '/'. */
static void bit_names(char *buf, size_t len, uint64_t v, unsigned width,
		      const char *const *names)
{
	unsigned i;
	size_t n = 0;

	buf[0] = '\0';
	for (i = 0; i < width && n < len; i++) {
		if (!(v & (UINT64_C(1) << i)) || !names[i])
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "/" : "",
				      names[i]);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

int memevents_data_src(struct memevents *m, const struct es_ctx *c,
		       const struct es_sample *s)
{
	static const char *const ops[] = { "NA", "load", "store", "prefetch",
					   "exec" };
	static const char *const lvls[] = { "NA", "hit", "miss", "L1", "LFB",
		"L2", "L3", "local RAM", "remote RAM (1 hop)",
		"remote RAM (2 hops)", "remote cache (1 hop)",
		"remote cache (2 hops)", "I/O", "uncached" };
	static const char *const lvlnum[16] = { NULL, "L1", "L2", "L3", "L4",
		NULL, NULL, NULL, NULL, "CXL", "I/O", "any cache", "LFB",
		"RAM", "PMEM", "NA" };
	static const char *const snoops[] = { "NA", "none", "hit", "miss",
					      "hitm" };
	static const char *const tlbs[] = { "NA", "hit", "miss", "L1", "L2",
					    "walker", "OS fault handler" };
	static const char *const locks[] = { "NA", "locked" };
	uint64_t d = s->ev->u.sample.data_src;
	char buf[160], extra[48];
	unsigned num = (unsigned)(d >> 33) & 0xf;
	int err;

	if (!d || d == DATA_SRC_ALL_NA) {
		m->ds_na++;
		return 0;
	}
	m->ds_samples++;
	bit_names(buf, sizeof(buf), d & 0x1f, 5, ops);
	err = counts_add(&m->ds_op, strtab_intern(c->names, buf), 1, 0);
	/* "L1 hit", "remote RAM miss": where, then hit/miss (mem_lvl bits
	 * 1-2); mem_lvl_num when set, else the mem_lvl location bits */
	bit_names(extra, sizeof(extra), (d >> 5) & 0x6, 3, lvls);
	if (num && lvlnum[num])
		snprintf(buf, sizeof(buf), "%s%s %s", (d >> 37) & 1 ?
			 "remote " : "", lvlnum[num], extra);
	else if ((d >> 5) & 0x3ff8) {
		char where[100];

		bit_names(where, sizeof(where), (d >> 5) & 0x3ff8, 14, lvls);
		snprintf(buf, sizeof(buf), "%s %s", where, extra);
	} else {
		bit_names(buf, sizeof(buf), (d >> 5) & 0x7, 3, lvls);
	}
	if (!err)
		err = counts_add(&m->ds_lvl, strtab_intern(c->names, buf), 1, 0);
	bit_names(buf, sizeof(buf), (d >> 19) & 0x1f, 5, snoops);
	if ((d >> 38) & 3)
		strncat(buf, (d >> 38) & 1 ? "/fwd" : "/peer",
			sizeof(buf) - strlen(buf) - 1);
	if (!err)
		err = counts_add(&m->ds_snoop, strtab_intern(c->names, buf), 1,
				 0);
	bit_names(buf, sizeof(buf), (d >> 26) & 0x7f, 7, tlbs);
	if (!err)
		err = counts_add(&m->ds_tlb, strtab_intern(c->names, buf), 1, 0);
	bit_names(buf, sizeof(buf), (d >> 24) & 0x3, 2, locks);
	if (!err)
		err = counts_add(&m->ds_lock, strtab_intern(c->names, buf), 1, 0);
	return err ? -PM_ENOMEM : 0;
}

static void counts_text(FILE *f, const char *title, const struct counts *c,
			uint64_t whole)
{
	struct count *v = counts_sorted(c);
	size_t i;

	if (!v || !c->n) {
		free(v);
		return;
	}
	fprintf(f, "  %s:", title);
	for (i = 0; i < c->n && i < 8; i++)
		fprintf(f, "%s %s %.1f%%", i ? "," : "", v[i].name,
			summary_pct(v[i].v, whole));
	fputc('\n', f);
	free(v);
}

void memevents_write_text(const struct memevents *m, FILE *f, unsigned top)
{
	char a[32], b[32];
	size_t i;
	uint64_t tm = 0, tu = 0;

	for (i = 0; i < SC_NR; i++) {
		tm += m->mapped[i];
		tu += m->unmapped[i];
	}
	if (m->calls[0] + m->calls[1] + m->calls[2] + m->calls[3]) {
		fmt_bytes(a, sizeof(a), tm);
		fmt_bytes(b, sizeof(b), tu);
		fprintf(f, "\nmemory syscalls: %s mapped, %s unmapped\n", a, b);
		for (i = 0; i < SC_NR; i++) {
			if (!m->calls[i])
				continue;
			fmt_bytes(a, sizeof(a), m->mapped[i]);
			fmt_bytes(b, sizeof(b), m->unmapped[i]);
			fprintf(f, "  %-7s %8llu calls, %llu failed, %s mapped, "
				"%s unmapped%s\n", sc_names[i],
				(unsigned long long)m->calls[i],
				(unsigned long long)m->failed[i], a, b,
				m->expect_exit[i] ? "" :
				" (no sys_exit event: requested sizes)");
		}
		if (m->unpaired)
			fprintf(f, "  %llu enter/exit records without their "
				"pair were not counted\n",
				(unsigned long long)m->unpaired);
		pytable_write_text(f, m->p_mapped, "bytes mapped by Python "
				   "function:", fmt_bytes, 0, top);
		pytable_write_text(f, m->p_unmapped, "bytes unmapped by Python "
				   "function:", fmt_bytes, 0, top);
		series_write_text(f, &m->t_mapped, "bytes mapped over time",
				  "bytes", 20);
	}
	if (m->pa_n || m->pf_n) {
		fmt_bytes(a, sizeof(a), m->pa_bytes);
		fmt_bytes(b, sizeof(b), m->pf_bytes);
		fprintf(f, "\nkernel page allocator: %llu allocations (%s, %llu "
			"failed), %llu frees (%s)\n",
			(unsigned long long)m->pa_n, a,
			(unsigned long long)m->pa_failed,
			(unsigned long long)m->pf_n, b);
		pytable_write_text(f, m->p_alloc, "pages allocated by Python "
				   "function:", fmt_bytes, 0, top);
	}
	if (m->rss_events) {
		fmt_bytes(a, sizeof(a), m->rss_growth);
		fmt_bytes(b, sizeof(b), m->rss_shrink);
		fprintf(f, "\nRSS (kmem:rss_stat, %llu events): grew %s, shrank "
			"%s, ", (unsigned long long)m->rss_events, a, b);
		fmt_bytes(a, sizeof(a), (uint64_t)m->rss_peak);
		fprintf(f, "peak %s\n", a);
		pytable_write_text(f, m->p_rss, "RSS growth by Python function:",
				   fmt_bytes, 0, top);
		series_write_text(f, &m->t_rss, "RSS growth over time", "bytes",
				  20);
	}
	if (m->ds_samples) {
		fprintf(f, "\ndata source (PERF_SAMPLE_DATA_SRC): %llu samples "
			"decoded, %llu without one\n",
			(unsigned long long)m->ds_samples,
			(unsigned long long)m->ds_na);
		counts_text(f, "operation", &m->ds_op, m->ds_samples);
		counts_text(f, "memory level", &m->ds_lvl, m->ds_samples);
		counts_text(f, "snoop", &m->ds_snoop, m->ds_samples);
		counts_text(f, "TLB", &m->ds_tlb, m->ds_samples);
		counts_text(f, "lock", &m->ds_lock, m->ds_samples);
	}
}

static void counts_json(FILE *f, const char *key, const struct counts *c)
{
	struct count *v = counts_sorted(c);
	size_t i;

	fprintf(f, ", \"%s\": {", key);
	for (i = 0; v && i < c->n; i++) {
		if (i)
			fputs(", ", f);
		json_key(f, v[i].name);
		fprintf(f, "%llu", (unsigned long long)v[i].v);
	}
	fputc('}', f);
	free(v);
}

void memevents_write_json(const struct memevents *m, FILE *f, unsigned top)
{
	size_t i;

	fputs("{\"syscalls\": {", f);
	for (i = 0; i < SC_NR; i++)
		fprintf(f, "%s\"%s\": {\"calls\": %llu, \"failed\": %llu, "
			"\"bytes_mapped\": %llu, \"bytes_unmapped\": %llu, "
			"\"paired_with_exit\": %s}", i ? ", " : "", sc_names[i],
			(unsigned long long)m->calls[i],
			(unsigned long long)m->failed[i],
			(unsigned long long)m->mapped[i],
			(unsigned long long)m->unmapped[i],
			m->expect_exit[i] ? "true" : "false");
	fprintf(f, "}, \"unpaired\": %llu", (unsigned long long)m->unpaired);
	fputs(", \"mapped_by_python_function\": ", f);
	pytable_write_json(f, m->p_mapped, top);
	fputs(", \"unmapped_by_python_function\": ", f);
	pytable_write_json(f, m->p_unmapped, top);
	fputs(", \"mapped_per_second\": ", f);
	series_write_json(f, &m->t_mapped);
	fputs(", \"unmapped_per_second\": ", f);
	series_write_json(f, &m->t_unmapped);
	fprintf(f, ", \"page_alloc\": {\"allocations\": %llu, \"bytes\": %llu, "
		"\"failed\": %llu, \"frees\": %llu, \"bytes_freed\": %llu, "
		"\"by_python_function\": ", (unsigned long long)m->pa_n,
		(unsigned long long)m->pa_bytes,
		(unsigned long long)m->pa_failed, (unsigned long long)m->pf_n,
		(unsigned long long)m->pf_bytes);
	pytable_write_json(f, m->p_alloc, top);
	fprintf(f, "}, \"rss\": {\"events\": %llu, \"growth\": %llu, "
		"\"shrink\": %llu, \"peak\": %lld, \"growth_by_python_function\": ",
		(unsigned long long)m->rss_events,
		(unsigned long long)m->rss_growth,
		(unsigned long long)m->rss_shrink, (long long)m->rss_peak);
	pytable_write_json(f, m->p_rss, top);
	fputs(", \"growth_per_second\": ", f);
	series_write_json(f, &m->t_rss);
	fprintf(f, "}, \"data_src\": {\"samples\": %llu, \"not_available\": "
		"%llu", (unsigned long long)m->ds_samples,
		(unsigned long long)m->ds_na);
	counts_json(f, "operation", &m->ds_op);
	counts_json(f, "level", &m->ds_lvl);
	counts_json(f, "snoop", &m->ds_snoop);
	counts_json(f, "tlb", &m->ds_tlb);
	counts_json(f, "lock", &m->ds_lock);
	fputs("}}", f);
}
