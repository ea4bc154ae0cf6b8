/*
 * test_jitdump.c - jitdump parsing (records, rules from code bytes and from
 * the dump's .eh_frame, damage, truncation, byte order, ownership), the
 * pymap builder/merge API and labels of "py::" symbol names.
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ehframe.h"
#include "jitdump.h"
#include "pymap.h"
#include "tramp.h"

/* ---- fixtures: bytes as CPython 3.13.0 -X perf_jit writes them (x86-64,
 * little endian), cut from a real /tmp/jit-PID.dump ---- */

static const uint8_t hdr[40] = {
	0x44, 0x54, 0x69, 0x4a,		/* magic "JiTD" = 0x4A695444 */
	0x01, 0x00, 0x00, 0x00,		/* version 1 */
	0x28, 0x00, 0x00, 0x00,		/* total_size 40 */
	0x00, 0x00, 0x00, 0x00,		/* elf_mach 0 (the 3.13 bug) */
	0x60, 0x1c, 0x5f, 0x74,		/* pad1: uninitialized by 3.13 */
	0x7f, 0x08, 0x00, 0x00,		/* pid 2175 */
	0x65, 0x62, 0xb6, 0xe1, 0x19, 0x61, 0x06, 0x00,	/* timestamp (us) */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* flags 0 */
};

/* JIT_CODE_UNWINDING_INFO, written before every code load */
static const uint8_t unwind_rec[112] = {
	0x04, 0x00, 0x00, 0x00,		/* id 4 UNWINDING_INFO */
	0x70, 0x00, 0x00, 0x00,		/* total_size 112 */
	0x6d, 0xb1, 0x2e, 0xb0, 0x48, 0x02, 0x00, 0x00,	/* timestamp */
	0x44, 0, 0, 0, 0, 0, 0, 0,	/* unwinding_size 68 */
	0x14, 0, 0, 0, 0, 0, 0, 0,	/* eh_frame_hdr_size 20 */
	0x50, 0, 0, 0, 0, 0, 0, 0,	/* mapped_size 80 */
	/* .eh_frame CIE: length 20, id 0, version 1, "zR", code align 1,
	 * data align -8, RA column 16, aug len 1, pcrel|sdata4,
	 * def_cfa rsp+8, offset rip cfa-8, nop nop */
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x7a, 0x52, 0x00, 0x01, 0x78, 0x10, 0x01,
	0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00,
	/* FDE: length 20, CIE pointer 28, pc_begin -0x30 (pcrel),
	 * pc_range 11, aug len 0, advance 4, def_cfa_offset 16,
	 * advance 6, def_cfa_offset 8, nop */
	0x14, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
	0xd0, 0xff, 0xff, 0xff, 0x0b, 0x00, 0x00, 0x00,
	0x00, 0x44, 0x0e, 0x10, 0x46, 0x0e, 0x08, 0x00,
	/* .eh_frame_hdr: version 1, encodings, eh_frame_ptr, 1 FDE, table */
	0x01, 0x1b, 0x03, 0x3b, 0xcc, 0xff, 0xff, 0xff,
	0x01, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff,
	0xe8, 0xff, 0xff, 0xff,
	0x00, 0x00, 0x00, 0x00,		/* padding to 8 */
};

/* JIT_CODE_LOAD of py::spin:/app.py at 0x7f0000001000 */
static const uint8_t load_rec[84] = {
	0x00, 0x00, 0x00, 0x00,		/* id 0 CODE_LOAD */
	0x54, 0x00, 0x00, 0x00,		/* total_size 84 */
	0x7e, 0xb2, 0x2e, 0xb0, 0x48, 0x02, 0x00, 0x00,	/* timestamp */
	0x7f, 0x08, 0x00, 0x00,		/* pid */
	0x7f, 0x08, 0x00, 0x00,		/* tid */
	0x00, 0x10, 0x00, 0x00, 0x00, 0x7f, 0x00, 0x00,	/* vma */
	0x00, 0x10, 0x00, 0x00, 0x00, 0x7f, 0x00, 0x00,	/* code_addr */
	0x0b, 0, 0, 0, 0, 0, 0, 0,	/* code_size 11 */
	0x01, 0, 0, 0, 0, 0, 0, 0,	/* code_index 1 */
	'p', 'y', ':', ':', 's', 'p', 'i', 'n', ':', '/', 'a', 'p', 'p',
	'.', 'p', 'y', 0,		/* name */
	0x48, 0x83, 0xec, 0x08,		/* sub $8,%rsp */
	0xff, 0xd1,			/* call *%rcx */
	0x48, 0x83, 0xc4, 0x08,		/* add $8,%rsp */
	0xc3,				/* ret */
};

