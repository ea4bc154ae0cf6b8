/*
 * tracedata.c - HEADER_TRACING_DATA into libtraceevent.
 *
 * Layout (perf tools/perf/util/trace-event-info.c writes it,
 * trace-event-read.c trace_report() reads it; version "0.6" in perf 6.1):
 *   "\x17\x08\x44" "tracing"          10 bytes magic
 *   version string, NUL-terminated     ("0.5", "0.6")
 *   u8 file_bigendian, u8 long_size, u32 page_size
 *   "header_page\0"  u64 size, text   events/header_page
 *   "header_event\0" u64 size, text   events/header_event (unused)
 *   u32 count, count x (u64 size, text)          ftrace formats
 *   u32 systems, per system: name NUL, u32 count, count x (u64 size, text)
 *   u32 size, text                     kallsyms (0 in current perf)
 *   u32 size, text                     printk formats
 *   version >= 0.6: u64 size, text     saved cmdlines
 * Numbers after the endianness byte are in the file's byte order. Every
 * size is checked against the bytes left; format texts are copied into
 * NUL-terminated buffers before libtraceevent sees them. The trailing
 * kallsyms/printk/cmdlines parts are only needed for pretty-printing, which
 * this module does not do; they are bounds-checked and skipped.
 */
#include "tracedata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event-parse.h>

#include "arena.h"

struct td_name {
	int id;
	const char *name;
};

struct tracedata {
	struct tep_handle *tep;
	bool swap;			/* file byte order != host */
	uint32_t page_size;
	size_t nr_events, nr_failed;
	struct arena *arena;
	struct td_name *names;		/* "sys:name" cache */
	size_t nr_names, names_alloc;
};

struct cursor {
	const uint8_t *p;
	size_t len, pos;
	bool swap;
	uint64_t base;			/* file offset of p[0] */
};

static bool host_big_endian(void)
{
	const uint16_t one = 1;
	uint8_t b;

	memcpy(&b, &one, 1);
	return b == 0;
}

static uint64_t swap_n(uint64_t v, size_t size)
{
	switch (size) {
	case 2: return __builtin_bswap16((uint16_t)v);
	case 4: return __builtin_bswap32((uint32_t)v);
	case 8: return __builtin_bswap64(v);
	default: return v;
	}
}

static int cur_short(const struct cursor *c, struct pm_error *err,
		     const char *what)
{
	return pm_error_set(err, PM_ETRUNCATED,
			    "offset %llu: tracing data cut short in %s "
			    "(%zu of %zu bytes read)",
			    (unsigned long long)(c->base + c->pos), what,
			    c->pos, c->len);
}

static bool cur_num(struct cursor *c, size_t size, uint64_t *v)
{
	uint64_t x = 0;

	if (c->len - c->pos < size)
		return false;
	memcpy(&x, c->p + c->pos, size);	/* little-endian host below */
	if (host_big_endian())
		x >>= 8 * (8 - size);
	c->pos += size;
	*v = c->swap ? swap_n(x, size) : x;
	return true;
}

/* A NUL-terminated string of at most max bytes; NULL if none. */
static const char *cur_str(struct cursor *c, size_t max)
{
	size_t left = c->len - c->pos, n;
	const char *s = (const char *)c->p + c->pos;

	n = strnlen(s, left < max ? left : max);
	if (n >= left || n >= max)
		return NULL;
	c->pos += n + 1;
	return s;
}

