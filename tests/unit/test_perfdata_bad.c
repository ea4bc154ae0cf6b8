/*
 * test_perfdata_bad.c - the perf.data reader on malformed input: refused
 * headers, bogus sizes and counts in attrs, features and records, fatal
 * record headers after delivered records, and truncation at every offset
 * of valid files (inline fixtures and the committed recordings).
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "pdbuild.h"
#include "perfdata.h"

struct res {
	size_t n;		/* records delivered */
	int rc;
	bool msg_ok;		/* rc < 0 came with a message */
	bool bounds_ok;		/* every record inside the input */
	bool ordered;		/* timestamps non-decreasing */
	uint64_t bad;
	char msg[512];
	char warn[512];
};

/* Open a private copy of exactly len bytes (so ASan sees over-reads). */
static struct perfdata *open_copy(const void *p, size_t len, uint8_t **copy,
				  struct pm_error *err)
{
	*copy = malloc(len ? len : 1);
	if (len)
		memcpy(*copy, p, len);
	return perfdata_open_mem(*copy, len, "bad", err);
}

static int run(const void *p, size_t len, struct res *r)
{
	struct pm_error err;
	struct perfdata *pd;
	struct pd_event ev;
	uint8_t *copy;
	uint64_t last = 0;

	memset(r, 0, sizeof(*r));
	r->bounds_ok = r->ordered = true;
	pd = open_copy(p, len, &copy, &err);
	if (!pd) {
		r->rc = err.code;
		r->msg_ok = err.code < 0 && err.msg[0];
		snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
		free(copy);
		return -1;
	}
	while ((r->rc = perfdata_next(pd, &ev, &err)) > 0) {
		r->n++;
		if (ev.size < 8 || !ev.data)
			r->bounds_ok = false;
		if (ev.data >= copy && ev.data < copy + len &&
		    (size_t)(ev.data - copy) + ev.size > len)
			r->bounds_ok = false;
		if (ev.sid.has_time) {
			r->ordered &= ev.sid.time >= last;
			last = ev.sid.time;
		}
	}
	r->msg_ok = r->rc == 0 || (r->rc == err.code && err.msg[0]);
	snprintf(r->msg, sizeof(r->msg), "%s", r->rc ? err.msg : "");
	snprintf(r->warn, sizeof(r->warn), "%s",
		 perfdata_warning(pd) ? perfdata_warning(pd) : "");
	r->bad = perfdata_stats(pd)->bad_records;
	if (perfdata_stats(pd)->out_of_order)
		r->ordered = true;	/* not required then */
	perfdata_free(pd);
	free(copy);
	return 0;
}

static void test_refused(void)
{
	static const uint8_t swapped[16] = { 0x32, 0x45, 0x4c, 0x49, 0x46,
		0x52, 0x45, 0x50, 0, 0, 0, 0, 0, 0, 0, 104 };
	struct buf f;
	struct res r;

	CHECK(run("", 0, &r) < 0 && r.rc == -PM_EEMPTY && r.msg_ok);
	CHECK(run("PERF", 4, &r) < 0 && r.rc == -PM_ETRUNCATED && r.msg_ok);
	CHECK(run("PERFFILE\0\0\0\0\0\0\0\0", 16, &r) < 0 &&
	      r.rc == -PM_EUNSUPPORTED && strstr(r.msg, "legacy"));
	CHECK(run(swapped, 16, &r) < 0 && r.rc == -PM_EENDIAN &&
	      strstr(r.msg, "other byte order"));
	CHECK(run("GIF89a..........", 16, &r) < 0 && r.rc == -PM_EMAGIC);

	minimal_file(&f);
	set64(&f, 8, 50);				/* header size */
	CHECK(run(f.p, f.len, &r) < 0 && r.rc == -PM_ECORRUPT && r.msg_ok);
	buf_free(&f);
	minimal_file(&f);
	set64(&f, 16, 0);				/* attr_size 0 */
	CHECK(run(f.p, f.len, &r) < 0 && r.rc == -PM_ECORRUPT &&
	      strstr(r.msg, "attr size field is 0"));
	buf_free(&f);
	minimal_file(&f);
	set64(&f, 24, f.len - 8);			/* attrs past EOF */
	CHECK(run(f.p, f.len, &r) < 0 && r.rc == -PM_ETRUNCATED &&
	      strstr(r.msg, "offset 24"));
	buf_free(&f);
	minimal_file(&f);
	set64(&f, 112 + 128, 1ULL << 62);		/* ids past EOF */
	CHECK(run(f.p, f.len, &r) < 0 && r.rc == -PM_ETRUNCATED && r.msg_ok);
	buf_free(&f);
	minimal_file(&f);
	set64(&f, 40, f.len + 1);			/* data past EOF */
	CHECK(run(f.p, f.len, &r) < 0 && r.rc == -PM_ETRUNCATED && r.msg_ok);
	buf_free(&f);
	minimal_file(&f);
	set64(&f, 48, UINT64_MAX - 8);			/* data size wraps */
	CHECK(run(f.p, f.len, &r) < 0 && r.msg_ok);
	buf_free(&f);
}

