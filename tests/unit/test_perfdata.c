/*
 * test_perfdata.c - the perf.data reader on inline fixtures built with
 * pdbuild.h (file and pipe mode, every sample field, sample_id trailers,
 * FINISHED_ROUND ordering, zstd records straddling two COMPRESSED records,
 * stdin streams) and on the committed real recordings in tests/data/.
 * Malformed input is in test_perfdata_bad.c.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "check.h"
#include "pdbuild.h"
#include "perfdata.h"

#define MAXEV 64

struct got {
	size_t n;
	int rc;
	char msg[512];
	struct {
		uint32_t type;
		uint64_t time, off, period, ip;
		bool has_time;
		const char *attr;
	} ev[MAXEV];
};

static void drain(struct perfdata *pd, struct got *g)
{
	struct pd_event ev;
	struct pm_error err;

	memset(g, 0, sizeof(*g));
	while ((g->rc = perfdata_next(pd, &ev, &err)) > 0) {
		if (g->n < MAXEV) {
			g->ev[g->n].type = ev.type;
			g->ev[g->n].time = ev.sid.time;
			g->ev[g->n].has_time = ev.sid.has_time;
			g->ev[g->n].off = ev.offset;
			g->ev[g->n].attr = ev.attr ? ev.attr->name : NULL;
			if (ev.type == PD_SAMPLE) {
				g->ev[g->n].period = ev.u.sample.period;
				g->ev[g->n].ip = ev.u.sample.ip;
			}
		}
		g->n++;
	}
	if (g->rc < 0)
		snprintf(g->msg, sizeof(g->msg), "%s", err.msg);
}

static void check_minimal(struct perfdata *pd)
{
	const struct pd_info *in = perfdata_info(pd);
	const struct pd_attr *a;
	struct pd_event ev;
	struct pm_error err;

	CHECK(!in->pipe && !in->compressed);
	CHECK_STR(in->hostname, "testhost");
	CHECK_STR(in->osrelease, "6.1.0-test");
	CHECK_STR(in->perf_version, "6.1.187");
	CHECK_STR(in->arch, "x86_64");
	CHECK_STR(in->cpudesc, "Test CPU");
	CHECK_STR(in->cmdline, "perf record -g");
	CHECK(in->nr_cpus_avail == 4 && in->nr_cpus_online == 2);
	CHECK(in->first_sample_time == 120 && in->last_sample_time == 120);
	CHECK(in->tracing_size == 14 && in->tracing_data &&
	      memcmp(in->tracing_data, "\x17\x08\x44tracing", 10) == 0);
	CHECK(in->nr_build_ids == 1 && in->build_ids[0].size == 20 &&
	      in->build_ids[0].id[19] == 0xa0 + 19 &&
	      in->build_ids[0].misc == PD_MISC_USER &&
	      in->build_ids[0].pid == -1);
	CHECK_STR(in->build_ids[0].filename, "/usr/bin/python3");
	CHECK(in->feature_mask[0] >> 21 & 1);
	CHECK(perfdata_nr_attrs(pd) == 1);
	a = perfdata_attr(pd, 0);
	CHECK_STR(a->name, "page-faults");	/* modifiers dropped */
	CHECK_STR(a->full_name, "page-faults:u");
	CHECK(a->sample_id_all && a->nr_ids == 1 && a->ids[0] == 5);
	CHECK(a->sample_type == ST_PF && a->type == 1 && a->config == 2);
	CHECK(perfdata_attr(pd, 1) == NULL);

	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_COMM);
	CHECK_STR(ev.u.comm.comm, "python3");
	CHECK(ev.u.comm.exec && ev.u.comm.pid == 42 && ev.sid.time == 100);
	CHECK(ev.attr == a && ev.size == 40 && ev.data && ev.offset > 104);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_MMAP2);
	CHECK_STR(ev.u.mmap.filename, "/usr/bin/python3");
	CHECK(ev.u.mmap.start == 0x400000 && ev.u.mmap.len == 0x1000 &&
	      ev.u.mmap.maj == 8 && ev.u.mmap.min == 1 &&
	      ev.u.mmap.ino == 77 && ev.u.mmap.ino_generation == 3 &&
	      ev.u.mmap.prot == 5 && ev.u.mmap.flags == 2 &&
	      ev.sid.time == 110 && ev.sid.pid == 42);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_SAMPLE);
	CHECK(ev.u.sample.ip == 0x400123 && ev.u.sample.period == 7 &&
	      ev.sid.tid == 42 && ev.sid.time == 120 && ev.sid.has_time);
	CHECK(perfdata_next(pd, &ev, &err) == 0);
	CHECK(perfdata_next(pd, &ev, &err) == 0);
	CHECK(perfdata_stats(pd)->records[PD_SAMPLE] == 1);
	CHECK(perfdata_stats(pd)->records[PD_FINISHED_ROUND] == 1);
	CHECK(perfdata_stats(pd)->samples_per_attr[0] == 1);
	CHECK(perfdata_warning(pd) == NULL);
}

