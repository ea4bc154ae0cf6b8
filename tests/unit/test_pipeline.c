/*
 * test_pipeline.c - perfdata_event_keep() and the -j pipeline (pipeline.h).
 *
 * Keep: records with every kind of array (callchain, raw, user regs, user
 * stack) and strings (COMM, MMAP2), read from a zstd-compressed image and
 * from a pipe-mode stream (both deliver stable == false: the record lives
 * in the reader's queue chunks) and from a file-mode image (stable). Each
 * delivered event is kept in a buffer of its own; after the whole stream
 * was read and the reader freed (non-stable) every kept pointer must lie in
 * its copy and hold the bytes written for that record.
 *
 * Pipeline: a perf.data image of 1000 real samples of this process
 * (selfstack.h: registers plus a copy of the stack, cut at a fixed size so
 * deep ones are truncated and the unwinder stitches them from earlier
 * samples of the same thread) of three threads, as a file image (stable
 * events) and zstd-compressed (events gone at the next perfdata_next()).
 * Each run on 1, 2, 3 and 8 threads must sink every sample once, in
 * submission order, on the caller's thread, with the frames (compared as
 * text: each stacker interns its own strings), end, stitched and
 * truncated marks and warnings that stacker_sample() gives on the same
 * events; a flush in the middle sinks everything submitted; a sink error
 * stops it and comes back from pipeline_submit()/pipeline_flush().
 *
 * Startup: pipelines of 8 threads fed a batch right after pipeline_new(),
 * before the workers may be running: each must still take part (a worker
 * that missed the first batch left pipeline_flush() waiting for ever; the
 * alarm turns such a hang into a failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pdbuild.h"
#include "perfdata.h"
#include "pipeline.h"
#include "selfstack.h"
#include "session.h"
#include "stack.h"
#include "symbols.h"

extern char **environ;

/* ---- perfdata_event_keep ---- */

#define K_PID 7
#define K_NR 40			/* samples in the keep images */
#define K_STACK 256		/* STACK_USER size */
#define K_REGS 0x7ull		/* 3 user regs */
#define K_ST (PD_S_IP | PD_S_TID | PD_S_TIME | PD_S_PERIOD | \
	      PD_S_CALLCHAIN | PD_S_RAW | PD_S_REGS_USER | PD_S_STACK_USER)

/* Byte j of field f of sample i: differs between samples and fields. */
static uint8_t pat(unsigned i, unsigned f, size_t j)
{
	return (uint8_t)(i * 31u + f * 101u + j * 7u + (j >> 8) + 1u);
}

static void put_pat(struct buf *b, unsigned i, unsigned f, size_t n)
{
	size_t j;

	for (j = 0; j < n; j++)
		put8(b, pat(i, f, j));
}

static bool is_pat(const uint8_t *p, unsigned i, unsigned f, size_t n)
{
	size_t j;

	for (j = 0; j < n; j++)
		if (p[j] != pat(i, f, j))
			return false;
	return true;
}

static size_t k_nr_chain(unsigned i) { return 3 + i % 4; }
static uint32_t k_raw_size(unsigned i) { return 12 + 8 * (i % 3); }
static uint64_t k_dyn(unsigned i) { return 200 + i % 50; }

static struct tattr keep_attr(void)
{
	struct tattr a = { .type = 1, .config = 0, .sample_type = K_ST,
			   .flags = TA_SAMPLE_ID_ALL, .regs_user = K_REGS,
			   .stack_user = K_STACK, .ids = { 5 }, .nr_ids = 1 };
	return a;
}

/* Sample i: ip 0x1000 + i; callchain, raw, regs and stack from pat(). */
static void k_sample(struct buf *b, unsigned i)
{
	size_t at = rec_begin(b, PD_SAMPLE, PD_MISC_USER);

	put64(b, 0x1000 + i);
	put32(b, K_PID), put32(b, K_PID);
	put64(b, 100 + 2 * i);				/* time */
	put64(b, 1);					/* period */
	put64(b, k_nr_chain(i)), put_pat(b, i, 0, 8 * k_nr_chain(i));
	put32(b, k_raw_size(i)), put_pat(b, i, 1, k_raw_size(i));
	put64(b, 2), put_pat(b, i, 2, 8 * 3);		/* abi 64, 3 regs */
	put64(b, K_STACK), put_pat(b, i, 3, K_STACK), put64(b, k_dyn(i));
	rec_end(b, at);
}