static void test_bad_features(void)
{
	struct tattr a = attr_pf();
	struct buf d = { 0 }, f;
	struct tfeat ft[4];
	struct res r;
	size_t table;

	rec_sample(&d, 1, 1, 1, 1);
	memset(ft, 0, sizeof(ft));
	ft[0].id = 3;			/* HOSTNAME: huge string length */
	put32(&ft[0].data, 0xffffffffu), put(&ft[0].data, "abc", 4);
	ft[1].id = 11;			/* CMDLINE: huge count */
	put32(&ft[1].data, 0x40000000u), put_fstr(&ft[1].data, "x");
	ft[2].id = 12;			/* EVENT_DESC: attr_sz 0 */
	put32(&ft[2].data, 1), put32(&ft[2].data, 0);
	ft[3].id = 2;			/* BUILD_ID: entry size 0 */
	put64(&ft[3].data, 0);
	ft[3].id = 21;			/* SAMPLE_TIME: too short */
	build_file(&f, &a, 1, &d, ft, 4);
	CHECK(run(f.p, f.len, &r) == 0 && r.rc == 0 && r.n == 1);
	CHECK(strstr(r.warn, "feature 3") != NULL);
	/* A feature section pointing past EOF, and one with a huge size. */
	table = 256 + d.len;
	set64(&f, table, f.len + 100);
	set64(&f, table + 24, UINT64_MAX);
	CHECK(run(f.p, f.len, &r) == 0 && r.rc == 0 && r.n == 1 &&
	      strstr(r.warn, "past the end"));
	/* Feature table itself past EOF. */
	f.len = table + 8;
	CHECK(run(f.p, f.len, &r) == 0 && r.rc == 0 && r.n == 1 &&
	      strstr(r.warn, "feature table"));
	buf_free(&f);
	buf_free(&d);
	buf_free(&ft[0].data), buf_free(&ft[1].data);
	buf_free(&ft[2].data), buf_free(&ft[3].data);
}

/* A file with one event of sample_type st and, in order: a good sample,
 * the bad record body (as given), a good sample. */
static void bad_sample(uint64_t st, const struct buf *body, struct res *r)
{
	struct tattr a = attr_pf();
	struct buf d = { 0 }, f;
	size_t at;

	a.sample_type = st;
	a.regs_user = 0xff;
	rec_sample(&d, 1, 1, 1, 1);		/* only valid for ST_PF... */
	if (st != ST_PF)
		d.len = 0;			/* ...so no good record then */
	at = rec_begin(&d, PD_SAMPLE, 0);
	put(&d, body->p, body->len);
	rec_end(&d, at);
	if (st == ST_PF)
		rec_sample(&d, 2, 1, 2, 1);
	build_file(&f, &a, 1, &d, NULL, 0);
	run(f.p, f.len, r);
	buf_free(&f);
	buf_free(&d);
}

static void test_bad_samples(void)
{
	uint64_t base = PD_S_IP | PD_S_TID | PD_S_TIME;
	struct buf b = { 0 };
	struct res r;

#define HEAD() (b.len = 0, put64(&b, 0x10), put64(&b, 1), put64(&b, 7))
	HEAD();					/* CALLCHAIN nr huge */
	put64(&b, 1ULL << 60), put64(&b, 0);
	bad_sample(base | PD_S_CALLCHAIN, &b, &r);
	CHECK(r.rc == 0 && r.n == 0 && r.bad == 1 &&
	      strstr(r.warn, "CALLCHAIN") && strstr(r.warn, "offset 256"));
	HEAD();					/* dyn_size > size */
	put64(&b, 8), put64(&b, 0), put64(&b, 9);
	bad_sample(base | PD_S_STACK_USER, &b, &r);
	CHECK(r.bad == 1 && strstr(r.warn, "dyn_size"));
	HEAD();					/* STACK_USER size huge */
	put64(&b, UINT64_MAX - 3), put64(&b, 0);
	bad_sample(base | PD_S_STACK_USER, &b, &r);
	CHECK(r.bad == 1 && r.msg_ok);
	HEAD();					/* RAW size huge */
	put32(&b, 0xfffffff0u), put32(&b, 0);
	bad_sample(base | PD_S_RAW, &b, &r);
	CHECK(r.bad == 1 && strstr(r.warn, "RAW"));
	HEAD();					/* BRANCH nr huge */
	put64(&b, 1ULL << 62);
	bad_sample(base | PD_S_BRANCH_STACK, &b, &r);
	CHECK(r.bad == 1 && strstr(r.warn, "BRANCH_STACK"));
	HEAD();					/* regs past the end */
	put64(&b, 2), put64(&b, 1);
	bad_sample(base | PD_S_REGS_USER, &b, &r);
	CHECK(r.bad == 1 && strstr(r.warn, "REGS_USER"));
	HEAD();					/* AUX size huge */
	put64(&b, 1ULL << 63);
	bad_sample(base | PD_S_AUX, &b, &r);
	CHECK(r.bad == 1 && strstr(r.warn, "AUX"));
	b.len = 0, put64(&b, 1);		/* fixed part short */
	bad_sample(ST_PF, &b, &r);
	CHECK(r.rc == 0 && r.n == 2 && r.bad == 1 && strstr(r.warn, "TID"));
#undef HEAD
	buf_free(&b);
}