static void test_minimal(void)
{
	char path[] = "/tmp/test_perfdata_XXXXXX";
	struct pm_error err;
	struct perfdata *pd;
	struct buf f;
	int fd;

	minimal_file(&f);
	pd = perfdata_open_mem(f.p, f.len, "mem", &err);
	CHECK(pd != NULL);
	if (pd)
		check_minimal(pd);
	perfdata_free(pd);

	/* The same through perfdata_open (mmap), and perf's ownership rule. */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, f.p, f.len) == (ssize_t)f.len);
	close(fd);
	pd = perfdata_open(path, false, &err);
	CHECK(pd != NULL);
	if (pd)
		check_minimal(pd);
	perfdata_free(pd);
	if (geteuid() == 0 && chown(path, 12345, 12345) == 0) {
		pd = perfdata_open(path, false, &err);
		CHECK(!pd && err.code == -PM_EPERM &&
		      strstr(err.msg, "not owned by current user or root"));
		pd = perfdata_open(path, true, &err);
		CHECK(pd != NULL);
		perfdata_free(pd);
	}
	unlink(path);
	pd = perfdata_open("/nonexistent/perf.data", false, &err);
	CHECK(!pd && err.code == -PM_ENOTFOUND && err.msg[0]);
	buf_free(&f);
}