/* the CET build's template: endbr64 first, so the hard-coded FDE above
 * is 4 bytes off for it */
static const uint8_t code_cet[15] = {
	0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x08,
	0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3,
};

/* aarch64: stp x29,x30,[sp,#-16]!; mov x29,sp; blr x3;
 * ldp x29,x30,[sp],#16; ret */
static const uint8_t code_a64[20] = {
	0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0x60, 0x00, 0x3f,
	0xd6, 0xfd, 0x7b, 0xc1, 0xa8, 0xc0, 0x03, 0x5f, 0xd6,
};

/* ud2 and nops: not a template */
static const uint8_t code_junk[11] = {
	0x0f, 0x0b, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
};

/* ---- record writers for the variants ---- */

struct buf {
	uint8_t b[8192];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n <= sizeof(b->b)) {
		memcpy(b->b + b->n, p, n);
		b->n += n;
	}
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void rec_prefix(struct buf *b, uint32_t id, uint32_t total)
{
	put32(b, id);
	put32(b, total);
	put64(b, 0);
}

static void rec_load(struct buf *b, uint64_t addr, const char *name,
		     const uint8_t *code, uint64_t size)
{
	rec_prefix(b, 0, (uint32_t)(16 + 40 + strlen(name) + 1 + size));
	put32(b, 1);
	put32(b, 1);
	put64(b, addr);
	put64(b, addr);
	put64(b, size);
	put64(b, 7);
	put(b, name, strlen(name) + 1);
	put(b, code, (size_t)size);
}

static void rec_move(struct buf *b, uint64_t from, uint64_t to, uint64_t size)
{
	rec_prefix(b, 1, 16 + 48);
	put32(b, 1);
	put32(b, 1);
	put64(b, to);
	put64(b, from);
	put64(b, to);
	put64(b, size);
	put64(b, 1);
}

/* header with elf_mach mach */
static void put_hdr(struct buf *b, uint32_t mach)
{
	put(b, hdr, sizeof(hdr));
	memcpy(b->b + b->n - 28, &mach, 4);
}

static struct pymap *parse_buf(const struct buf *b, struct jitdump_stats *st,
			       struct pm_error *err)
{
	return jitdump_parse(b->b, b->n, st, err);
}

static const struct tramp_row *row_at(const struct pymap *m, uint64_t a)
{
	const struct pymap_entry *e = pymap_lookup(m, a);

	if (!e || !e->rule)
		return NULL;
	return tramp_row_at(e->rule, a - e->start);
}

/* ---- tests ---- */

/* The fixture as a whole: what CPython writes, plus the record kinds it
 * does not (move, debug info, unknown, close). */
static void build_main(struct buf *b)
{
	b->n = 0;
	put(b, hdr, sizeof(hdr));
	put(b, unwind_rec, sizeof(unwind_rec));
	put(b, load_rec, sizeof(load_rec));
	put(b, unwind_rec, sizeof(unwind_rec));
	rec_load(b, 0x7f0000001110, "py::Work.a:/src/pkg/__init__.py",
		 code_cet, sizeof(code_cet));
	rec_prefix(b, 2, 16 + 16);		/* DEBUG_INFO, no entries */
	put64(b, 0x7f0000001000);
	put64(b, 0);
	rec_prefix(b, 99, 16 + 4);		/* unknown record: skipped */
	put32(b, 0xdeadbeef);
	rec_move(b, 0x7f0000001000, 0x7f0000002000, 11);
}