/* The records: COMM, MMAP2 and samples, a round now and then. */
static void k_records(struct buf *b)
{
	char name[32];
	unsigned i;

	for (i = 0; i < K_NR; i++) {
		if (i % 10 == 0) {
			snprintf(name, sizeof(name), "keep%u", i);
			rec_comm(b, K_PID, name, 0, 100 + 2 * i);
			snprintf(name, sizeof(name), "/keep/file%u.so", i);
			rec_mmap2(b, K_PID, 0x10000 * (i + 1), 0x1000, 0,
				  name, 100 + 2 * i);
		}
		k_sample(b, i);
		if (i % 8 == 7)
			rec_round(b);
	}
}

/* inner wrapped in COMPRESSED records of at most 16 KiB input each; the
 * cut falls anywhere, records straddle them as perf's do. */
static void zwrap(const struct buf *inner, struct buf *data)
{
	ZSTD_CStream *cs = ZSTD_createCStream();
	size_t off, n, rem, at, bound = ZSTD_compressBound(16384) + 64;
	uint8_t *z = malloc(bound);
	ZSTD_outBuffer o;
	ZSTD_inBuffer in;

	if (!cs || !z)
		abort();
	ZSTD_initCStream(cs, 1);
	for (off = 0; off < inner->len; off += n) {
		n = inner->len - off < 16384 ? inner->len - off : 16384;
		in = (ZSTD_inBuffer){ inner->p + off, n, 0 };
		o = (ZSTD_outBuffer){ z, bound, 0 };
		do
			rem = ZSTD_compressStream2(cs, &o, &in,
						   off + n == inner->len ?
						   ZSTD_e_end : ZSTD_e_flush);
		while (rem && !ZSTD_isError(rem));
		if (ZSTD_isError(rem) || o.pos > 65000)
			abort();
		at = rec_begin(data, PD_COMPRESSED, 0);
		put(data, z, o.pos), rec_end(data, at);
	}
	ZSTD_freeCStream(cs);
	free(z);
}

/* A file-mode image of inner, zstd-compressed or not. */
static void file_image(struct buf *out, const struct tattr *a,
		       const struct buf *inner, bool compressed)
{
	struct tfeat feat = { .id = 27 };	/* COMPRESSED */
	struct buf d = { 0 };

	if (!compressed) {
		build_file(out, a, 1, inner, NULL, 0);
		return;
	}
	zwrap(inner, &d);
	/* ver 0, type 1 (zstd), level, ratio, mmap_len */
	put32(&feat.data, 0), put32(&feat.data, 1), put32(&feat.data, 1);
	put32(&feat.data, 4), put32(&feat.data, 528384);
	build_file(out, a, 1, &d, &feat, 1);
	buf_free(&d);
	buf_free(&feat.data);
}

/* A pipe-mode image: pipe header, HEADER_ATTR (attr + its id), records. */
static void pipe_mode_image(struct buf *out, const struct tattr *a,
			    const struct buf *inner)
{
	size_t at;

	memset(out, 0, sizeof(*out));
	put64(out, 0x32454c4946524550ULL), put64(out, 16);
	at = rec_begin(out, PD_HEADER_ATTR, 0);
	put_attr(out, a), put64(out, a->ids[0]), rec_end(out, at);
	put(out, inner->p, inner->len);
}

struct feeder {
	int fd;
	const struct buf *img;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;
	ssize_t w;