/* Every sample field, in wire order (evsel__parse_sample). */
static void test_sample_fields(void)
{
	struct tattr a = {
		.type = 1, .config = 0, .flags = TA_SAMPLE_ID_ALL,
		.sample_type = PD_S_IDENTIFIER | PD_S_IP | PD_S_TID |
			PD_S_TIME | PD_S_ADDR | PD_S_READ | PD_S_CALLCHAIN |
			PD_S_ID | PD_S_CPU | PD_S_PERIOD | PD_S_STREAM_ID |
			PD_S_RAW | PD_S_BRANCH_STACK | PD_S_REGS_USER |
			PD_S_STACK_USER | PD_S_WEIGHT_STRUCT |
			PD_S_DATA_SRC | PD_S_TRANSACTION | PD_S_REGS_INTR |
			PD_S_PHYS_ADDR | PD_S_AUX | PD_S_CGROUP |
			PD_S_DATA_PAGE_SIZE | PD_S_CODE_PAGE_SIZE,
		.read_format = 0x1f,	/* TE|TR|ID|GROUP|LOST */
		.branch_sample_type = 1ULL << 17,	/* HW_INDEX */
		.regs_user = 0x1c0,	/* BP, SP, IP */
		.regs_intr = 0x3, .stack_user = 64,
		.ids = { 9 }, .nr_ids = 1,
	};
	struct buf d = { 0 }, f;
	struct pm_error err;
	struct perfdata *pd;
	struct pd_event ev;
	const struct pd_sample *s = &ev.u.sample;
	uint64_t v = 0;
	size_t at, i;

	at = rec_begin(&d, PD_SAMPLE, PD_MISC_USER);
	put64(&d, 9);				/* IDENTIFIER */
	put64(&d, 0x1111);			/* IP */
	put32(&d, 10), put32(&d, 11);		/* TID */
	put64(&d, 1000);			/* TIME */
	put64(&d, 0xadd);			/* ADDR */
	put64(&d, 9);				/* ID */
	put64(&d, 99);				/* STREAM_ID */
	put32(&d, 3), put32(&d, 0);		/* CPU */
	put64(&d, 5);				/* PERIOD */
	put64(&d, 2), put64(&d, 100), put64(&d, 90);	/* READ group */
	put64(&d, 1), put64(&d, 9), put64(&d, 0);
	put64(&d, 2), put64(&d, 10), put64(&d, 1);
	put64(&d, 3);				/* CALLCHAIN */
	put64(&d, PD_CONTEXT_KERNEL), put64(&d, 0xffffffff81000000ULL);
	put64(&d, 0xffffffff81000100ULL);
	put32(&d, 12), put(&d, "raw-payload", 12);	/* RAW */
	put64(&d, 1), put64(&d, 7);		/* BRANCH nr, hw_idx */
	put64(&d, 0xa), put64(&d, 0xb), put64(&d, 1);
	put64(&d, 2);				/* REGS_USER abi 64 */
	put64(&d, 0xb0), put64(&d, 0x5000), put64(&d, 0x1111);
	put64(&d, 64);				/* STACK_USER size */
	for (i = 0; i < 64; i++)
		put8(&d, (uint8_t)i);
	put64(&d, 48);				/* dyn_size */
	put64(&d, 44ULL << 32 | 33);		/* WEIGHT_STRUCT */
	put64(&d, 0x1e05080021ULL);		/* DATA_SRC */
	put64(&d, 5);				/* TRANSACTION */
	put64(&d, 2), put64(&d, 0x77), put64(&d, 0x88);	/* REGS_INTR */
	put64(&d, 0x9000);			/* PHYS_ADDR */
	put64(&d, 77);				/* CGROUP */
	put64(&d, 4096);			/* DATA_PAGE_SIZE */
	put64(&d, 2 << 20);			/* CODE_PAGE_SIZE */
	put64(&d, 8), put64(&d, 0x4142434445464748ULL);	/* AUX */
	rec_end(&d, at);
	build_file(&f, &a, 1, &d, NULL, 0);
	pd = perfdata_open_mem(f.p, f.len, "fields", &err);
	CHECK(pd && perfdata_next(pd, &ev, &err) == 1);
	if (!pd)
		goto out;
	CHECK(ev.type == PD_SAMPLE && ev.sid.id == 9 && s->ip == 0x1111);
	CHECK(ev.sid.pid == 10 && ev.sid.tid == 11 && ev.sid.time == 1000);
	CHECK(s->addr == 0xadd && ev.sid.stream_id == 99 && ev.sid.cpu == 3);
	CHECK(s->period == 5 && s->read_size == 72 &&
	      pd_u64(s->read, 0) == 2 && pd_u64(s->read, 8) == 1);
	CHECK(s->nr_callchain == 3 &&
	      pd_u64(s->callchain, 0) == PD_CONTEXT_KERNEL &&
	      pd_u64(s->callchain, 2) == 0xffffffff81000100ULL);
	CHECK(s->raw_size == 12 && memcmp(s->raw, "raw-payload", 12) == 0);
	CHECK(s->nr_branches == 1 && pd_u64(s->branches, 0) == 0xa &&
	      pd_u64(s->branches, 2) == 1);
	CHECK(s->user_abi == 2 && s->nr_user_regs == 3);
	CHECK(pd_reg(s->user_regs, s->nr_user_regs, a.regs_user, 7, &v) &&
	      v == 0x5000);
	CHECK(pd_reg(s->user_regs, s->nr_user_regs, a.regs_user, 8, &v) &&
	      v == 0x1111);
	CHECK(!pd_reg(s->user_regs, s->nr_user_regs, a.regs_user, 0, &v));
	CHECK(!pd_reg(s->user_regs, 1, a.regs_user, 8, &v));
	CHECK(s->user_stack_size == 64 && s->user_stack_dyn_size == 48 &&
	      s->user_stack[63] == 63);
	CHECK(s->weight == 33 && s->weight_var2 == 44);
	CHECK(s->data_src == 0x1e05080021ULL && s->transaction == 5);
	CHECK(s->intr_abi == 2 && s->nr_intr_regs == 2 &&
	      pd_u64(s->intr_regs, 1) == 0x88);
	CHECK(s->phys_addr == 0x9000 && s->cgroup == 77 &&
	      s->data_page_size == 4096 && s->code_page_size == 2 << 20);
	CHECK(s->aux_size == 8 && s->aux[0] == 0x48);
	CHECK(((uintptr_t)ev.data & 7) == 0);
	CHECK(perfdata_next(pd, &ev, &err) == 0);
	CHECK(perfdata_stats(pd)->bad_records == 0);
out:
	perfdata_free(pd);
	buf_free(&f);

	/* A lighter combination: READ (not group), no regs (abi 0), empty
	 * stack, WEIGHT as a plain u64. */
	memset(&a, 0, sizeof(a));
	a.type = 1;
	a.sample_type = PD_S_IP | PD_S_TID | PD_S_TIME | PD_S_READ |
			PD_S_CALLCHAIN | PD_S_REGS_USER | PD_S_STACK_USER |
			PD_S_WEIGHT;
	a.read_format = 0x4;		/* ID */
	a.regs_user = 0xff0fff;
	d.len = 0;
	at = rec_begin(&d, PD_SAMPLE, PD_MISC_KERNEL);
	put64(&d, 0xffffffff81234567ULL);
	put32(&d, 7), put32(&d, 8);
	put64(&d, 55);
	put64(&d, 123), put64(&d, 4);		/* READ value, id */
	put64(&d, 0);				/* CALLCHAIN nr 0 */
	put64(&d, 0);				/* REGS_USER abi NONE */
	put64(&d, 0);				/* STACK_USER size 0 */
	put64(&d, 1ULL << 40 | 9);		/* WEIGHT */
	rec_end(&d, at);
	build_file(&f, &a, 1, &d, NULL, 0);
	pd = perfdata_open_mem(f.p, f.len, "fields2", &err);
	CHECK(pd && perfdata_next(pd, &ev, &err) == 1);
	if (pd) {
		CHECK(s->ip == 0xffffffff81234567ULL && ev.sid.time == 55);
		CHECK(s->read_size == 16 && pd_u64(s->read, 0) == 123);
		CHECK(s->nr_callchain == 0 && s->user_abi == 0 &&
		      s->nr_user_regs == 0 && s->user_stack_size == 0);
		CHECK(s->weight == (1ULL << 40 | 9));
		CHECK_STR(ev.attr->name, "cpu-clock");
		CHECK((ev.misc & PD_CPUMODE_MASK) == PD_MISC_KERNEL);
	}
	perfdata_free(pd);
	buf_free(&f);
	buf_free(&d);
}