static void test_cpython_313(void)
{
	struct buf b;
	struct jitdump_stats st;
	struct pm_error err = {0};
	const struct pymap_entry *e;
	const struct tramp_row *r;
	struct tramp_rule fde;
	struct pymap *m;

	build_main(&b);
	rec_prefix(&b, 3, 16);			/* CLOSE */
	put(&b, "garbage after close", 19);
	m = parse_buf(&b, &st, &err);
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(pymap_count(m) == 3);
	CHECK(st.pid == 2175 && st.elf_mach == 0);
	CHECK(st.loads == 2 && st.decoded == 2 && st.from_eh_frame == 0);
	CHECK(st.unwinding_infos == 2 && st.debug_infos == 1);
	CHECK(st.unknown == 1 && st.moves == 1 && st.bad == 0);
	CHECK(st.closed && !st.cut);
	CHECK_STR(st.note, "");

	e = pymap_lookup(m, 0x7f0000001000);
	CHECK(e != NULL);
	CHECK_STR(e ? e->label : NULL, "spin (app.py)");
	CHECK_STR(e ? e->qualname : NULL, "spin");
	CHECK(e && e->size == 11 && e->rule);
	CHECK(e && e->rule && e->rule->machine == EM_X86_64 &&
	      e->rule->ret_off == 6);
	r = row_at(m, 0x7f0000001006);		/* the return address */
	CHECK(r && r->cfa_reg == 7 && r->cfa_off == 16 &&
	      r->ra.where == TRAMP_AT_CFA && r->ra.off == -8);
	CHECK(pymap_lookup(m, 0x7f000000100b) == NULL);

	/* endbr64 copy: decoded from its bytes, return at +10 with CFA
	 * rsp+16; the dump's FDE (for the 11-byte template) says rsp+8 */
	e = pymap_lookup(m, 0x7f000000111a);
	CHECK_STR(e ? e->label : NULL, "Work.a (pkg/__init__.py)");
	CHECK(e && e->rule && e->rule->ret_off == 10);
	r = row_at(m, 0x7f000000111a);
	CHECK(r && r->cfa_off == 16);
	CHECK(ehframe_rule(0, unwind_rec + 40, 48, 15, &fde, NULL) == 0);
	r = tramp_row_at(&fde, 10);
	CHECK(r && r->cfa_off == 8);

	/* moved copy keeps name and rule */
	e = pymap_lookup(m, 0x7f0000002006);
	CHECK_STR(e ? e->label : NULL, "spin (app.py)");
	CHECK(e && e->rule && e->rule->ret_off == 6);
	pymap_free(m);
}

static void test_rule_from_eh_frame(void)
{
	struct buf b = { .n = 0 };
	struct jitdump_stats st;
	const struct pymap_entry *e;
	const struct tramp_row *r;
	struct pymap *m;

	put(&b, hdr, sizeof(hdr));
	put(&b, unwind_rec, sizeof(unwind_rec));
	rec_load(&b, 0x1000, "py::f:/a.py", code_junk, sizeof(code_junk));
	/* the unwinding info was used up: the next load has no rule */
	rec_load(&b, 0x2000, "py::g:/a.py", code_junk, sizeof(code_junk));
	m = parse_buf(&b, &st, NULL);
	CHECK(m && pymap_count(m) == 2);
	CHECK(st.from_eh_frame == 1 && st.no_rule == 1 && st.decoded == 0);
	e = m ? pymap_lookup(m, 0x1000) : NULL;
	CHECK(e && e->rule && e->rule->ret_off == TRAMP_RET_ANY &&
	      e->rule->size == 11 && e->rule->nr_rows == 3);
	if (e && e->rule) {
		r = tramp_row_at(e->rule, 0);
		CHECK(r && r->end == 4 && r->cfa_off == 8);
		r = tramp_row_at(e->rule, 6);
		CHECK(r && r->start == 4 && r->end == 10 && r->cfa_off == 16);
		CHECK(r && r->ra.where == TRAMP_AT_CFA && r->ra.off == -8 &&
		      r->fp.where == TRAMP_SAME);
		r = tramp_row_at(e->rule, 10);
		CHECK(r && r->cfa_off == 8);
	}
	e = m ? pymap_lookup(m, 0x2000) : NULL;
	CHECK(e && !e->rule);
	pymap_free(m);
}

static void test_aarch64(void)
{
	struct buf b = { .n = 0 };
	struct jitdump_stats st;
	const struct pymap_entry *e;
	struct pymap *m;

	put_hdr(&b, EM_AARCH64);
	rec_load(&b, 0xffff00001000, "py::h:/b.py", code_a64,
		 sizeof(code_a64));
	/* x86 bytes in an aarch64 dump do not decode */
	rec_load(&b, 0xffff00002000, "py::i:/b.py", load_rec + 73, 11);
	m = parse_buf(&b, &st, NULL);
	CHECK(m != NULL);
	CHECK(st.elf_mach == EM_AARCH64 && st.decoded == 1 && st.no_rule == 1);
	e = m ? pymap_lookup(m, 0xffff0000100c) : NULL;
	CHECK(e && e->rule && e->rule->machine == EM_AARCH64 &&
	      e->rule->ret_off == 12);
	pymap_free(m);

	/* elf_mach 0: the bytes say which */
	b.n = 0;
	put_hdr(&b, 0);
	rec_load(&b, 0xffff00001000, "py::h:/b.py", code_a64,
		 sizeof(code_a64));
	m = parse_buf(&b, &st, NULL);
	e = m ? pymap_lookup(m, 0xffff00001000) : NULL;
	CHECK(e && e->rule && e->rule->machine == EM_AARCH64);
	pymap_free(m);
}