	while (off < f->img->len) {
		w = write(f->fd, f->img->p + off, f->img->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

struct kept {
	struct pd_event ev;
	const uint8_t *orig;		/* ev->data as delivered */
	uint8_t *buf;
	size_t alloc;
};

/* p[0, n) lies inside the copy k holds of a record of size bytes. */
static bool in_copy(const struct kept *k, const void *p, size_t n)
{
	const uint8_t *q = p;

	return q && k->buf && q >= k->buf && q + n <= k->buf + k->ev.size;
}

/* Whether a kept event holds what k_records() wrote for it; copy: whether
 * every pointer must lie in its own copy (else: where perfdata_next put
 * it). */
static bool kept_ok(const struct kept *k, bool copy)
{
	const struct pd_event *e = &k->ev;
	const struct pd_sample *s = &e->u.sample;
	unsigned i;
	char want[32];

	if (copy ? !in_copy(k, e->data, e->size) || e->data == k->orig :
		   e->data != k->orig || k->buf != NULL)
		return false;
	switch (e->type) {
	case PD_SAMPLE:
		if (s->ip < 0x1000 || s->ip >= 0x1000 + K_NR)
			return false;
		i = (unsigned)(s->ip - 0x1000);
		if (s->nr_callchain != k_nr_chain(i) ||
		    s->raw_size != k_raw_size(i) || s->nr_user_regs != 3 ||
		    s->user_abi != 2 || s->user_stack_size != K_STACK ||
		    s->user_stack_dyn_size != k_dyn(i) ||
		    e->sid.time != 100 + 2 * i)
			return false;
		if (copy && (!in_copy(k, s->callchain, 8 * s->nr_callchain) ||
			     !in_copy(k, s->raw, s->raw_size) ||
			     !in_copy(k, s->user_regs, 8 * 3) ||
			     !in_copy(k, s->user_stack, K_STACK)))
			return false;
		return is_pat(s->callchain, i, 0, 8 * k_nr_chain(i)) &&
		       is_pat(s->raw, i, 1, k_raw_size(i)) &&
		       is_pat(s->user_regs, i, 2, 8 * 3) &&
		       is_pat(s->user_stack, i, 3, K_STACK);
	case PD_COMM:
		i = (unsigned)(e->sid.time - 100) / 2;
		snprintf(want, sizeof(want), "keep%u", i);
		return (!copy || in_copy(k, e->u.comm.comm, strlen(want) + 1)) &&
		       strcmp(e->u.comm.comm, want) == 0;
	case PD_MMAP2:
		i = (unsigned)(e->sid.time - 100) / 2;
		snprintf(want, sizeof(want), "/keep/file%u.so", i);
		return (!copy ||
			in_copy(k, e->u.mmap.filename, strlen(want) + 1)) &&
		       strcmp(e->u.mmap.filename, want) == 0 &&
		       e->u.mmap.start == 0x10000 * (uint64_t)(i + 1);
	default:
		return false;
	}
}

enum { IMG_FILE, IMG_ZSTD, IMG_PIPE };

static void test_keep_one(int kind)
{
	static const char *const names[] = { "file", "zstd", "pipe" };
	struct tattr a = keep_attr();
	struct buf inner = { 0 }, img = { 0 };
	struct kept *kept = calloc(K_NR + 2 * (K_NR / 10) + 1, sizeof(*kept));
	struct feeder fd_feed;
	struct pm_error err = { 0 };
	struct perfdata *pd = NULL;
	struct pd_event ev;
	pthread_t feeder;
	bool fed = false, copy = kind != IMG_FILE;
	size_t n = 0, i, bad = 0, samples = 0, stable = 0;
	int pfd[2], rc;
	char path[64];

	CHECK(kept != NULL);
	if (!kept)
		return;
	k_records(&inner);
	if (kind == IMG_PIPE) {
		pipe_mode_image(&img, &a, &inner);
		if (pipe(pfd)) {
			CHECK(!"pipe");
			goto out;
		}
		fd_feed.fd = pfd[1];
		fd_feed.img = &img;
		fed = pthread_create(&feeder, NULL, feed, &fd_feed) == 0;
		CHECK(fed);
		/* a FIFO opened by path: the reader's stream mode */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd[0]);
		pd = perfdata_open(path, false, &err);
		close(pfd[0]);
		if (!fed)
			close(pfd[1]);
	} else {
		file_image(&img, &a, &inner, kind == IMG_ZSTD);
		pd = perfdata_open_mem(img.p, img.len, names[kind], &err);
	}
	CHECK(pd != NULL);
	if (!pd) {
		fprintf(stderr, "%s image: %s\n", names[kind], err.msg);
		goto out;
	}
	CHECK(perfdata_info(pd)->pipe == (kind == IMG_PIPE));
	while ((rc = perfdata_next(pd, &ev, &err)) > 0) {
		if (n >= K_NR + 2 * (K_NR / 10))
			break;
		samples += ev.type == PD_SAMPLE;
		stable += ev.stable;
		kept[n].orig = ev.data;
		CHECK(perfdata_event_keep(&ev, &kept[n].ev, &kept[n].buf,
					  &kept[n].alloc) == 0);
		/* a second keep into the same buffer reuses it */
		if (copy && n == 3) {
			uint8_t *was = kept[n].buf;

			CHECK(perfdata_event_keep(&ev, &kept[n].ev,
						  &kept[n].buf,
						  &kept[n].alloc) == 0);
			CHECK(kept[n].buf == was);
		}
		n++;
	}
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "%s image: %s\n", names[kind], err.msg);
	CHECK(n == K_NR + 2 * (K_NR / 10) && samples == K_NR);
	CHECK(stable == (copy ? 0 : n));	/* the reader's own say */
	if (!copy) {
		/* stable: valid until perfdata_free(), no copy made */
		for (i = 0; i < n; i++)
			bad += !kept_ok(&kept[i], false);
		CHECK(bad == 0);
	}
	perfdata_free(pd);
	pd = NULL;
	if (copy) {
		/* the reader and its chunks are gone: the copies are all */
		for (i = 0; i < n; i++)
			if (!kept_ok(&kept[i], true) && bad++ == 0)
				fprintf(stderr, "%s: kept event %zu (%s) "
					"differs\n", names[kind], i,
					perfdata_record_name(kept[i].ev.type));
		CHECK(bad == 0);
	}
out:
	if (fed)
		pthread_join(feeder, NULL);
	perfdata_free(pd);
	for (i = 0; i < K_NR + 2 * (K_NR / 10) + 1; i++)
		free(kept[i].buf);
	free(kept);
	buf_free(&inner);
	buf_free(&img);
}

static void test_keep(void)
{
	struct pd_event ev, out;
	uint8_t *buf = NULL;
	size_t alloc = 0;

	test_keep_one(IMG_FILE);
	test_keep_one(IMG_ZSTD);
	test_keep_one(IMG_PIPE);

	/* an event with no record bytes (built by hand) is taken as is */
	memset(&ev, 0, sizeof(ev));
	ev.type = PD_SAMPLE;
	ev.u.sample.user_stack = (const uint8_t *)&ev;
	CHECK(perfdata_event_keep(&ev, &out, &buf, &alloc) == 0);
	CHECK(buf == NULL && out.u.sample.user_stack == (const uint8_t *)&ev);
}

/* ---- the pipeline, on real samples of this process ---- */

#define P_PID 100
#define P_NR 1000		/* samples: 3 full batches and a part */
#define P_ST (PD_S_IP | PD_S_TID | PD_S_TIME | PD_S_PERIOD | \
	      PD_S_REGS_USER | PD_S_STACK_USER)