/* u64 (or u32) size then that many bytes, as a NUL-terminated copy. */
static int cur_blob(struct cursor *c, size_t size_bytes, uint64_t cap,
		    char **out, size_t *out_len, struct pm_error *err,
		    const char *what)
{
	uint64_t n;
	char *copy;

	if (!cur_num(c, size_bytes, &n) || n > c->len - c->pos)
		return cur_short(c, err, what);
	if (n > cap)
		return pm_error_set(err, PM_ELIMIT, "offset %llu: %s of %llu "
				    "bytes in tracing data (limit %llu)",
				    (unsigned long long)(c->base + c->pos),
				    what, (unsigned long long)n,
				    (unsigned long long)cap);
	if (!out) {
		c->pos += (size_t)n;
		return 0;
	}
	copy = malloc((size_t)n + 1);
	if (!copy)
		return pm_error_set(err, PM_ENOMEM, "out of memory");
	memcpy(copy, c->p + c->pos, (size_t)n);
	copy[n] = '\0';
	c->pos += (size_t)n;
	*out = copy;
	*out_len = (size_t)n;
	return 0;
}

/*
 * Cut the format text before its "print fmt:" line and put an empty one in
 * its place. Only the fields are used here, and libtraceevent 1.7.1's print
 * format parser dereferences NULL on some malformed formats (found by
 * tests/fuzz/fuzz_tracedata.c); its field parser is much simpler. text has
 * room for n + 1 bytes; returns the new length (never longer), 0 when
 * there is no print fmt line.
 */
static size_t strip_print_fmt(char *text, size_t n)
{
	static const char empty[] = "print fmt: \"\"\n";
	char *p = strstr(text, "\nprint fmt:");

	if (!p || (size_t)(p + 1 - text) + sizeof(empty) - 1 > n)
		return 0;
	memcpy(p + 1, empty, sizeof(empty));
	return (size_t)(p + 1 - text) + sizeof(empty) - 1;
}

static int parse_format(struct tracedata *td, struct cursor *c,
			const char *sys, struct pm_error *err)
{
	char *text = NULL;
	size_t n = 0;
	enum tep_errno e;
	int rc;

	if (td->nr_events + td->nr_failed >= TD_MAX_EVENTS)
		return pm_error_set(err, PM_ELIMIT, "offset %llu: more than %u "
				    "event formats in tracing data",
				    (unsigned long long)(c->base + c->pos),
				    TD_MAX_EVENTS);
	rc = cur_blob(c, 8, TD_MAX_FORMAT, &text, &n, err, "an event format");
	if (rc)
		return rc;
	n = strip_print_fmt(text, n);
	/* a format without its print fmt line is not fed to the parser */
	e = n ? tep_parse_event(td->tep, text, n, sys) :
		TEP_ERRNO__PARSE_EVENT_FAILED;
	free(text);
	if (e == TEP_ERRNO__MEM_ALLOC_FAILED)
		return pm_error_set(err, PM_ENOMEM, "out of memory");
	if (e)
		td->nr_failed++;
	else
		td->nr_events++;
	return 0;
}

static int parse_header(struct tracedata *td, struct cursor *c,
			struct pm_error *err)
{
	static const uint8_t magic[10] = { 0x17, 0x08, 0x44, 't', 'r', 'a',
					   'c', 'i', 'n', 'g' };
	const char *version, *name;
	uint64_t be, long_size, page_size;
	char *text = NULL;
	size_t n = 0;
	int rc;