/* Two events told apart by ID (id_pos/is_pos), sample_id trailers of
 * TID|TIME|ID|CPU on every kernel record type. */
static void trailer(struct buf *b, uint64_t id, uint64_t time)
{
	put32(b, 1), put32(b, 2);	/* TID */
	put64(b, time);			/* TIME */
	put64(b, id);			/* ID */
	put32(b, 1), put32(b, 0);	/* CPU */
}

static void test_trailers_and_ids(void)
{
	uint64_t st = PD_S_IP | PD_S_TID | PD_S_TIME | PD_S_ID | PD_S_CPU |
		      PD_S_PERIOD;
	struct tattr a[2] = {
		{ .type = 1, .config = 9, .sample_type = st,
		  .flags = TA_SAMPLE_ID_ALL, .ids = { 100, 101 }, .nr_ids = 2 },
		{ .type = 0, .config = 0, .sample_type = st,
		  .flags = TA_SAMPLE_ID_ALL, .ids = { 200 }, .nr_ids = 1 },
	};
	static const uint64_t sample_ids[] = { 200, 101, 999, 0 };
	struct buf d = { 0 }, f;
	struct pm_error err;
	struct perfdata *pd;
	struct pd_event ev;
	const struct pd_stats *stt;
	size_t at, i;
	uint64_t t = 10;

	for (i = 0; i < 4; i++) {		/* SAMPLEs */
		at = rec_begin(&d, PD_SAMPLE, 2);
		put64(&d, 0x1000 + i);
		put32(&d, 1), put32(&d, 2);
		put64(&d, t++);
		put64(&d, sample_ids[i]);
		put32(&d, 1), put32(&d, 0);
		put64(&d, 1);
		rec_end(&d, at);
	}
	at = rec_begin(&d, PD_FORK, 0);		/* FORK */
	put32(&d, 3), put32(&d, 1), put32(&d, 3), put32(&d, 1);
	put64(&d, 777);
	trailer(&d, 200, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_LOST, 0);		/* LOST id, lost */
	put64(&d, 100), put64(&d, 5);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_LOST_SAMPLES, 0);	/* LOST_SAMPLES */
	put64(&d, 3);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_KSYMBOL, 0);	/* KSYMBOL */
	put64(&d, 0xffffffffc0000000ULL), put32(&d, 64), put16(&d, 1);
	put16(&d, 0), put(&d, "bpf_prog_x", 11), pad8(&d);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_SWITCH, PD_MISC_SWITCH_OUT | 1 << 14);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_SWITCH_CPU_WIDE, 0);
	put32(&d, 66), put32(&d, 67);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_THROTTLE, 0);
	put64(&d, 5), put64(&d, 100), put64(&d, 6);
	trailer(&d, 100, t++), rec_end(&d, at);
	at = rec_begin(&d, PD_MMAP, PD_MISC_KERNEL);	/* legacy MMAP */
	put32(&d, (uint32_t)-1), put32(&d, 0);
	put64(&d, 0xffffffff81000000ULL), put64(&d, 0x100000);
	put64(&d, 0xffffffff81000000ULL);
	put(&d, "[kernel.kallsyms]_text", 23), pad8(&d);
	trailer(&d, 0, 0), rec_end(&d, at);
	at = rec_begin(&d, 30, 0);		/* unknown kernel type */
	put64(&d, 0), rec_end(&d, at);
	at = rec_begin(&d, 90, 0);		/* unknown user type */
	rec_end(&d, at);
	build_file(&f, a, 2, &d, NULL, 0);
	pd = perfdata_open_mem(f.p, f.len, "ids", &err);
	CHECK(pd != NULL);
	if (!pd)
		goto out;
	CHECK_STR(perfdata_attr(pd, 0)->name, "dummy");
	CHECK_STR(perfdata_attr(pd, 1)->name, "cycles");
	/* No FINISHED_ROUND: all sorted at the end; MMAP (time 0) first. */
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_MMAP);
	CHECK_STR(ev.u.mmap.filename, "[kernel.kallsyms]_text");
	CHECK(ev.u.mmap.prot == 5 && ev.u.mmap.pid == (uint32_t)-1 &&
	      ev.attr == perfdata_attr(pd, 0) && ev.sid.has_time);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.u.sample.ip == 0x1000);
	CHECK(ev.attr == perfdata_attr(pd, 1) && ev.sid.id == 200);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.u.sample.ip == 0x1001);
	CHECK(ev.attr == perfdata_attr(pd, 0));
	/* id 999 skipped; id 0 -> first event */
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.u.sample.ip == 0x1003);
	CHECK(ev.attr == perfdata_attr(pd, 0));
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_FORK);
	CHECK(ev.u.fork.pid == 3 && ev.u.fork.ppid == 1 &&
	      ev.u.fork.time == 777 && ev.attr == perfdata_attr(pd, 1));
	CHECK(ev.sid.pid == 1 && ev.sid.tid == 2 && ev.sid.time == 14 &&
	      ev.sid.id == 200 && ev.sid.cpu == 1);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_LOST);
	CHECK(ev.u.lost.id == 100 && ev.u.lost.lost == 5);
	CHECK(perfdata_next(pd, &ev, &err) == 1 &&
	      ev.type == PD_LOST_SAMPLES && ev.u.lost.lost == 3);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_KSYMBOL);
	CHECK_STR(ev.u.ksymbol.name, "bpf_prog_x");
	CHECK(ev.u.ksymbol.len == 64 && ev.u.ksymbol.ksym_type == 1);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_SWITCH);
	CHECK(ev.u.sw.out && ev.u.sw.preempt);
	CHECK(perfdata_next(pd, &ev, &err) == 1 &&
	      ev.type == PD_SWITCH_CPU_WIDE && !ev.u.sw.out &&
	      ev.u.sw.next_prev_pid == 66 && ev.u.sw.next_prev_tid == 67);
	CHECK(perfdata_next(pd, &ev, &err) == 1 && ev.type == PD_THROTTLE &&
	      ev.u.throttle.time == 5 && ev.u.throttle.stream_id == 6);
	CHECK(perfdata_next(pd, &ev, &err) == 0);
	stt = perfdata_stats(pd);
	CHECK(stt->unknown_id_samples == 1 && stt->unknown_records == 2);
	CHECK(stt->lost_events == 5 && stt->lost_records == 1 &&
	      stt->lost_samples == 3);
	CHECK(stt->samples_per_attr[0] == 2 && stt->samples_per_attr[1] == 1);
	CHECK(stt->records[PD_SAMPLE] == 4 && stt->records[30] == 1);
	CHECK(stt->bad_records == 0);