struct gen {
	struct buf data;
	struct selfstack cap;
	uint64_t stk;			/* STACK_USER size of every sample */
	unsigned n;			/* samples written */
	uint32_t tid;
};

/* The sample just captured, its stack cut at g->stk bytes. */
static void emit(struct gen *g)
{
	struct buf *b = &g->data;
	uint64_t dyn = g->cap.size < g->stk ? g->cap.size : g->stk;
	size_t at = rec_begin(b, PD_SAMPLE, PD_MISC_USER);

	/* now and then a copy too short to stitch: stays truncated */
	if (g->n % 41 == 40 && dyn > 24)
		dyn = 24;
	put64(b, g->cap.regs[IP_IDX]);
	put32(b, P_PID), put32(b, g->tid);
	put64(b, ++g->n);			/* time: 1, 2, ... */
	put64(b, 1);
	put64(b, 2);				/* PERF_SAMPLE_REGS_ABI_64 */
	put(b, g->cap.regs, sizeof(g->cap.regs));
	put64(b, g->stk);
	put(b, g->cap.stack, (size_t)dyn);
	while (b->len - at < 8 * 5 + 8 + sizeof(g->cap.regs) + 8 + g->stk)
		put8(b, 0);
	put64(b, dyn);
	rec_end(b, at);
	if (g->n % 64 == 0)
		rec_round(b);
}

static __attribute__((noinline)) void capture(struct gen *g)
{
	CAPTURE_REGS(g->cap.regs);
	selfstack_copy(&g->cap);
	__asm__ volatile("" ::: "memory");
	emit(g);
}

static int rec(struct gen *g, unsigned level);
/* called through this, so the compiler keeps one frame per level */
static int (*volatile rec_call)(struct gen *, unsigned) = rec;

/* A sample at every level on the way down, and at every third one on the
 * way back up (frames that returned since: no stitching over them). */
