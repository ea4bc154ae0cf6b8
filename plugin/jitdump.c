/*
 * jitdump.c - jitdump files into pymaps.
 *
 * Format (linux tools/perf/Documentation/jitdump-specification.txt),
 * fields in the writer's byte order:
 *
 *   header   u32 magic "JiTD" (0x4A695444), u32 version (1),
 *            u32 total_size (of the header, 40), u32 elf_mach, u32 pad1,
 *            u32 pid, u64 timestamp, u64 flags
 *   record   u32 id, u32 total_size (prefix included), u64 timestamp,
 *            then by id:
 *     0 CODE_LOAD       u32 pid, u32 tid, u64 vma, u64 code_addr,
 *                       u64 code_size, u64 code_index, char name[] (NUL
 *                       ended), u8 code[code_size]
 *     1 CODE_MOVE       u32 pid, u32 tid, u64 vma, u64 old_code_addr,
 *                       u64 new_code_addr, u64 code_size, u64 code_index
 *     2 CODE_DEBUG_INFO u64 code_addr, u64 nr_entry, entries (unused here)
 *     3 CODE_CLOSE      nothing; ends the data
 *     4 UNWINDING_INFO  u64 unwinding_size, u64 eh_frame_hdr_size,
 *                       u64 mapped_size, u8 data[unwinding_size]: an
 *                       .eh_frame then its .eh_frame_hdr; it describes
 *                       the CODE_LOAD that follows
 *
 * Records are not aligned. CPython (Python/perf_jit_trampoline.c) writes,
 * per code object, UNWINDING_INFO then CODE_LOAD; 3.13 sets elf_mach to 0
 * and hard-codes the FDE for the x86-64 "sub $8" template at offset 0
 * (wrong with endbr64, and on aarch64), hence rules from the code bytes
 * first. The file goes through a 2 MB stdio buffer, so a dump read while
 * (or after) the process runs without exiting cleanly usually ends inside
 * a record: that is not an error.
 */
#include "jitdump.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "ehframe.h"

#define JIT_MAGIC 0x4A695444u
#define JIT_MAGIC_SW 0x4454694Au
#define JIT_HEADER_SIZE 40
#define JIT_HEADER_MAX 4096		/* header total_size we accept */
#define JIT_PREFIX 16
#define JIT_RECORD_MAX (16u << 20)	/* one record */
#define JIT_UNWIND_MAX (64u << 10)	/* .eh_frame kept for the next load */
#define JIT_RULE_CACHE 4
#define JIT_READ_BUF (64u << 10)

enum {
	JIT_CODE_LOAD = 0,
	JIT_CODE_MOVE = 1,
	JIT_CODE_DEBUG_INFO = 2,
	JIT_CODE_CLOSE = 3,
	JIT_CODE_UNWINDING_INFO = 4,
};

/* Where the bytes come from: a buffer, or a file descriptor read through
 * buf (records are small; one read() per record would dominate). */
struct jsrc {
	const uint8_t *mem;
	size_t len, pos;
	int fd;
	int read_errno;
	uint8_t *buf;
	size_t bpos, blen;
};

/* A decoded template, keyed by its code bytes. */
struct rcache {
	uint8_t code[TRAMP_MAX_SIZE];
	size_t size;
	bool ok;
	struct tramp_rule rule;
};