out:
	perfdata_free(pd);
	buf_free(&f);
	buf_free(&d);
}

static void add_time_conv(struct buf *d)
{
	size_t at = rec_begin(d, PD_TIME_CONV, 0);

	put64(d, 0), put64(d, 0), put64(d, 0);
	rec_end(d, at);
}

/* FINISHED_ROUND: flush what is <= the previous round's max. */
static void test_order(void)
{
	static const uint64_t want[] = { 0, 10, 15, 20, 20, 30, 35, 40, 5, 50 };
	struct tattr a = attr_pf();
	struct buf d = { 0 }, f;
	struct pm_error err;
	struct perfdata *pd;
	struct got *g = calloc(1, sizeof(*g));
	size_t i;

	rec_sample(&d, 1, 1, 10, 0);
	rec_sample(&d, 2, 1, 30, 0);
	add_time_conv(&d);		/* no timestamp: delivered first */
	rec_sample(&d, 3, 1, 20, 0);
	rec_comm(&d, 1, "synth", 0, 0);	/* time 0: first */
	rec_round(&d);			/* flushes <= 0 */
	rec_sample(&d, 4, 1, 15, 0);
	rec_sample(&d, 5, 1, 20, 1);	/* tie with ip 3: after it */
	rec_sample(&d, 6, 1, 40, 0);
	rec_round(&d);			/* flushes <= 30 */
	rec_sample(&d, 7, 1, 35, 0);
	rec_sample(&d, 8, 1, 50, 0);
	rec_round(&d);			/* flushes <= 40 */
	rec_sample(&d, 9, 1, 5, 0);	/* older than what was flushed */
	build_file(&f, &a, 1, &d, NULL, 0);
	pd = perfdata_open_mem(f.p, f.len, "order", &err);
	CHECK(pd != NULL);
	if (pd)
		drain(pd, g);
	CHECK(g->rc == 0 && g->n == 11);
	CHECK(g->ev[0].type == PD_TIME_CONV && !g->ev[0].has_time);
	for (i = 0; i < 10 && i + 1 < g->n; i++)
		CHECK(g->ev[i + 1].time == want[i] && g->ev[i + 1].has_time);
	CHECK(g->ev[1].type == PD_COMM);
	CHECK(g->ev[4].ip == 3 && g->ev[5].ip == 5);	/* stable tie */
	CHECK(pd && perfdata_stats(pd)->out_of_order == 1);
	perfdata_free(pd);
	buf_free(&f);
	buf_free(&d);
	free(g);
}