static __attribute__((noinline)) int rec(struct gen *g, unsigned level)
{
	volatile char pad[80];
	int r = 0;

	pad[level % sizeof(pad)] = (char)level;
	if (g->n < P_NR)
		capture(g);
	if (level)
		r = rec_call(g, level - 1);
	if (level % 3 == 0 && g->n < P_NR)
		capture(g);
	__asm__ volatile("" : "+r"(r));
	return r + pad[level % sizeof(pad)];
}

/* The whole image; NULL on failure. */
static struct gen *make_samples(void)
{
	struct gen *g = calloc(1, sizeof(*g));
	uint64_t sp0, env;
	unsigned run;

	if (!g)
		return NULL;
	g->cap.stack_top = selfstack_top();
	/* The copy holds every frame from here to _start (below argv and
	 * envp, which environ points at) and 2 KiB more: about 16 levels
	 * of rec() at -O2. Deeper samples are cut short, as perf's are. */
	capture(g);
	sp0 = g->cap.regs[SP_IDX];
	env = (uintptr_t)environ;
	g->stk = env > sp0 && env < g->cap.stack_top ? env - sp0 : g->cap.size;
	g->stk = (g->stk + 2048 + 7) & ~(uint64_t)7;
	if (g->stk > 60000)
		g->stk = 60000;
	g->data.len = 0;
	g->n = 0;
	for (run = 0; g->n < P_NR; run++) {
		g->tid = P_PID + run % 3;	/* three threads in turn */
		rec(g, 4 + (run * 7) % 37);
	}
	return g;
}

struct world {
	struct symbols *syms;
	struct session *sess;
	struct stacker_opts sto;
	char dir[64];			/* empty maps dir: no perf maps */
	struct buf file, zstd;		/* the sample images */
	char **ref;			/* stacker_sample() results, by time */
	const char **ref_leaf;
	char *ref_warnings;
	size_t nr_ref, stitched, truncated;
};

/* One line for a finished stack: everything the outputs use. */
static char *describe(const struct stack_result *res, const char **leaf)
{
	struct buf b = { 0 };
	char tmp[96];
	size_t i;

	snprintf(tmp, sizeof(tmp), "tid %u end %d py %d ib %d %s uw %d st %d "
		 "dr %u |", res->thread ? res->thread->tid : 0, (int)res->end,
		 res->has_python, res->interp_break,
		 res->break_dso ? res->break_dso : "-", res->unwound,
		 res->stitched, res->dropped);
	put(&b, tmp, strlen(tmp));
	for (i = 0; i < res->nr; i++) {
		snprintf(tmp, sizeof(tmp), " %d:", (int)res->frames[i].kind);
		put(&b, tmp, strlen(tmp));
		put(&b, res->frames[i].name, strlen(res->frames[i].name));
		put8(&b, '@');
		put(&b, res->frames[i].dso, strlen(res->frames[i].dso));
	}
	put8(&b, '\0');
	if (leaf)
		*leaf = res->nr ? res->frames[0].name : NULL;
	return (char *)b.p;
}

static char *join_warnings(const char *const *w)
{
	struct buf b = { 0 };

	for (; *w; w++)
		put(&b, *w, strlen(*w)), put8(&b, '\n');
	put8(&b, '\0');
	return (char *)b.p;
}

/*
 * A session of process P_PID with this program's code maps and threads
 * P_PID..P_PID+2. Each stacker takes one of its SESSION_PRIV_SLOTS for
 * good (unwinder_new), so every pipeline gets a session of its own.
 */
static struct session *new_session(void)
{
	struct session *s = session_new();
	uint32_t tid;

	if (!s || selfstack_add_maps(s, P_PID, MAPS_ALL) <= 0)
		goto fail;
	for (tid = P_PID; tid < P_PID + 3; tid++)
		if (!session_thread(s, P_PID, tid))
			goto fail;
	return s;
fail:
	session_free(s);
	return NULL;
}

