/*
 * pdbuild.h - a tiny perf.data writer for unit tests: byte buffers, records
 * and whole files (header, ids, attrs, data, feature table) laid out the
 * way perf 6.1 writes them. Static functions only; include from a test.
 */
#ifndef PM_PDBUILD_H
#define PM_PDBUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "perfdata.h"

struct buf {
	uint8_t *p;
	size_t len, alloc;
};

static inline void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->alloc) {
		b->alloc = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->alloc);
		if (!b->p)
			abort();
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static inline void put16(struct buf *b, uint16_t v) { put(b, &v, 2); }
static inline void put32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static inline void put64(struct buf *b, uint64_t v) { put(b, &v, 8); }

static inline void pad8(struct buf *b)
{
	while (b->len % 8)
		put8(b, 0);
}

static inline void set64(struct buf *b, size_t off, uint64_t v)
{
	memcpy(b->p + off, &v, 8);
}

static inline void set16(struct buf *b, size_t off, uint16_t v)
{
	memcpy(b->p + off, &v, 2);
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Records: rec_begin writes the header with size 0, rec_end patches it. */
static inline size_t rec_begin(struct buf *b, uint32_t type, uint16_t misc)
{
	size_t at = b->len;

	put32(b, type);
	put16(b, misc);
	put16(b, 0);
	return at;
}

static inline void rec_end(struct buf *b, size_t at)
{
	set16(b, at + 6, (uint16_t)(b->len - at));
}

/* perf's string encoding in features: u32 len (padded to 64), bytes. */
static inline void put_fstr(struct buf *b, const char *s)
{
	uint32_t len = (uint32_t)strlen(s) + 1, padded = (len + 63) / 64 * 64;
	uint32_t i;

	put32(b, padded);
	put(b, s, len);
	for (i = len; i < padded; i++)
		put8(b, 0);
}

/* An event as the builder writes it (perf_event_attr, 128 bytes). */
struct tattr {
	uint32_t type;
	uint64_t config, sample_type, read_format, flags;
	uint64_t branch_sample_type, regs_user, regs_intr;
	uint32_t stack_user;
	uint64_t ids[4];
	size_t nr_ids;
};

#define TA_SAMPLE_ID_ALL (1ULL << 18)

static inline void put_attr(struct buf *b, const struct tattr *a)
{
	size_t at = b->len;

	put32(b, a->type);
	put32(b, 128);			/* attr.size, VER7 */
	put64(b, a->config);
	put64(b, 1);			/* sample_period */
	put64(b, a->sample_type);
	put64(b, a->read_format);
	put64(b, a->flags);
	while (b->len < at + 72)
		put8(b, 0);
	put64(b, a->branch_sample_type);	/* @72 */
	put64(b, a->regs_user);			/* @80 */
	put32(b, a->stack_user);		/* @88 */
	put32(b, 0);
	put64(b, a->regs_intr);			/* @96 */
	while (b->len < at + 128)
		put8(b, 0);
}

struct tfeat {
	unsigned id;
	struct buf data;
};

/*
 * A file-mode perf.data: [header][ids][attrs][data][feature table][feature
 * payloads], as perf 6.1 lays it out. feats must be sorted by id.
 */
static inline void build_file(struct buf *out, const struct tattr *attrs, size_t nr,
		       const struct buf *data, const struct tfeat *feats,
		       size_t nr_feats)
{
	size_t i, ids_at = 104, attrs_at, data_at, table_at, pay;
	uint64_t mask[4] = { 0 };

	memset(out, 0, sizeof(*out));
	put64(out, 0x32454c4946524550ULL);	/* "PERFILE2" */
	put64(out, 104);
	put64(out, 128 + 16);			/* attr_size */
	for (i = 0; i < 10; i++)
		put64(out, 0);			/* patched below */
	for (i = 0; i < nr; i++)
		put(out, attrs[i].ids, attrs[i].nr_ids * 8);
	attrs_at = out->len;
	for (i = 0; i < nr; i++) {
		size_t before = 0, k;

		for (k = 0; k < i; k++)
			before += attrs[k].nr_ids * 8;
		put_attr(out, &attrs[i]);
		put64(out, ids_at + before);
		put64(out, attrs[i].nr_ids * 8);
	}
	data_at = out->len;
	put(out, data->p, data->len);
	table_at = out->len;
	pay = table_at + 16 * nr_feats;
	for (i = 0; i < nr_feats; i++) {
		put64(out, pay);
		put64(out, feats[i].data.len);
		pay += feats[i].data.len;
		mask[feats[i].id / 64] |= 1ULL << (feats[i].id % 64);
	}
	for (i = 0; i < nr_feats; i++)
		put(out, feats[i].data.p, feats[i].data.len);
	set64(out, 24, attrs_at);
	set64(out, 32, nr * 144);
	set64(out, 40, data_at);
	set64(out, 48, data->len);
	memcpy(out->p + 72, mask, 32);
	(void)table_at;
}


/* The common test event: page-faults, IP|TID|TIME|PERIOD, sample_id_all,
 * so kernel records carry a TID|TIME trailer. */
#define ST_PF (1ULL << 0 | 1ULL << 1 | 1ULL << 2 | 1ULL << 8)

static inline struct tattr attr_pf(void)
{
	struct tattr a = { .type = 1, .config = 2, .sample_type = ST_PF,
			   .flags = TA_SAMPLE_ID_ALL, .ids = { 5 },
			   .nr_ids = 1 };
	return a;
}

static inline void trailer_tt(struct buf *b, uint32_t pid, uint64_t time)
{
	put32(b, pid);
	put32(b, pid);
	put64(b, time);
}

/* SAMPLE: ip, pid/tid, time, period */
static inline void rec_sample(struct buf *b, uint64_t ip, uint32_t pid,
			      uint64_t time, uint64_t period)
{
	size_t at = rec_begin(b, 9, 2);

	put64(b, ip);
	put32(b, pid);
	put32(b, pid);
	put64(b, time);
	put64(b, period);
	rec_end(b, at);
}

/* COMM: pid, tid, comm (padded to 8), trailer */
static inline void rec_comm(struct buf *b, uint32_t pid, const char *comm,
			    int exec, uint64_t time)
{
	size_t at = rec_begin(b, 3, exec ? 1 << 13 : 0);

	put32(b, pid);
	put32(b, pid);
	put(b, comm, strlen(comm) + 1);
	pad8(b);
	trailer_tt(b, pid, time);
	rec_end(b, at);
}

/* MMAP2: pid, tid, addr, len, pgoff, maj, min, ino, ino_gen, prot,
 * flags, filename, trailer */
static inline void rec_mmap2(struct buf *b, uint32_t pid, uint64_t start,
			     uint64_t len, uint64_t pgoff, const char *name,
			     uint64_t time)
{
	size_t at = rec_begin(b, 10, 2);

	put32(b, pid);
	put32(b, pid);
	put64(b, start);
	put64(b, len);
	put64(b, pgoff);
	put32(b, 8);		/* maj */
	put32(b, 1);		/* min */
	put64(b, 77);		/* ino */
	put64(b, 3);		/* ino_generation */
	put32(b, 5);		/* PROT_READ | PROT_EXEC */
	put32(b, 2);		/* MAP_PRIVATE */
	put(b, name, strlen(name) + 1);
	pad8(b);
	trailer_tt(b, pid, time);
	rec_end(b, at);
}

static inline void rec_round(struct buf *b)
{
	rec_end(b, rec_begin(b, 68, 0));
}

/* ---- fixtures shared by test_perfdata*.c ---- */

/* The minimal file: one event, COMM, MMAP2, SAMPLE, FINISHED_ROUND, and
 * the header features perf writes. */
static inline void minimal_file(struct buf *out)
{
	struct tattr a = attr_pf();
	struct buf d = { 0 };
	struct tfeat f[11];
	size_t i, at;

	rec_comm(&d, 42, "python3", 1, 100);
	rec_mmap2(&d, 42, 0x400000, 0x1000, 0, "/usr/bin/python3", 110);
	rec_sample(&d, 0x400123, 42, 120, 7);
	rec_round(&d);
	memset(f, 0, sizeof(f));
	f[0].id = 1;		/* TRACING_DATA: opaque blob */
	put(&f[0].data, "\x17\x08\x44tracing0.6", 14);
	f[1].id = 2;		/* BUILD_ID: header, pid, id[24], name */
	at = rec_begin(&f[1].data, 0, 0x8002);
	put32(&f[1].data, (uint32_t)-1);
	for (i = 0; i < 20; i++)
		put8(&f[1].data, (uint8_t)(0xa0 + i));
	put8(&f[1].data, 20);	/* size byte */
	put(&f[1].data, "\0\0", 3);
	put(&f[1].data, "/usr/bin/python3", 17);
	while ((f[1].data.len - at) % 64 != 36 % 64)
		put8(&f[1].data, 0);
	rec_end(&f[1].data, at);
	f[2].id = 3, put_fstr(&f[2].data, "testhost");
	f[3].id = 4, put_fstr(&f[3].data, "6.1.0-test");
	f[4].id = 5, put_fstr(&f[4].data, "6.1.187");
	f[5].id = 6, put_fstr(&f[5].data, "x86_64");
	f[6].id = 7, put32(&f[6].data, 4), put32(&f[6].data, 2);
	f[7].id = 8, put_fstr(&f[7].data, "Test CPU");
	f[8].id = 11;		/* CMDLINE: u32 nr, strings */
	put32(&f[8].data, 3);
	put_fstr(&f[8].data, "perf");
	put_fstr(&f[8].data, "record");
	put_fstr(&f[8].data, "-g");
	f[9].id = 12;		/* EVENT_DESC: nr, attr_sz, attr, nr_ids,
				   name, ids */
	put32(&f[9].data, 1);
	put32(&f[9].data, 128);
	put_attr(&f[9].data, &a);
	put32(&f[9].data, 1);
	put_fstr(&f[9].data, "page-faults:u");
	put64(&f[9].data, 5);
	f[10].id = 21, put64(&f[10].data, 120), put64(&f[10].data, 120);
	build_file(out, &a, 1, &d, f, 11);
	buf_free(&d);
	for (i = 0; i < 11; i++)
		buf_free(&f[i].data);
}

/* Pipe mode: header records first, consumed; the rest streamed. */
static inline void pipe_image(struct buf *p, int old_tracing)
{
	struct tattr a = attr_pf();
	size_t at;

	memset(p, 0, sizeof(*p));
	put64(p, 0x32454c4946524550ULL), put64(p, 16);	/* pipe header */
	at = rec_begin(p, PD_HEADER_ATTR, 0);	/* attr + ids */
	put_attr(p, &a), put64(p, 5), rec_end(p, at);
	at = rec_begin(p, PD_HEADER_FEATURE, 0);	/* HOSTNAME */
	put64(p, 3), put_fstr(p, "pipehost"), rec_end(p, at);
	at = rec_begin(p, PD_HEADER_FEATURE, 0);	/* 84 bytes: unaligned */
	put64(p, 6), put_fstr(p, "aarch64"), rec_end(p, at);
	at = rec_begin(p, PD_HEADER_TRACING_DATA, 0);	/* u32 size [u32] */
	put32(p, 24);
	if (!old_tracing)
		put32(p, 0);
	rec_end(p, at);
	put(p, "\x17\x08\x44tracing0.6\0payload!!!", 24);
	at = rec_begin(p, PD_ID_INDEX, 0);	/* nr, {id, idx, cpu, tid} */
	put64(p, 1), put64(p, 6), put64(p, 0), put64(p, 0), put64(p, 0);
	rec_end(p, at);
	at = rec_begin(p, PD_HEADER_BUILD_ID, PD_MISC_KERNEL);
	put32(p, (uint32_t)-1), put(p, "0123456789abcdefghij\0\0\0\0", 24);
	put(p, "[kernel.kallsyms]", 18), pad8(p), rec_end(p, at);
	at = rec_begin(p, PD_HEADER_FEATURE, 0);	/* end marker */
	put64(p, 32), rec_end(p, at);
	rec_comm(p, 1, "synth", 0, 0);		/* first non-header */
	at = rec_begin(p, PD_EVENT_UPDATE, 0);	/* type NAME, id, name */
	put64(p, 2), put64(p, 5), put(p, "renamed", 8), rec_end(p, at);
	at = rec_begin(p, PD_THREAD_MAP, 0);
	put64(p, 0), rec_end(p, at);
	rec_end(p, rec_begin(p, PD_FINISHED_INIT, 0));
	rec_sample(p, 1, 1, 10, 0);
	rec_sample(p, 2, 1, 5, 0);
	rec_round(p);
	rec_sample(p, 3, 1, 20, 0);
}

/* zstd: a record straddles two COMPRESSED records; also COMPRESSED2. */
static inline void compressed_file(struct buf *out, int use_c2, size_t *split_rec)
{
	struct tattr a = attr_pf();
	struct buf inner = { 0 }, d = { 0 }, z1 = { 0 }, z2 = { 0 };
	struct tfeat feat = { .id = 27 };
	ZSTD_CStream *cs = ZSTD_createCStream();
	ZSTD_outBuffer o;
	ZSTD_inBuffer in;
	size_t split, at, rem, i;

	rec_comm(&inner, 9, "zz", 1, 1);
	for (i = 0; i < 6; i++)
		rec_sample(&inner, 0x100 + i, 9, 10 + i, i);
	split = inner.len - 2 * 32 - 13;	/* inside sample 4 */
	*split_rec = 4;
	ZSTD_initCStream(cs, 3);
	z1.alloc = z2.alloc = ZSTD_compressBound(inner.len) + 64;
	z1.p = malloc(z1.alloc);
	z2.p = malloc(z2.alloc);
	in = (ZSTD_inBuffer){ inner.p, split, 0 };
	o = (ZSTD_outBuffer){ z1.p, z1.alloc, 0 };
	do
		rem = ZSTD_compressStream2(cs, &o, &in, ZSTD_e_flush);
	while (rem && !ZSTD_isError(rem));
	z1.len = o.pos;
	in = (ZSTD_inBuffer){ inner.p + split, inner.len - split, 0 };
	o = (ZSTD_outBuffer){ z2.p, z2.alloc, 0 };
	do
		rem = ZSTD_compressStream2(cs, &o, &in, ZSTD_e_end);
	while (rem && !ZSTD_isError(rem));
	z2.len = o.pos;
	ZSTD_freeCStream(cs);

	at = rec_begin(&d, PD_COMPRESSED, 0);	/* header + zstd bytes */
	put(&d, z1.p, z1.len), rec_end(&d, at);
	if (use_c2) {		/* header, u64 data_size, data, pad */
		at = rec_begin(&d, PD_COMPRESSED2, 0);
		put64(&d, z2.len), put(&d, z2.p, z2.len), pad8(&d);
	} else {
		at = rec_begin(&d, PD_COMPRESSED, 0);
		put(&d, z2.p, z2.len);
	}
	rec_end(&d, at);
	rec_round(&d);
	/* COMPRESSED feature: ver 0, type 1 (zstd), level, ratio, mmap_len */
	put32(&feat.data, 0), put32(&feat.data, 1), put32(&feat.data, 3);
	put32(&feat.data, 4), put32(&feat.data, 528384);
	build_file(out, &a, 1, &d, &feat, 1);
	buf_free(&inner), buf_free(&d), buf_free(&z1), buf_free(&z2);
	buf_free(&feat.data);
}

#endif