	if (c->len < sizeof(magic) || memcmp(c->p, magic, sizeof(magic)))
		return pm_error_set(err, PM_ECORRUPT, "offset %llu: tracing "
				    "data has no \\x17\\x08\\x44tracing magic",
				    (unsigned long long)c->base);
	c->pos = sizeof(magic);
	version = cur_str(c, 32);
	if (!version)
		return cur_short(c, err, "the version string");
	if (!cur_num(c, 1, &be) || !cur_num(c, 1, &long_size))
		return cur_short(c, err, "the header");
	if (be > 1 || (long_size != 4 && long_size != 8))
		return pm_error_set(err, PM_ECORRUPT, "offset %llu: tracing "
				    "data endianness %llu / long size %llu",
				    (unsigned long long)c->base,
				    (unsigned long long)be,
				    (unsigned long long)long_size);
	c->swap = (be != 0) != host_big_endian();
	td->swap = c->swap;
	if (!cur_num(c, 4, &page_size))
		return cur_short(c, err, "the header");
	td->page_size = page_size >= 512 && page_size <= (1u << 24) &&
			!(page_size & (page_size - 1)) ? (uint32_t)page_size : 0;
	tep_set_file_bigendian(td->tep, be ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
	tep_set_local_bigendian(td->tep, host_big_endian() ? TEP_BIG_ENDIAN :
				TEP_LITTLE_ENDIAN);
	tep_set_long_size(td->tep, (int)long_size);
	tep_set_page_size(td->tep, (int)(td->page_size ? td->page_size : 4096));

	name = cur_str(c, 16);
	if (!name || strcmp(name, "header_page"))
		return pm_error_set(err, PM_ECORRUPT, "offset %llu: tracing "
				    "data: expected \"header_page\"",
				    (unsigned long long)(c->base + c->pos));
	rc = cur_blob(c, 8, TD_MAX_FORMAT, &text, &n, err, "header_page");
	if (rc)
		return rc;
	if (tep_parse_header_page(td->tep, text, n, (int)long_size) == 0) {
		int ls = tep_get_header_page_size(td->tep);

		/* perf: the size of "commit" is the kernel's long size */
		if (ls == 4 || ls == 8)
			tep_set_long_size(td->tep, ls);
	}
	free(text);
	name = cur_str(c, 16);
	if (!name || strcmp(name, "header_event"))
		return pm_error_set(err, PM_ECORRUPT, "offset %llu: tracing "
				    "data: expected \"header_event\"",
				    (unsigned long long)(c->base + c->pos));
	return cur_blob(c, 8, TD_MAX_FORMAT, NULL, NULL, err, "header_event");
}

static int parse_events(struct tracedata *td, struct cursor *c,
			struct pm_error *err)
{
	uint64_t count, systems, i, j;
	int rc;