static bool world_init(struct world *w)
{
	struct symbols_opts so = { .inline_frames = true };
	struct tattr a = { .type = 1, .config = 0, .sample_type = P_ST,
			   .flags = TA_SAMPLE_ID_ALL, .regs_user = REGS_MASK,
			   .ids = { 5 }, .nr_ids = 1 };
	struct stack_result res = { 0 };
	struct stacker *st = NULL;
	struct perfdata *pd = NULL;
	struct pm_error err = { 0 };
	struct pd_event ev;
	struct gen *g;
	bool ok = false;
	size_t i;

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "/tmp/pm-test-pipeline-XXXXXX");
	if (!mkdtemp(w->dir)) {
		w->dir[0] = '\0';
		return false;
	}
	w->sto.maps_dirs[0] = w->dir;
	if (!(w->syms = symbols_new(&so)) || !(w->sess = new_session()))
		return false;
	if (!(g = make_samples()))
		return false;
	a.stack_user = (uint32_t)g->stk;
	file_image(&w->file, &a, &g->data, false);
	file_image(&w->zstd, &a, &g->data, true);
	buf_free(&g->data);
	free(g);

	/* the reference: one stacker, stacker_sample() in order */
	w->ref = calloc(P_NR, sizeof(*w->ref));
	w->ref_leaf = calloc(P_NR, sizeof(*w->ref_leaf));
	st = stacker_new(w->sess, w->syms, &w->sto);
	pd = perfdata_open_mem(w->file.p, w->file.len, "file", &err);
	if (!w->ref || !w->ref_leaf || !st || !pd)
		goto out;
	while (perfdata_next(pd, &ev, &err) > 0) {
		struct thread *t = session_thread_peek(w->sess, ev.sid.pid,
						       ev.sid.tid);

		if (ev.type != PD_SAMPLE || !t || w->nr_ref >= P_NR ||
		    ev.sid.time != w->nr_ref + 1 ||
		    stacker_sample(st, &ev, t, &res))
			goto out;
		w->stitched += res.stitched;
		w->truncated += res.end == STACK_END_TRUNCATED;
		w->ref[w->nr_ref] = describe(&res, &w->ref_leaf[w->nr_ref]);
		w->nr_ref++;
	}
	w->ref_warnings = join_warnings(stacker_warnings(st));
	ok = err.code == 0 && w->nr_ref == P_NR;
out:
	/* the leaf names stay valid until stacker_free(): copy them */
	for (i = 0; w->ref_leaf && i < w->nr_ref; i++)
		w->ref_leaf[i] = w->ref_leaf[i] ? strdup(w->ref_leaf[i]) :
				 NULL;
	stack_result_release(&res);
	perfdata_free(pd);
	stacker_free(st);
	return ok;
}

static void world_release(struct world *w)
{
	size_t i;

	for (i = 0; w->ref && i < w->nr_ref; i++) {
		free(w->ref[i]);
		free((char *)w->ref_leaf[i]);
	}
	free(w->ref);
	free(w->ref_leaf);
	free(w->ref_warnings);
	buf_free(&w->file);
	buf_free(&w->zstd);
	session_free(w->sess);
	symbols_free(w->syms);
	if (w->dir[0])
		rmdir(w->dir);
}

struct sinkctx {
	pthread_t caller;
	size_t n;			/* sink calls */
	size_t fail_at;			/* call that returns fail_err */
	int fail_err;
	bool off_thread;		/* a call on another thread */
	bool after_error;		/* a call after fail_at's */
	uint64_t times[P_NR + 1];
	char *got[P_NR + 1];
	const char *leaf[P_NR + 1];	/* frames[0].name as handed over */
};

static int sink(void *arg, const struct pd_event *ev,
		struct stack_result *res)
{
	struct sinkctx *c = arg;

	if (!pthread_equal(pthread_self(), c->caller))
		c->off_thread = true;
	if (c->n > c->fail_at)
		c->after_error = true;
	if (c->n <= P_NR) {
		c->times[c->n] = ev->sid.time;
		c->got[c->n] = describe(res, &c->leaf[c->n]);
	}
	return c->n++ == c->fail_at ? c->fail_err : 0;
}

static void sinkctx_release(struct sinkctx *c)
{
	size_t i;

	for (i = 0; i <= P_NR; i++)
		free(c->got[i]);
}

/*
 * Run the pipeline on threads over an image. flush_at: submissions after
 * which pipeline_flush() is called (and must have sunk them all);
 * fail_at: the sink call that fails (SIZE_MAX: none). Returns the first
 * error, with *nsub the samples submitted.
 */