static void test_bad_records(void)
{
	struct buf b = { .n = 0 };
	struct jitdump_stats st;
	struct pm_error err = {0};
	struct pymap *m;
	size_t at;

	put(&b, hdr, sizeof(hdr));
	/* code_size 12 with 11 code bytes in the record */
	at = b.n;
	put(&b, load_rec, sizeof(load_rec));
	b.b[at + 40] = 12;
	/* name without its NUL: the record ends inside the name */
	rec_prefix(&b, 0, 16 + 40 + 5);
	put(&b, load_rec + 16, 40);
	put(&b, "py::x", 5);
	/* unwinding_size past the record */
	rec_prefix(&b, 4, 16 + 24);
	put64(&b, 100);
	put64(&b, 0);
	put64(&b, 0);
	/* eh_frame_hdr_size over unwinding_size */
	rec_prefix(&b, 4, 16 + 24 + 8);
	put64(&b, 8);
	put64(&b, 9);
	put64(&b, 0);
	put64(&b, 0);
	/* a code move too short, and one from nowhere */
	rec_prefix(&b, 1, 16 + 8);
	put64(&b, 0);
	rec_move(&b, 0x5000, 0x6000, 11);
	/* a code load of size 0 */
	rec_load(&b, 0x3000, "py::z:/z.py", code_junk, 0);
	/* still parsed after all that */
	put(&b, load_rec, sizeof(load_rec));
	m = parse_buf(&b, &st, &err);
	CHECK(m && pymap_count(m) == 1);
	CHECK(st.bad == 7 && st.loads == 4 && !st.cut);
	CHECK(strstr(st.note, "record 0 at offset 40") != NULL);
	CHECK(m && pymap_lookup(m, 0x7f0000001000) != NULL);
	pymap_free(m);

	/* a record size under the prefix stops the parse, keeping what came
	 * before */
	b.n = 0;
	put(&b, hdr, sizeof(hdr));
	put(&b, load_rec, sizeof(load_rec));
	rec_prefix(&b, 0, 15);
	put(&b, load_rec, sizeof(load_rec));
	m = parse_buf(&b, &st, &err);
	CHECK(m && pymap_count(m) == 1 && st.loads == 1 && st.bad == 1);
	CHECK(strstr(st.note, "record 1 at offset 124: size 15") != NULL);
	pymap_free(m);

	/* so does an absurd one */
	b.n = 0;
	put(&b, hdr, sizeof(hdr));
	rec_prefix(&b, 0, 0xfffffff0u);
	m = parse_buf(&b, &st, &err);
	CHECK(m && pymap_count(m) == 0 && st.bad == 1 && st.note[0]);
	pymap_free(m);
}

/* Every prefix of the fixture: a clean error before the header is whole,
 * a pymap of the records that fit after. */
static void test_truncated(void)
{
	struct buf b;
	struct jitdump_stats st;
	struct pm_error err;
	size_t k, ends[8], nends = 0, pos, bad = 0;
	struct pymap *m;

	build_main(&b);
	/* record boundaries */
	for (pos = sizeof(hdr); pos < b.n && nends < 8;) {
		uint32_t total;

		memcpy(&total, b.b + pos + 4, 4);
		pos += total;
		ends[nends++] = pos;
	}
	CHECK(nends == 7 && ends[nends - 1] == b.n);
	for (k = 0; k <= b.n; k++) {
		size_t i;
		bool boundary = k == sizeof(hdr);

		memset(&err, 0, sizeof(err));
		m = jitdump_parse(b.b, k, &st, &err);
		if (k < sizeof(hdr)) {
			if (m || err.code == 0 || !err.msg[0])
				bad++;
			if (k == 0 && err.code != -PM_EEMPTY)
				bad++;
			if (k > 0 && err.code != -PM_ETRUNCATED)
				bad++;
			pymap_free(m);
			continue;
		}
		for (i = 0; i < nends; i++)
			if (ends[i] == k)
				boundary = true;
		if (!m || st.cut == boundary || st.bad ||
		    pymap_count(m) > 3 || (st.cut && !st.note[0]))
			bad++;
		pymap_free(m);
	}
	CHECK(bad == 0);
}