	if (!cur_num(c, 4, &count))
		return cur_short(c, err, "the ftrace format count");
	for (i = 0; i < count; i++) {
		rc = parse_format(td, c, "ftrace", err);
		if (rc)
			return rc;
	}
	if (!cur_num(c, 4, &systems))
		return cur_short(c, err, "the system count");
	for (i = 0; i < systems; i++) {
		const char *sys = cur_str(c, 256);

		if (!sys)
			return cur_short(c, err, "a system name");
		if (!cur_num(c, 4, &count))
			return cur_short(c, err, "an event count");
		for (j = 0; j < count; j++) {
			rc = parse_format(td, c, sys, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* kallsyms, printk formats and saved cmdlines: bounds-checked, unused.
 * Older perf versions may end the blob early; that is not an error. */
static void skip_tail(struct cursor *c)
{
	struct pm_error ignore;

	if (c->pos < c->len)
		(void)cur_blob(c, 4, UINT64_MAX, NULL, NULL, &ignore, "kallsyms");
	if (c->pos < c->len)
		(void)cur_blob(c, 4, UINT64_MAX, NULL, NULL, &ignore, "printk");
	if (c->pos < c->len)
		(void)cur_blob(c, 8, UINT64_MAX, NULL, NULL, &ignore, "cmdlines");
}

struct tracedata *tracedata_parse(const uint8_t *buf, size_t len,
				  uint64_t file_offset, struct pm_error *err)
{
	struct tracedata *td = calloc(1, sizeof(*td));
	struct cursor c = { .p = buf, .len = buf ? len : 0,
			    .base = file_offset };
	int rc = -PM_ENOMEM;

	if (!td || !(td->tep = tep_alloc()) || !(td->arena = arena_new())) {
		pm_error_set(err, PM_ENOMEM, "out of memory");
		goto out;
	}
	rc = parse_header(td, &c, err);
	if (!rc)
		rc = parse_events(td, &c, err);
	if (!rc)
		skip_tail(&c);
out:
	if (rc) {
		tracedata_free(td);
		return NULL;
	}
	return td;
}

void tracedata_free(struct tracedata *td)
{
	if (!td)
		return;
	if (td->tep)
		tep_free(td->tep);
	arena_free(td->arena);
	free(td->names);
	free(td);
}

struct tep_handle *tracedata_tep(struct tracedata *td)
{
	return td->tep;
}

size_t tracedata_nr_failed(const struct tracedata *td)
{
	return td->nr_failed;
}

uint32_t tracedata_page_size(const struct tracedata *td)
{
	return td->page_size;
}

static struct tep_event *find_event(struct tracedata *td, uint64_t id)
{
	if (id > 0x7fffffff)
		return NULL;
	return tep_find_event(td->tep, (int)id);
}

const char *tracedata_event_name(struct tracedata *td, uint64_t id)
{
	struct tep_event *ev = find_event(td, id);
	size_t i, n;
	char *s;

	if (!ev || !ev->name)
		return NULL;
	for (i = 0; i < td->nr_names; i++)
		if (td->names[i].id == ev->id)
			return td->names[i].name;
	if (grow_array((void **)&td->names, &td->names_alloc, td->nr_names + 1,
		       sizeof(*td->names), TD_MAX_EVENTS))
		return NULL;
	n = (ev->system ? strlen(ev->system) : 0) + strlen(ev->name) + 2;
	s = arena_alloc(td->arena, n);
	if (!s)
		return NULL;
	snprintf(s, n, "%s:%s", ev->system ? ev->system : "", ev->name);
	td->names[td->nr_names].id = ev->id;
	td->names[td->nr_names++].name = s;
	return s;
}

bool tracedata_field(struct tracedata *td, uint64_t id, const char *name,
		     struct td_field *f)
{
	struct tep_event *ev = find_event(td, id);
	struct tep_format_field *tf;

	memset(f, 0, sizeof(*f));
	if (!ev)
		return false;
	tf = tep_find_any_field(ev, name);
	if (!tf || tf->offset < 0 || tf->size <= 0 ||
	    (tf->flags & (TEP_FIELD_IS_DYNAMIC | TEP_FIELD_IS_RELATIVE)))
		return false;
	f->present = true;
	f->is_signed = (tf->flags & TEP_FIELD_IS_SIGNED) != 0;
	f->is_array = (tf->flags & TEP_FIELD_IS_ARRAY) != 0;
	f->offset = (uint32_t)tf->offset;
	f->size = (uint32_t)tf->size;
	return true;
}

bool tracedata_is_event(struct tracedata *td, uint64_t id, const uint8_t *raw,
			size_t raw_size)
{
	struct td_field f;
	uint64_t type;

	if (!tracedata_field(td, id, "common_type", &f))
		return false;
	return tracedata_read(td, &f, raw, raw_size, &type) && type == id;
}

bool tracedata_read(const struct tracedata *td, const struct td_field *f,
		    const uint8_t *raw, size_t raw_size, uint64_t *val)
{
	uint64_t v = 0;
	unsigned bits;

	if (!f->present || f->is_array || !raw ||
	    (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8) ||
	    f->offset > raw_size || raw_size - f->offset < f->size)
		return false;
	memcpy(&v, raw + f->offset, f->size);
	if (host_big_endian())
		v >>= 8 * (8 - f->size);
	if (td->swap)
		v = swap_n(v, f->size);
	bits = 8 * f->size;
	if (bits < 64) {
		v &= (UINT64_C(1) << bits) - 1;
		if (f->is_signed && (v >> (bits - 1)))
			v |= ~((UINT64_C(1) << bits) - 1);
	}
	*val = v;
	return true;
}

bool tracedata_read_str(const struct td_field *f, const uint8_t *raw,
			size_t raw_size, char *buf, size_t len)
{
	size_t n;

	if (!f->present || !raw || !len || f->offset > raw_size ||
	    raw_size - f->offset < f->size)
		return false;
	n = strnlen((const char *)raw + f->offset, f->size);
	if (n >= len)
		n = len - 1;
	memcpy(buf, raw + f->offset, n);
	buf[n] = '\0';
	return true;
}