static int run_pipeline(struct world *w, const struct buf *img,
			unsigned threads, size_t flush_at, size_t fail_at,
			struct sinkctx *c, size_t *nsub, bool check_out)
{
	struct session *sess = new_session();
	struct stacker *st = sess ? stacker_new(sess, w->syms, &w->sto) : NULL;
	struct pipeline *pl = st ? pipeline_new(st, threads, sink, c) : NULL;
	struct perfdata *pd = perfdata_open_mem(img->p, img->len, "img", NULL);
	struct pm_error err = { 0 };
	struct pd_event ev;
	size_t i, lag = 0, bad = 0, leafbad = 0;
	int rc = -PM_ENOMEM, e = 0;
	char *warn;

	memset(c, 0, sizeof(*c));
	c->caller = pthread_self();
	c->fail_at = fail_at;
	c->fail_err = -PM_ELIMIT;
	*nsub = 0;
	CHECK(st && pl && pd);
	if (!st || !pl || !pd)
		goto out;
	CHECK(pipeline_threads(pl) == threads);
	while ((rc = perfdata_next(pd, &ev, &err)) > 0) {
		struct thread *t = session_thread_peek(sess, ev.sid.pid,
						       ev.sid.tid);

		if (!t)
			break;
		e = pipeline_submit(pl, &ev, t);
		++*nsub;
		if (c->n > *nsub)
			bad++;
		/* bounded: at most two batches are held back */
		if (*nsub - c->n > lag)
			lag = *nsub - c->n;
		if (e)
			break;
		if (*nsub == flush_at) {
			e = pipeline_flush(pl);
			if (c->n != *nsub)
				bad++;
			if (e)
				break;
		}
	}
	CHECK(bad == 0);
	CHECK(lag <= 2 * PIPELINE_BATCH);
	if (!e) {
		CHECK(rc == 0);
		if (rc)
			fprintf(stderr, "-j %u: %s\n", threads, err.msg);
		e = pipeline_flush(pl);
	}
	rc = e;
	if (!check_out)
		goto out;
	CHECK(e == 0 && c->n == P_NR && *nsub == P_NR);
	CHECK(!c->off_thread);
	for (i = 0, bad = 0; i < c->n && i < P_NR; i++) {
		if (c->times[i] != i + 1 ||
		    !c->got[i] || strcmp(c->got[i], w->ref[i])) {
			if (bad++ == 0)
				fprintf(stderr, "-j %u: sample %zu (time %llu)"
					"\n  got  %s\n  want %s\n", threads, i,
					(unsigned long long)c->times[i],
					c->got[i], w->ref[i]);
		}
		/* frame strings live until pipeline_free() */
		if (!c->leaf[i] != !w->ref_leaf[i] ||
		    (c->leaf[i] && strcmp(c->leaf[i], w->ref_leaf[i])))
			leafbad++;
	}
	CHECK(bad == 0);
	CHECK(leafbad == 0);
	warn = join_warnings(pipeline_warnings(pl));
	CHECK_STR(warn, w->ref_warnings);
	free(warn);
out:
	pipeline_free(pl);
	stacker_free(st);
	perfdata_free(pd);
	session_free(sess);
	return rc;
}

static void test_pipeline_runs(struct world *w)
{
	static const unsigned nthreads[] = { 1, 2, 3, 8 };
	struct sinkctx *c = calloc(1, sizeof(*c));
	size_t i, nsub;

	if (!c)
		return;
	for (i = 0; i < sizeof(nthreads) / sizeof(nthreads[0]); i++) {
		/* a stable (file) image, flushed in the middle of a batch */
		run_pipeline(w, &w->file, nthreads[i], 300, SIZE_MAX, c,
			     &nsub, true);
		sinkctx_release(c);
		/* records that go away at the next perfdata_next(): the
		 * pipeline must hold its own copies; flushed right after a
		 * batch went out */
		run_pipeline(w, &w->zstd, nthreads[i], 2 * PIPELINE_BATCH,
			     SIZE_MAX, c, &nsub, true);
		sinkctx_release(c);
	}
	free(c);
}