static void test_bad_records(void)
{
	struct tattr a = attr_pf();
	struct buf d = { 0 }, f;
	struct res r;
	size_t at;

	/* MMAP2 whose filename has no NUL; COMM too short for its trailer:
	 * skipped, counted; the first message kept. */
	rec_sample(&d, 1, 1, 1, 1);
	at = rec_begin(&d, PD_MMAP2, 0);
	put(&d, "\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1"
	    "\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1"
	    "\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1\1", 88);
	rec_end(&d, at);
	at = rec_begin(&d, PD_COMM, 0);
	put64(&d, 0), rec_end(&d, at);
	rec_sample(&d, 2, 1, 2, 1);
	build_file(&f, &a, 1, &d, NULL, 0);
	CHECK(run(f.p, f.len, &r) == 0 && r.rc == 0 && r.n == 2 &&
	      r.bad == 2 && strstr(r.warn, "MMAP2") &&
	      strstr(r.warn, "NUL") && strstr(r.warn, "offset 296"));
	buf_free(&f);

	/* header.size < 8 is fatal; what came before is delivered. */
	d.len = 0;
	rec_sample(&d, 1, 1, 1, 1);
	rec_sample(&d, 2, 1, 2, 1);
	put32(&d, PD_SAMPLE), put16(&d, 0), put16(&d, 4), put64(&d, 0);
	rec_sample(&d, 3, 1, 3, 1);
	build_file(&f, &a, 1, &d, NULL, 0);
	CHECK(run(f.p, f.len, &r) == 0 && r.n == 2 &&
	      r.rc == -PM_ECORRUPT && strstr(r.msg, "offset 336") &&
	      strstr(r.msg, "less than 8"));
	/* A record running past the data section. */
	set16(&f, 256 + 80 + 6, 200);
	CHECK(run(f.p, f.len, &r) == 0 && r.n == 2 &&
	      r.rc == -PM_ECORRUPT && strstr(r.msg, "past the end"));
	/* data.size 0 (perf killed): warn, read to EOF. */
	set16(&f, 256 + 80 + 6, 40);
	set64(&f, 48, 0);
	CHECK(run(f.p, f.len, &r) == 0 && r.msg_ok && r.n >= 3 &&
	      strstr(r.warn, "data size is 0"));
	buf_free(&f);

	/* Two events whose sample ids sit at different places. */
	{
		struct tattr two[2] = { attr_pf(), attr_pf() };

		two[0].sample_type |= PD_S_ID;
		two[1].sample_type |= PD_S_IDENTIFIER;
		two[1].ids[0] = 6;
		d.len = 0;
		build_file(&f, two, 2, &d, NULL, 0);
		CHECK(run(f.p, f.len, &r) < 0 &&
		      r.rc == -PM_EUNSUPPORTED && r.msg_ok);
		buf_free(&f);
	}
	/* Garbage in a COMPRESSED record. */
	d.len = 0;
	at = rec_begin(&d, PD_COMPRESSED, 0);
	put(&d, "\x28\xb5\x2f\xfd garbage garbage", 20), rec_end(&d, at);
	build_file(&f, &a, 1, &d, NULL, 0);
	CHECK(run(f.p, f.len, &r) == 0 && r.rc == -PM_EZSTD &&
	      strstr(r.msg, "offset 256"));
	buf_free(&f);
	buf_free(&d);
}