static void test_header_errors(void)
{
	struct buf b;
	struct pm_error err;
	struct jitdump_stats st;
	struct pymap *m;
	uint32_t v;

	/* other byte order: magic bytes 4a 69 54 44 */
	b.n = 0;
	put(&b, hdr, sizeof(hdr));
	b.b[0] = 0x4a; b.b[1] = 0x69; b.b[2] = 0x54; b.b[3] = 0x44;
	memset(&err, 0, sizeof(err));
	CHECK(parse_buf(&b, NULL, &err) == NULL && err.code == -PM_EENDIAN);
	CHECK(strstr(err.msg, "other byte order") != NULL);

	b.b[0] = 'P';
	CHECK(parse_buf(&b, NULL, &err) == NULL && err.code == -PM_EMAGIC);

	b.n = 0;
	put(&b, hdr, sizeof(hdr));
	v = 2;
	memcpy(b.b + 4, &v, 4);
	CHECK(parse_buf(&b, NULL, &err) == NULL &&
	      err.code == -PM_EUNSUPPORTED);
	CHECK(strstr(err.msg, "version 2") != NULL);

	v = 1;
	memcpy(b.b + 4, &v, 4);
	v = 39;
	memcpy(b.b + 8, &v, 4);
	CHECK(parse_buf(&b, NULL, &err) == NULL && err.code == -PM_ECORRUPT);

	/* a longer header (a future field) is skipped */
	v = 48;
	memcpy(b.b + 8, &v, 4);
	put64(&b, 0);
	put(&b, load_rec, sizeof(load_rec));
	m = parse_buf(&b, &st, &err);
	CHECK(m && pymap_count(m) == 1);
	pymap_free(m);
	/* ... but must be there */
	b.n = 44;
	CHECK(parse_buf(&b, NULL, &err) == NULL &&
	      err.code == -PM_ETRUNCATED);
}

static void test_load_file(void)
{
	char dir[] = "/tmp/test_jitdump.XXXXXX", path[64], link[64];
	struct jitdump_stats st;
	struct pm_error err;
	struct pymap *m;
	struct buf b;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/jit-2175.dump", dir);
	snprintf(link, sizeof(link), "%s/jit-1.dump", dir);
	build_main(&b);
	f = fopen(path, "wb");
	CHECK(f && fwrite(b.b, 1, b.n, f) == b.n);
	if (f)
		fclose(f);
	m = jitdump_load(path, false, &st, &err);
	CHECK(m && pymap_count(m) == 3 && st.loads == 2);
	pymap_free(m);

	/* 1000 loads (84 KB): records straddle the 64 KiB read buffer */
	f = fopen(path, "wb");
	if (f) {
		uint8_t rec[sizeof(load_rec)];
		uint64_t a;
		int i;

		fwrite(hdr, 1, sizeof(hdr), f);
		for (i = 0; i < 1000; i++) {
			memcpy(rec, load_rec, sizeof(rec));
			a = 0x7f0000001000 + (uint64_t)i * 0x10;
			memcpy(rec + 24, &a, 8);
			memcpy(rec + 32, &a, 8);
			fwrite(rec, 1, sizeof(rec), f);
		}
		fclose(f);
	}
	m = jitdump_load(path, false, &st, &err);
	CHECK(m && pymap_count(m) == 1000 && st.decoded == 1000 && !st.cut);
	CHECK(m && pymap_lookup(m, 0x7f0000001000 + 999 * 0x10 + 6) != NULL);
	pymap_free(m);
	f = fopen(path, "wb");
	CHECK(f && fwrite(b.b, 1, b.n, f) == b.n);
	if (f)
		fclose(f);

	CHECK(symlink(path, link) == 0);
	memset(&err, 0, sizeof(err));
	CHECK(jitdump_load(link, true, NULL, &err) == NULL &&
	      err.code == -PM_EPERM);
	unlink(link);
	snprintf(link, sizeof(link), "%s/jit-2.dump", dir);
	CHECK(jitdump_load(link, false, NULL, &err) == NULL &&
	      err.code == -PM_ENOTFOUND);
	CHECK(jitdump_load(dir, false, NULL, &err) == NULL &&
	      err.code == -PM_EUNSUPPORTED);

	/* someone else's dump: refused unless forced (as root we can make
	 * one; as a user, chown fails and this part is not run) */
	if (chown(path, 4321, 4321) == 0) {
		CHECK(jitdump_load(path, false, NULL, &err) == NULL &&
		      err.code == -PM_EPERM);
		CHECK(strstr(err.msg, "--force") != NULL);
		m = jitdump_load(path, true, NULL, &err);
		CHECK(m && pymap_count(m) == 3);
		pymap_free(m);
	}
	unlink(path);
	rmdir(dir);
}