static void test_pipeline_errors(struct world *w)
{
	static const unsigned nthreads[] = { 1, 3 };
	struct sinkctx *c = calloc(1, sizeof(*c));
	size_t i, k, nsub;
	int e;

	if (!c)
		return;
	for (i = 0; i < sizeof(nthreads) / sizeof(nthreads[0]); i++) {
		/* fails in the first batch: pipeline_submit says so, once
		 * that batch is finished, and nothing after it is sunk */
		e = run_pipeline(w, &w->zstd, nthreads[i], SIZE_MAX, 100, c,
				 &nsub, false);
		CHECK(e == -PM_ELIMIT);
		CHECK(nsub < P_NR && c->n == 101 && !c->after_error);
		for (k = 0, nsub = 0; k < c->n; k++)
			nsub += c->times[k] != k + 1;
		CHECK(nsub == 0);
		sinkctx_release(c);

		/* fails in the batch that is out when the last flush comes:
		 * pipeline_flush says so, and must not go on to sink the
		 * batch still being filled (pipeline.h: "stops the
		 * pipeline: the pending samples are dropped"). One thread
		 * sinks each sample as it is submitted: the submit fails. */
		e = run_pipeline(w, &w->zstd, nthreads[i], SIZE_MAX, 600, c,
				 &nsub, false);
		CHECK(e == -PM_ELIMIT);
		CHECK(nsub == (nthreads[i] == 1 ? 601 : P_NR) && c->n == 601 &&
		      !c->after_error);
		if (c->after_error)
			fprintf(stderr, "-j %u: pipeline_flush() sank %zu "
				"samples after the one whose sink failed\n",
				nthreads[i], c->n - 601);
		sinkctx_release(c);

		/* fails in the last, partial batch */
		e = run_pipeline(w, &w->zstd, nthreads[i], SIZE_MAX,
				 P_NR - 10, c, &nsub, false);
		CHECK(e == -PM_ELIMIT);
		CHECK(nsub == (nthreads[i] == 1 ? P_NR - 9 : P_NR) &&
		      c->n == P_NR - 9 && !c->after_error);
		sinkctx_release(c);

		/* fails at a flush in the middle */
		e = run_pipeline(w, &w->file, nthreads[i], 300, 299, c, &nsub,
				 false);
		CHECK(e == -PM_ELIMIT && nsub == 300 && c->n == 300);
		sinkctx_release(c);
	}
	free(c);
}

/* pipeline_new() returns with its threads maybe not yet running: batches
 * handed out before a worker got going must still be collected (a worker
 * that missed one would leave pipeline_flush() waiting for it). Many
 * short pipelines of cheap samples; a hang fails by the alarm. */
static void test_pipeline_startup(struct world *w)
{
	struct pd_attr a = { .sample_type = PD_S_IP };
	struct sinkctx *c = calloc(1, sizeof(*c));
	struct pd_event ev;
	unsigned round, bad = 0;
	size_t i;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = PD_SAMPLE;
	ev.misc = PD_MISC_USER;
	ev.attr = &a;
	ev.u.sample.ip = (uint64_t)(uintptr_t)&test_pipeline_startup;
	for (round = 0; round < 100 && !bad; round++) {
		struct session *sess = new_session();
		struct stacker *st = sess ? stacker_new(sess, w->syms, &w->sto)
					  : NULL;
		struct pipeline *pl = st ? pipeline_new(st, PIPELINE_MAX_THREADS,
							sink, c) : NULL;
		struct thread *t = sess ? session_thread_peek(sess, P_PID,
							      P_PID) : NULL;

		memset(c, 0, sizeof(*c));
		c->caller = pthread_self();
		c->fail_at = SIZE_MAX;
		if (!pl || !t || pipeline_threads(pl) != PIPELINE_MAX_THREADS)
			bad++;
		for (i = 0; pl && t && i < 2 * PIPELINE_BATCH + 5; i++)
			if (pipeline_submit(pl, &ev, t))
				bad++;
		if (!pl || pipeline_flush(pl) ||
		    c->n != 2 * PIPELINE_BATCH + 5)
			bad++;
		pipeline_free(pl);
		stacker_free(st);
		session_free(sess);
		sinkctx_release(c);
	}
	CHECK(bad == 0);
	free(c);
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_pipeline: timed out (a pipeline "
				  "call never returned)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	struct world w;
	bool ok;

	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);	/* the pipe feeder, should the reader
					   give up early */
	alarm(120);
	test_keep();
	ok = world_init(&w);
	CHECK(ok);
	if (ok) {
		/* the images must exercise what the pipeline has to keep
		 * in order: stitched and truncated stacks */
		CHECK(w.stitched > 0 && w.truncated > 0);
		CHECK(w.nr_ref == P_NR);
		test_pipeline_runs(&w);
		test_pipeline_errors(&w);
		test_pipeline_startup(&w);
	}
	world_release(&w);
	return check_done();
}