static void test_bad_pipe(void)
{
	struct tattr a = attr_pf();
	struct buf p = { 0 };
	struct res r;
	size_t at;

	put64(&p, 0x32454c4946524550ULL), put64(&p, 16);
	at = rec_begin(&p, PD_HEADER_ATTR, 0);	/* attr.size too big */
	put32(&p, 1), put32(&p, 4000), put64(&p, 0), rec_end(&p, at);
	at = rec_begin(&p, PD_HEADER_ATTR, 0);
	put_attr(&p, &a), put64(&p, 5), rec_end(&p, at);
	at = rec_begin(&p, PD_AUXTRACE, 0);	/* size, offset, ref, ... */
	put64(&p, 16), put64(&p, 0), put64(&p, 0), put64(&p, 0);
	put64(&p, 0), rec_end(&p, at);
	put(&p, "auxtrace payload", 16);	/* skipped */
	rec_sample(&p, 1, 1, 1, 1);
	CHECK(run(p.p, p.len, &r) == 0 && r.rc == 0 && r.n == 2 &&
	      r.bad == 1 && strstr(r.warn, "HEADER_ATTR"));
	at = rec_begin(&p, PD_HEADER_TRACING_DATA, 0);	/* past the end */
	put32(&p, 1000000), put32(&p, 0), rec_end(&p, at);
	CHECK(run(p.p, p.len, &r) == 0 && r.n == 2 &&
	      r.rc == -PM_ETRUNCATED && r.msg_ok);
	buf_free(&p);
}

/* Cut a valid image at every length; never crash, and either fail with a
 * message or deliver records. File mode loses nothing silently. */
static void truncate_all(const char *what, const uint8_t *p, size_t len,
			 bool pipe)
{
	struct res full, r;
	bool ok = true;
	size_t cut;

	run(p, len, &full);
	CHECK(full.rc == 0 && full.n > 0);
	for (cut = 0; cut < len; cut++) {
		if (run(p, cut, &r) < 0) {
			ok &= r.msg_ok;
			continue;
		}
		ok &= r.msg_ok && r.bounds_ok && r.ordered && r.n <= full.n;
		if (!pipe && r.rc == 0)
			ok &= r.n == full.n;
		if (!ok) {
			fprintf(stderr, "%s cut at %zu: rc %d n %zu/%zu %s\n",
				what, cut, r.rc, r.n, full.n, r.msg);
			break;
		}
	}
	CHECK(ok);
}

static void test_truncation(void)
{
	static const char *const real[] = { "perfdata-pf-g.data",
		"perfdata-pf-g-pipe.data", "perfdata-pf-g-z.data" };
	struct buf b;
	size_t split, i;
	FILE *fp;

	minimal_file(&b);
	truncate_all("minimal", b.p, b.len, false);
	buf_free(&b);
	pipe_image(&b, 0);
	truncate_all("pipe", b.p, b.len, true);
	buf_free(&b);
	pipe_image(&b, 1);
	truncate_all("pipe-old", b.p, b.len, true);
	buf_free(&b);
	compressed_file(&b, 0, &split);
	truncate_all("compressed", b.p, b.len, false);
	buf_free(&b);
	compressed_file(&b, 1, &split);
	truncate_all("compressed2", b.p, b.len, false);
	buf_free(&b);
	for (i = 0; i < 3; i++) {
		char path[128];

		snprintf(path, sizeof(path), "tests/data/%s", real[i]);
		memset(&b, 0, sizeof(b));
		b.alloc = 1 << 16;
		b.p = malloc(b.alloc);
		fp = fopen(path, "rb");
		CHECK(fp != NULL);
		if (fp) {
			b.len = fread(b.p, 1, b.alloc, fp);
			fclose(fp);
			truncate_all(real[i], b.p, b.len, i == 1);
		}
		buf_free(&b);
	}
}

/* Every byte of a small file set to 0xff and to 0x00 in turn. */
static void test_mutations(void)
{
	struct buf b;
	struct res r;
	bool ok = true;
	size_t i, split;
	uint8_t save;
	int k;

	for (k = 0; k < 2; k++) {
		if (k == 0)
			minimal_file(&b);
		else
			compressed_file(&b, 0, &split);
		for (i = 0; i < b.len; i++) {
			save = b.p[i];
			b.p[i] = 0xff;
			run(b.p, b.len, &r);
			ok &= r.msg_ok && r.bounds_ok && r.ordered;
			b.p[i] = 0;
			run(b.p, b.len, &r);
			ok &= r.msg_ok && r.bounds_ok && r.ordered;
			b.p[i] = save;
		}
		buf_free(&b);
	}
	CHECK(ok);
}

int main(void)
{
	test_refused();
	test_bad_features();
	test_bad_samples();
	test_bad_records();
	test_bad_pipe();
	test_truncation();
	test_mutations();
	return check_done();
}