static void check_pipe(struct perfdata *pd, struct got *g)
{
	const struct pd_info *in = perfdata_info(pd);

	CHECK(in->pipe);
	CHECK_STR(in->hostname, "pipehost");
	CHECK_STR(in->arch, "aarch64");
	CHECK(in->tracing_size == 24 &&
	      memcmp(in->tracing_data + 14, "payload!!!", 10) == 0);
	CHECK(in->nr_build_ids == 1 && in->build_ids[0].id[0] == '0');
	CHECK_STR(in->build_ids[0].filename, "[kernel.kallsyms]");
	CHECK(perfdata_nr_attrs(pd) == 1);
	CHECK_STR(perfdata_attr(pd, 0)->name, "page-faults");
	drain(pd, g);
	CHECK(g->rc == 0 && g->n == 4);
	CHECK(g->ev[0].type == PD_COMM && g->ev[1].time == 5 &&
	      g->ev[2].time == 10 && g->ev[3].time == 20);
	CHECK_STR(perfdata_attr(pd, 0)->name, "renamed");
	CHECK_STR(g->ev[3].attr, "renamed");
	CHECK(perfdata_stats(pd)->records[PD_HEADER_ATTR] == 1);
	CHECK(perfdata_stats(pd)->records[PD_EVENT_UPDATE] == 1);
}