struct jparse {
	struct pymap_builder *b;
	struct jitdump_stats *st;
	const char *what;		/* file name for messages */
	uint32_t elf_mach;
	uint8_t *rec;			/* current record's payload */
	size_t rec_alloc;
	uint8_t *eh;			/* pending .eh_frame */
	size_t eh_len, eh_alloc;
	bool have_eh;
	struct rcache cache[JIT_RULE_CACHE];
	size_t ncache, next_cache;
	/* last .eh_frame conversion */
	uint8_t *eh_last;
	size_t eh_last_len, eh_last_alloc;
	uint64_t eh_last_size;
	bool eh_last_ok;
	struct tramp_rule eh_rule;
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Up to n bytes into out; fewer only at the end of the data, -1 on a read
 * error. */
static ssize_t src_read(struct jsrc *s, void *out, size_t n)
{
	size_t got = 0, k;
	ssize_t r;

	if (s->mem) {
		if (n > s->len - s->pos)
			n = s->len - s->pos;
		memcpy(out, s->mem + s->pos, n);
		s->pos += n;
		return (ssize_t)n;
	}
	while (got < n) {
		if (s->bpos == s->blen) {
			r = read(s->fd, s->buf, JIT_READ_BUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				s->read_errno = errno;
				return -1;
			}
			if (r == 0)
				break;
			s->bpos = 0;
			s->blen = (size_t)r;
		}
		k = s->blen - s->bpos < n - got ? s->blen - s->bpos : n - got;
		memcpy((uint8_t *)out + got, s->buf + s->bpos, k);
		s->bpos += k;
		got += k;
	}
	s->pos += got;
	return (ssize_t)got;
}

static void note(struct jparse *jp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct jparse *jp, const char *fmt, ...)
{
	char *out = jp->st->note;
	size_t size = sizeof(jp->st->note);
	int n;
	va_list ap;

	if (out[0])
		return;
	n = snprintf(out, size, "%s: ", jp->what);
	if (n < 0 || (size_t)n >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(out + n, size - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- unwind rules ---- */

/* Decode code as a template for the header's machine, or for each we know
 * when the header does not say (3.13 writes 0). */
static bool decode_code(struct jparse *jp, const uint8_t *code, size_t size,
			struct tramp_rule *rule)
{
	static const uint16_t machines[] = { EM_X86_64, EM_AARCH64 };
	size_t i;

	if (jp->elf_mach == EM_X86_64 || jp->elf_mach == EM_AARCH64)
		return tramp_decode((uint16_t)jp->elf_mach, code, size, rule,
				    NULL) == 0;
	for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (tramp_decode(machines[i], code, size, rule, NULL) == 0)
			return true;
	return false;
}

/* The rule decoded from code, through a small cache: a dump repeats the
 * same bytes for every copy. NULL if the bytes do not decode. */
static const struct tramp_rule *code_rule(struct jparse *jp,
					  const uint8_t *code, uint64_t size)
{
	struct rcache *c;
	size_t i;

	if (size > TRAMP_MAX_SIZE)
		return NULL;
	for (i = 0; i < jp->ncache; i++) {
		c = &jp->cache[i];
		if (c->size == size && memcmp(c->code, code, size) == 0)
			return c->ok ? &c->rule : NULL;
	}
	c = &jp->cache[jp->next_cache];
	jp->next_cache = (jp->next_cache + 1) % JIT_RULE_CACHE;
	if (jp->ncache < JIT_RULE_CACHE)
		jp->ncache++;
	memcpy(c->code, code, size);
	c->size = size;
	c->ok = decode_code(jp, code, size, &c->rule);
	return c->ok ? &c->rule : NULL;
}

/* The rule from the pending .eh_frame, the last conversion reused when
 * the bytes and size repeat. */
static const struct tramp_rule *eh_rule(struct jparse *jp, uint64_t size)
{
	uint16_t mach = jp->elf_mach == EM_X86_64 ||
			jp->elf_mach == EM_AARCH64 ? (uint16_t)jp->elf_mach : 0;

	if (!jp->have_eh)
		return NULL;
	if (jp->eh_last && jp->eh_last_len == jp->eh_len &&
	    jp->eh_last_size == size &&
	    memcmp(jp->eh_last, jp->eh, jp->eh_len) == 0)
		return jp->eh_last_ok ? &jp->eh_rule : NULL;
	jp->eh_last_ok = ehframe_rule(mach, jp->eh, jp->eh_len, size,
					       &jp->eh_rule, NULL) == 0;
	if (grow_array((void **)&jp->eh_last, &jp->eh_last_alloc,
		       jp->eh_len ? jp->eh_len : 1, 1, JIT_UNWIND_MAX) == 0) {
		memcpy(jp->eh_last, jp->eh, jp->eh_len);
		jp->eh_last_len = jp->eh_len;
		jp->eh_last_size = size;
	}
	return jp->eh_last_ok ? &jp->eh_rule : NULL;
}

/* ---- records ---- */

/* CODE_LOAD: p/n is the payload after the prefix. 0, or <0 on OOM. */
static int code_load(struct jparse *jp, const uint8_t *p, size_t n,
		     uint64_t off, size_t idx)
{
	const struct tramp_rule *rule;
	uint64_t addr, size;
	const uint8_t *nul, *code;
	size_t name_len;
	int rc;

	jp->st->loads++;
	if (n < 40) {
		note(jp, "record %zu at offset %llu: code load of %zu bytes, "
		     "under its 40-byte fixed part", idx,
		     (unsigned long long)off, n);
		goto bad;
	}
	addr = get64(p + 16);
	size = get64(p + 24);
	nul = memchr(p + 40, '\0', n - 40);
	if (!nul) {
		note(jp, "record %zu at offset %llu: code load name not "
		     "NUL-terminated", idx, (unsigned long long)off);
		goto bad;
	}
	name_len = (size_t)(nul - (p + 40));
	code = nul + 1;
	if (size == 0 || size > (uint64_t)(p + n - code) ||
	    addr > UINT64_MAX - size || name_len == 0) {
		note(jp, "record %zu at offset %llu: code load of %llu bytes "
		     "at 0x%llx does not fit its record (%zu bytes) or the "
		     "address space", idx, (unsigned long long)off,
		     (unsigned long long)size, (unsigned long long)addr, n);
		goto bad;
	}
	rule = code_rule(jp, code, size);
	if (rule) {
		jp->st->decoded++;
	} else if ((rule = eh_rule(jp, size))) {
		jp->st->from_eh_frame++;
	} else {
		jp->st->no_rule++;
	}
	jp->have_eh = false;
	rc = pymap_builder_add(jp->b, addr, size, (const char *)p + 40,
			       name_len, rule);
	return rc == -PM_ECORRUPT ? 0 : rc;
bad:
	jp->have_eh = false;
	jp->st->bad++;
	return 0;
}

static int code_move(struct jparse *jp, const uint8_t *p, size_t n,
		     uint64_t off, size_t idx)
{
	int rc;

	jp->st->moves++;
	if (n < 48) {
		note(jp, "record %zu at offset %llu: code move of %zu bytes, "
		     "under its 48-byte size", idx, (unsigned long long)off, n);
		jp->st->bad++;
		return 0;
	}
	rc = pymap_builder_copy(jp->b, get64(p + 16), get64(p + 24),
				get64(p + 32));
	if (rc == -PM_ENOTFOUND || rc == -PM_ECORRUPT) {
		note(jp, "record %zu at offset %llu: code move from 0x%llx, "
		     "where no code was loaded lately", idx,
		     (unsigned long long)off,
		     (unsigned long long)get64(p + 16));
		jp->st->bad++;
		return 0;
	}
	return rc;
}

static int unwinding_info(struct jparse *jp, const uint8_t *p, size_t n,
			  uint64_t off, size_t idx)
{
	uint64_t size, hdr;
	int rc;

	jp->st->unwinding_infos++;
	jp->have_eh = false;
	if (n < 24 || (size = get64(p)) > n - 24 ||
	    (hdr = get64(p + 8)) > size) {
		note(jp, "record %zu at offset %llu: unwinding info sizes do "
		     "not fit its record (%zu bytes)", idx,
		     (unsigned long long)off, n);
		jp->st->bad++;
		return 0;
	}
	if (size - hdr > JIT_UNWIND_MAX)
		return 0;	/* no trampoline needs that much CFI */
	rc = grow_array((void **)&jp->eh, &jp->eh_alloc,
			size - hdr ? (size_t)(size - hdr) : 1, 1,
			JIT_UNWIND_MAX);
	if (rc)
		return rc;
	memcpy(jp->eh, p + 24, (size_t)(size - hdr));
	jp->eh_len = (size_t)(size - hdr);
	jp->have_eh = true;
	return 0;
}

/* Read the header. 0 or -PM_E* with err set. */
static int read_header(struct jparse *jp, struct jsrc *s,
		       struct pm_error *err)
{
	uint8_t h[JIT_HEADER_SIZE], skip[256];
	uint32_t magic, version, total;
	ssize_t got = src_read(s, h, sizeof(h));

	if (got < 0)
		return pm_error_set(err, PM_EIO, "%s: read: %s", jp->what,
				    strerror(s->read_errno));
	if (got == 0)
		return pm_error_set(err, PM_EEMPTY, "%s: empty file", jp->what);
	if (got >= 4) {
		magic = get32(h);
		if (magic == JIT_MAGIC_SW)
			return pm_error_set(err, PM_EENDIAN, "%s: jitdump "
					    "written on a machine of the other "
					    "byte order, not supported",
					    jp->what);
		if (magic != JIT_MAGIC)
			return pm_error_set(err, PM_EMAGIC, "%s: not a jitdump "
					    "file (no \"JiTD\" magic)",
					    jp->what);
	}
	if ((size_t)got < sizeof(h))
		return pm_error_set(err, PM_ETRUNCATED, "%s: jitdump header "
				    "cut at %zd of %d bytes", jp->what, got,
				    JIT_HEADER_SIZE);
	version = get32(h + 4);
	total = get32(h + 8);
	if (version > 1)
		return pm_error_set(err, PM_EUNSUPPORTED, "%s: jitdump version "
				    "%u, only 1 is known", jp->what, version);
	if (total < JIT_HEADER_SIZE || total > JIT_HEADER_MAX)
		return pm_error_set(err, PM_ECORRUPT, "%s: jitdump header "
				    "size %u (expected 40..%u)", jp->what,
				    total, JIT_HEADER_MAX);
	jp->elf_mach = get32(h + 12);
	jp->st->elf_mach = jp->elf_mach;
	jp->st->pid = get32(h + 20);
	/* flags (h + 32): only ARCH_TIMESTAMP is defined; time is unused */
	total -= JIT_HEADER_SIZE;
	while (total) {
		size_t n = total < sizeof(skip) ? total : sizeof(skip);

		got = src_read(s, skip, n);
		if (got < 0)
			return pm_error_set(err, PM_EIO, "%s: read: %s",
					    jp->what, strerror(s->read_errno));
		if ((size_t)got < n)
			return pm_error_set(err, PM_ETRUNCATED, "%s: jitdump "
					    "header cut", jp->what);
		total -= (uint32_t)n;
	}
	return 0;
}

/* One record at the source's position. 1 to go on, 0 at the end, <0 on
 * OOM or a read error (err set). */
static int read_record(struct jparse *jp, struct jsrc *s, size_t idx,
		       struct pm_error *err)
{
	uint64_t off = s->pos;
	uint8_t pre[JIT_PREFIX];
	uint32_t id, total;
	ssize_t got = src_read(s, pre, sizeof(pre));
	size_t n;
	int rc;

	if (got < 0)
		goto ioerr;
	if (got == 0)
		return 0;
	if ((size_t)got < sizeof(pre))
		goto cut;
	id = get32(pre);
	total = get32(pre + 4);
	if (total < JIT_PREFIX || total > JIT_RECORD_MAX) {
		note(jp, "record %zu at offset %llu: size %u (expected "
		     "%d..%u), stopping there", idx, (unsigned long long)off,
		     total, JIT_PREFIX, JIT_RECORD_MAX);
		jp->st->bad++;
		return 0;
	}
	n = total - JIT_PREFIX;
	rc = grow_array((void **)&jp->rec, &jp->rec_alloc, n ? n : 1, 1,
			JIT_RECORD_MAX);
	if (rc)
		return pm_error_set(err, -rc, "%s: out of memory", jp->what);
	got = src_read(s, jp->rec, n);
	if (got < 0)
		goto ioerr;
	if ((size_t)got < n)
		goto cut;
	switch (id) {
	case JIT_CODE_LOAD:
		rc = code_load(jp, jp->rec, n, off, idx);
		break;
	case JIT_CODE_MOVE:
		rc = code_move(jp, jp->rec, n, off, idx);
		break;
	case JIT_CODE_DEBUG_INFO:
		jp->st->debug_infos++;	/* line tables: not used */
		rc = 0;
		break;
	case JIT_CODE_CLOSE:
		jp->st->closed = true;
		return 0;
	case JIT_CODE_UNWINDING_INFO:
		rc = unwinding_info(jp, jp->rec, n, off, idx);
		break;
	default:
		jp->st->unknown++;
		rc = 0;
		break;
	}
	if (rc < 0)
		return pm_error_set(err, -rc, "%s: record %zu at offset %llu: "
				    "%s", jp->what, idx,
				    (unsigned long long)off, pm_strerror(rc));
	return 1;
cut:
	jp->st->cut = true;
	note(jp, "data ends inside record %zu at offset %llu (the process "
	     "was still writing, or did not exit cleanly)", idx,
	     (unsigned long long)off);
	return 0;
ioerr:
	return pm_error_set(err, PM_EIO, "%s: read at offset %llu: %s",
			    jp->what, (unsigned long long)off,
			    strerror(s->read_errno));
}

static struct pymap *parse(struct jsrc *s, const char *what,
			   struct jitdump_stats *st, struct pm_error *err)
{
	struct jitdump_stats local;
	struct jparse jp = { .what = what };
	struct pymap *m = NULL;
	size_t idx;
	int rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	jp.st = st;
	jp.b = pymap_builder_new();
	if (!jp.b) {
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	if (read_header(&jp, s, err))
		goto out;
	for (idx = 0; (rc = read_record(&jp, s, idx, err)) > 0; idx++)
		;
	if (rc < 0)
		goto out;
	m = pymap_builder_finish(jp.b);
	jp.b = NULL;
	if (!m)
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", what);
out:
	pymap_builder_free(jp.b);
	free(jp.rec);
	free(jp.eh);
	free(jp.eh_last);
	return m;
}

struct pymap *jitdump_parse(const void *data, size_t len,
			    struct jitdump_stats *st, struct pm_error *err)
{
	struct jsrc s = { .mem = data, .len = len, .fd = -1 };
	static const uint8_t empty[1];

	if (!data)
		s.mem = empty;
	return parse(&s, "jitdump", st, err);
}

struct pymap *jitdump_load(const char *path, bool force,
			   struct jitdump_stats *st, struct pm_error *err)
{
	struct jsrc s = { .fd = -1 };
	struct pymap *m = NULL;
	struct stat fst;

	s.fd = pymap_open_trusted(path, force, &fst, err);
	if (s.fd < 0)
		goto out;
	s.buf = malloc(JIT_READ_BUF);
	if (!s.buf) {
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	m = parse(&s, path, st, err);
out:
	if (s.fd >= 0)
		close(s.fd);
	free(s.buf);
	return m;
}