static void test_builder_merge_label(void)
{
	static const char text[] =
		"1000 b py::old:/a.py\n"
		"3000 b py::kept:/a.py\n";
	struct pymap *pm = pymap_parse(text, strlen(text)), *jm, *both;
	struct pymap_builder *b;
	const struct pymap_entry *e;
	struct tramp_rule rule;
	char buf[64];

	CHECK(tramp_decode(EM_X86_64, load_rec + 73, 11, &rule, NULL) == 0);
	b = pymap_builder_new();
	CHECK(b != NULL);
	if (!b || !pm)
		return;
	CHECK(pymap_builder_add(b, 0x1000, 11, "py::new:/b.py", 13, &rule) == 0);
	CHECK(pymap_builder_add(b, 0x2000, 11, "py::x:/b.py\0junk", 16,
				&rule) == 0);
	CHECK(pymap_builder_add(b, 0x4000, 0, "py::z:/b.py", 11, NULL) ==
	      -PM_ECORRUPT);
	CHECK(pymap_builder_add(b, UINT64_MAX - 4, 11, "py::z:/b.py", 11,
				NULL) == -PM_ECORRUPT);
	CHECK(pymap_builder_add(b, 0x4000, 4, "", 0, NULL) == -PM_ECORRUPT);
	CHECK(pymap_builder_copy(b, 0x9000, 0x9100, 11) == -PM_ENOTFOUND);
	CHECK(pymap_builder_copy(b, 0x2000, 0x2100, 11) == 0);
	jm = pymap_builder_finish(b);
	CHECK(jm && pymap_count(jm) == 3);
	e = jm ? pymap_lookup(jm, 0x2005) : NULL;
	CHECK_STR(e ? e->name : NULL, "py::x:/b.py");
	/* equal rules are stored once */
	CHECK(jm && pymap_lookup(jm, 0x1000)->rule ==
		    pymap_lookup(jm, 0x2000)->rule &&
	      pymap_lookup(jm, 0x2100)->rule == pymap_lookup(jm, 0x2000)->rule);

	both = pymap_merge(pm, jm);
	CHECK(both && pymap_count(both) == 4);
	e = both ? pymap_lookup(both, 0x1004) : NULL;
	CHECK_STR(e ? e->label : NULL, "new (b.py)");	/* the dump wins */
	CHECK(e && e->rule && e->rule->ret_off == 6);
	e = both ? pymap_lookup(both, 0x3004) : NULL;
	CHECK_STR(e ? e->label : NULL, "kept (a.py)");
	CHECK(e && !e->rule);
	pymap_free(both);
	both = pymap_merge(NULL, jm);
	CHECK(both && pymap_count(both) == 3);
	pymap_free(both);
	pymap_free(jm);
	pymap_free(pm);

	CHECK(pymap_label_for_name("py::f:/src/app.py", buf, sizeof(buf)));
	CHECK_STR(buf, "f (app.py)");
	CHECK(pymap_label_for_name("py::C.m:/x/pkg/__init__.py", buf,
				   sizeof(buf)));
	CHECK_STR(buf, "C.m (pkg/__init__.py)");
	CHECK(pymap_label_for_name("py::<lambda>:<string>", buf, sizeof(buf)));
	CHECK_STR(buf, "<lambda> (<string>)");
	CHECK(pymap_label_for_name("py::g:", buf, sizeof(buf)));
	CHECK_STR(buf, "g");
	CHECK(pymap_label_for_name("py::a_long_name:/f.py", buf, 8));
	CHECK_STR(buf, "a_long_");
	strcpy(buf, "same");
	CHECK(!pymap_label_for_name("py::nocolon", buf, sizeof(buf)));
	CHECK(!pymap_label_for_name("_PyEval_EvalFrameDefault", buf,
				    sizeof(buf)));
	CHECK(!pymap_label_for_name(NULL, buf, sizeof(buf)));
	CHECK_STR(buf, "same");
}