/* Feed img to perfdata_open("-") through a real pipe on stdin. */
static struct perfdata *open_stdin(const struct buf *img, struct pm_error *e)
{
	struct perfdata *pd;
	int fds[2], saved = dup(STDIN_FILENO), st;
	pid_t pid;

	if (saved < 0 || pipe(fds))
		return NULL;
	pid = fork();
	if (pid == 0) {
		size_t off = 0;

		close(fds[0]);
		while (off < img->len) {	/* small writes: many reads */
			size_t k = img->len - off < 100 ? img->len - off : 100;
			ssize_t w = write(fds[1], img->p + off, k);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	dup2(fds[0], STDIN_FILENO);
	close(fds[0]);
	pd = perfdata_open("-", false, e);
	waitpid(pid, &st, 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	return pd;
}

static void test_pipe(void)
{
	struct got *g = calloc(1, sizeof(*g));
	struct pm_error err;
	struct perfdata *pd;
	struct buf p, f;
	int old;

	for (old = 0; old <= 1; old++) {
		pipe_image(&p, old);
		pd = perfdata_open_mem(p.p, p.len, "pipe", &err);
		CHECK(pd != NULL);
		if (pd)
			check_pipe(pd, g);
		perfdata_free(pd);
		buf_free(&p);
	}
	/* As a stream on stdin (header records read before the data; the
	 * whole stream drained without seeking). */
	pipe_image(&p, 0);
	pd = open_stdin(&p, &err);
	CHECK(pd != NULL);
	if (pd)
		check_pipe(pd, g);
	perfdata_free(pd);
	buf_free(&p);
	/* A file-mode image on a non-seekable stdin is read whole. */
	minimal_file(&f);
	pd = open_stdin(&f, &err);
	CHECK(pd != NULL);
	if (pd)
		check_minimal(pd);
	perfdata_free(pd);
	buf_free(&f);
	free(g);
}

static void test_compressed(void)
{
	struct got *g = calloc(1, sizeof(*g));
	struct pm_error err;
	struct perfdata *pd;
	size_t split_rec, i;
	struct buf f;
	int c2;

	for (c2 = 0; c2 <= 1; c2++) {
		compressed_file(&f, c2, &split_rec);
		pd = perfdata_open_mem(f.p, f.len, "z", &err);
		CHECK(pd != NULL);
		if (!pd)
			continue;
		CHECK(perfdata_info(pd)->compressed &&
		      perfdata_info(pd)->comp_type == 1 &&
		      perfdata_info(pd)->comp_mmap_len == 528384);
		drain(pd, g);
		CHECK(g->rc == 0 && g->n == 7);
		CHECK(g->ev[0].type == PD_COMM && g->ev[0].time == 1);
		for (i = 0; i < 6 && i + 1 < g->n; i++)
			CHECK(g->ev[i + 1].ip == 0x100 + i &&
			      g->ev[i + 1].time == 10 + i &&
			      g->ev[i + 1].period == i);
		/* offsets name the COMPRESSED record holding the start */
		CHECK(g->ev[0].off == 144 + 104 + 8);
		CHECK(g->ev[split_rec + 1].off == g->ev[0].off);
		CHECK(g->ev[split_rec + 2].off > g->ev[0].off);
		CHECK(perfdata_stats(pd)->decompressed_bytes == 40 + 6 * 40);
		CHECK(perfdata_stats(pd)->records[c2 ? PD_COMPRESSED2 :
					      PD_COMPRESSED] >= 1);
		CHECK(perfdata_stats(pd)->bad_records == 0);
		perfdata_free(pd);
		buf_free(&f);
	}
	free(g);
}

/* Committed real recordings (tests/data/README.md). */
static void test_real(const char *name, bool pipe, bool z)
{
	char path[256];
	struct pm_error err;
	struct perfdata *pd;
	struct pd_event ev;
	const struct pd_stats *st;
	uint64_t last = 0;
	bool ordered = true;
	int rc;

	snprintf(path, sizeof(path), "tests/data/%s", name);
	pd = perfdata_open(path, false, &err);
	if (!pd)
		fprintf(stderr, "%s: %s\n", path, err.msg);
	CHECK(pd != NULL);
	if (!pd)
		return;
	CHECK(perfdata_info(pd)->pipe == pipe);
	CHECK(perfdata_nr_attrs(pd) == 1);
	CHECK_STR(perfdata_attr(pd, 0)->name, "page-faults");
	CHECK_STR(perfdata_info(pd)->arch, "x86_64");
	while ((rc = perfdata_next(pd, &ev, &err)) > 0) {
		if (ev.sid.has_time) {
			ordered &= ev.sid.time >= last;
			last = ev.sid.time;
		}
		if (ev.type == PD_SAMPLE)
			CHECK(ev.attr == perfdata_attr(pd, 0));
	}
	CHECK(rc == 0 && ordered);
	st = perfdata_stats(pd);
	CHECK(st->records[PD_SAMPLE] > 0 && st->records[PD_MMAP2] > 0 &&
	      st->records[PD_COMM] > 0);
	CHECK(st->samples_per_attr[0] == st->records[PD_SAMPLE]);
	CHECK(st->bad_records == 0 && st->unknown_records == 0 &&
	      st->out_of_order == 0);
	CHECK(!z || (st->records[PD_COMPRESSED] > 0 &&
		     st->decompressed_bytes > st->compressed_bytes));
	if (perfdata_warning(pd))
		fprintf(stderr, "%s: warning: %s\n", name,
			perfdata_warning(pd));
	CHECK(perfdata_warning(pd) == NULL);
	perfdata_free(pd);
}

static void test_misc(void)
{
	CHECK_STR(perfdata_record_name(PD_MMAP2), "MMAP2");
	CHECK_STR(perfdata_record_name(PD_FINISHED_ROUND), "FINISHED_ROUND");
	CHECK_STR(perfdata_record_name(PD_COMPRESSED2), "COMPRESSED2");
	CHECK_STR(perfdata_record_name(55), "UNKNOWN");
	CHECK_STR(perfdata_record_name(1000000), "UNKNOWN");
	perfdata_free(NULL);
}

int main(void)
{
	test_minimal();
	test_sample_fields();
	test_trailers_and_ids();
	test_order();
	test_pipe();
	test_compressed();
	test_real("perfdata-pf-g.data", false, false);
	test_real("perfdata-pf-g-z.data", false, true);
	test_real("perfdata-pf-g-pipe.data", true, false);
	test_real("perfdata-pf-g-z-pipe.data", true, true);
	test_real("perfdata-pf-dwarf-z.data", false, true);
	test_misc();
	return check_done();
}