static void test_ehframe(void)
{
	/* aarch64 as a correct CIE/FDE for the template would say it:
	 * CIE "zR", code align 4, data align -8, RA column 30, def_cfa sp+0;
	 * FDE range 20: advance 1 (4 bytes), def_cfa_offset 16, offset x29
	 * cfa-16, offset x30 cfa-8, advance 1, def_cfa_register x29,
	 * advance 2, restore_state-free def_cfa sp+0, restore x29/x30 */
	static const uint8_t a64[] = {
		0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* CIE */
		0x01, 'z', 'R', 0x00, 0x04, 0x78, 0x1e, 0x01,
		0x1b, 0x0c, 0x1f, 0x00,
		0x1e, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,	/* FDE */
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
		0x00,
		0x41, 0x0e, 0x10, 0x9d, 0x02, 0x9e, 0x01,
		0x41, 0x0d, 0x1d,
		0x42, 0x0c, 0x1f, 0x00, 0xdd, 0xde, 0x00,
	};
	/* x86-64 FDE using an expression: refused */
	static const uint8_t expr[] = {
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x7a, 0x52, 0x00, 0x01, 0x78, 0x10, 0x01,
		0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00,
		0x00, 0x0f, 0x02, 0x77, 0x10, 0x00, 0x00, 0x00,
	};
	struct tramp_rule r;
	struct pm_error err;
	const struct tramp_row *row;
	size_t k, crashed = 0;

	CHECK(ehframe_rule(0, a64, sizeof(a64), 20, &r, &err) == 0);
	CHECK(r.machine == EM_AARCH64 && r.size == 20 && r.nr_rows == 4);
	row = tramp_row_at(&r, 0);
	CHECK(row && row->cfa_reg == 31 && row->cfa_off == 0 &&
	      row->ra.where == TRAMP_IN_REG && row->ra.reg == 30);
	row = tramp_row_at(&r, 12);		/* after blr */
	CHECK(row && row->cfa_reg == 29 && row->cfa_off == 16 &&
	      row->ra.where == TRAMP_AT_CFA && row->ra.off == -8 &&
	      row->fp.where == TRAMP_AT_CFA && row->fp.off == -16);
	row = tramp_row_at(&r, 16);
	CHECK(row && row->cfa_reg == 31 && row->ra.where == TRAMP_IN_REG);
	/* an x86 machine for an aarch64 CIE */
	CHECK(ehframe_rule(EM_X86_64, a64, sizeof(a64), 20, &r, &err) ==
	      -PM_EUNSUPPORTED);

	memset(&err, 0, sizeof(err));
	CHECK(ehframe_rule(0, expr, sizeof(expr), 11, &r, &err) ==
	      -PM_EUNSUPPORTED);
	CHECK(strstr(err.msg, "unsupported CFA instruction") != NULL);
	CHECK(ehframe_rule(0, expr, 24, 11, &r, &err) == -PM_EUNSUPPORTED);
	CHECK(strstr(err.msg, "no FDE") != NULL);
	/* FDE whose CIE pointer leads outside */
	{
		uint8_t bad[sizeof(expr)];

		memcpy(bad, expr, sizeof(bad));
		bad[28] = 0x40;
		CHECK(ehframe_rule(0, bad, sizeof(bad), 11, &r, &err) ==
		      -PM_ECORRUPT);
	}
	/* every prefix of CPython's own, and of the aarch64 one */
	for (k = 0; k < 48; k++)
		if (ehframe_rule(0, unwind_rec + 40, k, 11, &r, NULL) == 0)
			crashed++;	/* cut before the FDE ends: refused */
	CHECK(crashed == 0);
	for (k = 0; k < sizeof(a64); k++)
		(void)ehframe_rule(0, a64, k, 20, &r, NULL);
	CHECK(ehframe_rule(0, unwind_rec + 40, 48, 11, &r, NULL) == 0);
}

int main(void)
{
	test_cpython_313();
	test_rule_from_eh_frame();
	test_aarch64();
	test_bad_records();
	test_truncated();
	test_header_errors();
	test_load_file();
	test_builder_merge_label();
	test_ehframe();
	return check_done();
}
