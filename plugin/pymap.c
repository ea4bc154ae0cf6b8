/*
 * pymap.c - perf map files (/tmp/perf-PID.map).
 *
 * Format (CPython Python/sysmodule.c PyUnstable_WritePerfMapEntry):
 *   fprintf("%" PRIxPTR " %x %s\n", addr, code_size, name)
 * i.e. "START SIZE NAME", hex without 0x (we accept an optional 0x, as
 * perf's parser does), the name being the rest of the line (it may hold
 * spaces). Python entries are "py::QUALNAME:FILENAME": a qualname never
 * holds ':' (it is dotted identifiers plus "<locals>", "<lambda>" ...), a
 * filename may, so the split is at the first ':' after "py::".
 *
 * Other JITs reuse addresses, and a time-ignorant map can only say which
 * entry was written last: where entries overlap, the later one wins, and
 * the uncovered parts of the earlier one stay (split into pieces). This is
 * a sweep over the entries sorted by start with a max-heap on file order.
 */
#include "pymap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "tramp.h"

#define PYMAP_MAX_FILE (512u << 20)		/* bytes read from one map */
#define PYMAP_MAX_ENTRIES (64u << 20)
#define PYMAP_RECENT_RULES 8
#define PYMAP_COPY_WINDOW 4096

/* A parsed line before overlap resolution. */
struct raw {
	uint64_t start, end;	/* [start, end) */
	size_t seq;		/* line order: later wins */
	const struct pymap_entry *e;
};

struct pymap {
	struct arena *arena;
	struct pymap_entry *v;	/* disjoint, sorted by start */
	size_t n, alloc;
	size_t bad;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse a hex number at *p (< end), optional 0x; at most 16 digits. */
static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0, d;

	if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	while (s < end && (d = hexval(*s)) >= 0) {
		if (++digits > 16)
			return false;
		v = v << 4 | (uint64_t)d;
		s++;
	}
	if (!digits)
		return false;
	*p = s;
	*out = v;
	return true;
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/*
 * The frame text of a Python entry: "QUALNAME (BASENAME)", where a
 * package's __init__.py / __main__.py keeps its directory so packages
 * stay apart ("pkg/__init__.py"), and pseudo files ("<string>",
 * "<frozen importlib._bootstrap>") are kept whole. This is the BASENAME
 * part of a non-empty file.
 */
static const char *label_base(const char *file)
{
	const char *last = file[0] == '<' ? NULL : strrchr(file, '/');
	const char *base;

	if (!last)
		return file;
	base = last + 1;
	if (!strcmp(base, "__init__.py") || !strcmp(base, "__main__.py")) {
		while (last > file && last[-1] != '/')
			last--;
		base = last;
	}
	return base;
}

static const char *make_label(struct arena *a, const char *qual,
			      const char *file)
{
	const char *base;
	size_t ql = strlen(qual), bl;
	char *out;

	if (!*file)
		return qual;
	base = label_base(file);
	bl = strlen(base);
	out = arena_alloc(a, ql + bl + 4);
	if (!out)
		return NULL;
	memcpy(out, qual, ql);
	memcpy(out + ql, " (", 2);
	memcpy(out + ql + 2, base, bl);
	memcpy(out + ql + 2 + bl, ")", 2);
	return out;
}

bool pymap_label_for_name(const char *name, char *buf, size_t size)
{
	const char *colon;
	size_t ql;

	if (!name || strncmp(name, "py::", 4) != 0 ||
	    !(colon = strchr(name + 4, ':')))
		return false;
	if (!size)
		return true;
	ql = (size_t)(colon - name - 4);
	if (ql > size)
		ql = size;	/* cut anyway; keeps the int below in range */
	if (!colon[1])
		snprintf(buf, size, "%.*s", (int)ql, name + 4);
	else
		snprintf(buf, size, "%.*s (%s)", (int)ql, name + 4,
			 label_base(colon + 1));
	return true;
}

/* Fill e's strings from the name bytes [s, s + n). */
static int entry_names(struct arena *a, struct pymap_entry *e, const char *s,
		       size_t n)
{
	const char *colon;
	char *q, *f;

	e->name = arena_strndup(a, s, n);
	if (!e->name)
		return -PM_ENOMEM;
	e->label = e->name;
	if (n < 4 || memcmp(s, "py::", 4) != 0)
		return 0;
	colon = memchr(s + 4, ':', n - 4);
	if (!colon)
		return 0;
	q = arena_strndup(a, s + 4, (size_t)(colon - s - 4));
	f = arena_strndup(a, colon + 1, (size_t)(s + n - colon - 1));
	if (!q || !f)
		return -PM_ENOMEM;
	e->qualname = q;
	e->filename = f;
	e->label = make_label(a, q, f);
	return e->label ? 0 : -PM_ENOMEM;
}

/* Parse one line (without its '\n') into start, size and name; false if
 * malformed. */
static bool parse_line(const char *s, const char *end, uint64_t *start,
		       uint64_t *size, const char **name, size_t *name_len)
{
	if (end > s && end[-1] == '\r')
		end--;
	if (memchr(s, '\0', (size_t)(end - s)))
		return false;
	s = skip_blanks(s, end);
	if (!parse_hex(&s, end, start) || s == end ||
	    (*s != ' ' && *s != '\t'))
		return false;
	s = skip_blanks(s, end);
	if (!parse_hex(&s, end, size) || s == end ||
	    (*s != ' ' && *s != '\t'))
		return false;
	*name = skip_blanks(s, end);
	*name_len = (size_t)(end - *name);
	return true;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Max-heap of struct raw * on seq. */
static void heap_push(struct raw **h, size_t *n, struct raw *r)
{
	size_t i = (*n)++;

	while (i && h[(i - 1) / 2]->seq < r->seq) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = r;
}

static void heap_pop(struct raw **h, size_t *n)
{
	struct raw *last = h[--(*n)];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1]->seq > h[c]->seq)
			c++;
		if (h[c]->seq <= last->seq)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
}

static int emit(struct pymap *m, const struct raw *r, uint64_t from,
		uint64_t to)
{
	struct pymap_entry *prev = m->n ? &m->v[m->n - 1] : NULL;
	int err;

	if (prev && prev->name == r->e->name &&
	    prev->start + prev->size == from) {
		prev->size += to - from;
		return 0;
	}
	err = grow_array((void **)&m->v, &m->alloc, m->n + 1, sizeof(*m->v),
			 PYMAP_MAX_ENTRIES);
	if (err)
		return err;
	m->v[m->n] = *r->e;
	m->v[m->n].start = from;
	m->v[m->n].size = to - from;
	m->n++;
	return 0;
}

/* Turn the raw entries into disjoint pieces where the latest line wins. */
static int resolve(struct pymap *m, struct raw *r, size_t n)
{
	struct raw **heap;
	size_t i = 0, hn = 0;
	uint64_t pos = 0, next;
	int err = 0;

	if (n)
		qsort(r, n, sizeof(*r), raw_cmp);
	heap = malloc((n ? n : 1) * sizeof(*heap));
	if (!heap)
		return -PM_ENOMEM;
	for (;;) {
		while (hn && heap[0]->end <= pos)
			heap_pop(heap, &hn);
		if (!hn) {
			if (i == n)
				break;
			pos = r[i].start;
		}
		while (i < n && r[i].start == pos)
			heap_push(heap, &hn, &r[i++]);
		next = heap[0]->end;
		if (i < n && r[i].start < next)
			next = r[i].start;
		err = emit(m, heap[0], pos, next);
		if (err)
			break;
		pos = next;
	}
	free(heap);
	return err;
}

/* ---- building ---- */

struct pymap_builder {
	struct pymap *m;		/* arena; v filled by finish */
	struct raw *raw;
	size_t n, alloc;
	/* distinct rules copied lately: jitdumps repeat one rule per copy */
	const struct tramp_rule *recent[PYMAP_RECENT_RULES];
	size_t nrecent, next_recent;
};

struct pymap_builder *pymap_builder_new(void)
{
	struct pymap_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->m = calloc(1, sizeof(*b->m));
	if (!b->m || !(b->m->arena = arena_new())) {
		pymap_builder_free(b);
		return NULL;
	}
	return b;
}

void pymap_builder_free(struct pymap_builder *b)
{
	if (!b)
		return;
	pymap_free(b->m);
	free(b->raw);
	free(b);
}

/* The pymap's copy of rule r, shared with an equal recent one. */
static const struct tramp_rule *rule_copy(struct pymap_builder *b,
					  const struct tramp_rule *r)
{
	struct tramp_rule *c;
	size_t i;

	for (i = 0; i < b->nrecent; i++)
		if (b->recent[i] == r ||
		    memcmp(b->recent[i], r, sizeof(*r)) == 0)
			return b->recent[i];
	c = arena_alloc(b->m->arena, sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c, r, sizeof(*c));
	b->recent[b->next_recent] = c;
	b->next_recent = (b->next_recent + 1) % PYMAP_RECENT_RULES;
	if (b->nrecent < PYMAP_RECENT_RULES)
		b->nrecent++;
	return c;
}

/* Append a raw entry for e at [start, start + size). */
static int add_raw(struct pymap_builder *b, struct pymap_entry *e,
		   uint64_t start, uint64_t size)
{
	int err = grow_array((void **)&b->raw, &b->alloc, b->n + 1,
			     sizeof(*b->raw), PYMAP_MAX_ENTRIES);

	if (err)
		return err;
	e->start = start;
	e->size = size;
	b->raw[b->n].start = start;
	b->raw[b->n].end = start + size;
	b->raw[b->n].seq = b->n;
	b->raw[b->n].e = e;
	b->n++;
	return 0;
}

int pymap_builder_add(struct pymap_builder *b, uint64_t start, uint64_t size,
		      const char *name, size_t name_len,
		      const struct tramp_rule *rule)
{
	struct pymap_entry *e;
	int err;

	name_len = strnlen(name, name_len);
	if (!name_len || size == 0 || start > UINT64_MAX - size)
		return -PM_ECORRUPT;
	e = arena_zalloc(b->m->arena, sizeof(*e));
	if (!e)
		return -PM_ENOMEM;
	err = entry_names(b->m->arena, e, name, name_len);
	if (err)
		return err;
	if (rule && !(e->rule = rule_copy(b, rule)))
		return -PM_ENOMEM;
	return add_raw(b, e, start, size);
}

int pymap_builder_copy(struct pymap_builder *b, uint64_t old_start,
		       uint64_t new_start, uint64_t size)
{
	size_t i, stop = b->n > PYMAP_COPY_WINDOW ? b->n - PYMAP_COPY_WINDOW : 0;
	struct pymap_entry *e;

	if (size == 0 || new_start > UINT64_MAX - size)
		return -PM_ECORRUPT;
	for (i = b->n; i-- > stop;) {
		if (b->raw[i].start != old_start)
			continue;
		e = arena_alloc(b->m->arena, sizeof(*e));
		if (!e)
			return -PM_ENOMEM;
		*e = *b->raw[i].e;
		return add_raw(b, e, new_start, size);
	}
	return -PM_ENOTFOUND;
}

struct pymap *pymap_builder_finish(struct pymap_builder *b)
{
	struct pymap *m;

	if (!b)
		return NULL;
	m = b->m;
	if (resolve(m, b->raw, b->n)) {
		pymap_builder_free(b);
		return NULL;
	}
	b->m = NULL;
	pymap_builder_free(b);
	return m;
}

struct pymap *pymap_merge(const struct pymap *a, const struct pymap *b)
{
	struct pymap_builder *bd = pymap_builder_new();
	const struct pymap *src[2] = { a, b };
	size_t i, k;

	if (!bd)
		return NULL;
	for (k = 0; k < 2; k++) {
		for (i = 0; src[k] && i < src[k]->n; i++) {
			const struct pymap_entry *e = &src[k]->v[i];

			if (pymap_builder_add(bd, e->start, e->size, e->name,
					      strlen(e->name), e->rule) < 0) {
				pymap_builder_free(bd);
				return NULL;
			}
		}
	}
	return pymap_builder_finish(bd);
}

struct pymap *pymap_parse(const char *text, size_t len)
{
	struct pymap_builder *b = pymap_builder_new();
	const char *p = text, *end = text + len, *nl, *name;
	uint64_t start, size;
	size_t name_len, bad = 0;
	struct pymap *m;
	int rc;

	if (!b)
		return NULL;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (skip_blanks(p, nl) == nl ||
		    (nl - p == 1 && *p == '\r')) {
			p = nl + 1;
			continue;
		}
		rc = -PM_ECORRUPT;
		if (parse_line(p, nl, &start, &size, &name, &name_len))
			rc = pymap_builder_add(b, start, size, name, name_len,
					       NULL);
		if (rc == -PM_ECORRUPT) {
			bad++;
		} else if (rc < 0) {
			pymap_builder_free(b);
			return NULL;
		}
		p = nl + 1;
	}
	m = pymap_builder_finish(b);
	if (m)
		m->bad = bad;
	return m;
}

int pymap_open_trusted(const char *path, bool force, struct stat *st,
		       struct pm_error *err)
{
	int fd;

	if (lstat(path, st) == 0 && S_ISLNK(st->st_mode))
		return pm_error_set(err, PM_EPERM, "%s: is a symbolic link, "
				    "ignoring it", path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, st) < 0) {
		int rc = pm_error_set(err, errno == ENOENT ? PM_ENOTFOUND :
				      errno == EACCES ? PM_EPERM : PM_EIO,
				      "%s: %s", path, strerror(errno));

		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return pm_error_set(err, PM_EUNSUPPORTED, "%s: not a regular "
				    "file, ignoring it", path);
	}
	/* perf (util/symbol.c dso__load) trusts /tmp/perf-PID.map only when
	 * owned by the effective user or root: anyone can create that name
	 * (and CPython makes jit-PID.dump mode 0666). */
	if (!force && st->st_uid != 0 && st->st_uid != geteuid()) {
		close(fd);
		return pm_error_set(err, PM_EPERM, "%s: not owned by current "
				    "user or root, ignoring it (use --force to "
				    "override)", path);
	}
	return fd;
}

/* Read a map-like file we may trust: no symlink, a regular file owned by
 * the effective user or root (unless force), under the size cap. Returns
 * a malloc'd buffer (caller frees) and its length, or NULL with err set. */
static char *read_trusted(const char *path, bool force, size_t *len,
			  struct pm_error *err)
{
	char *res = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = -1;

	fd = pymap_open_trusted(path, force, &st, err);
	if (fd < 0)
		goto out;
	if ((uint64_t)st.st_size > PYMAP_MAX_FILE) {
		pm_error_set(err, PM_ELIMIT, "%s: %lld bytes, over the %u MiB "
			     "limit for perf map files", path,
			     (long long)st.st_size, PYMAP_MAX_FILE >> 20);
		goto out;
	}
	/* Read what is there now; a live process may append meanwhile, and
	 * CPython writes whole lines, so a size snapshot is fine. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pm_error_set(err, PM_EIO, "%s: read: %s", path,
				     strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	res = buf;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return res;
}

struct pymap *pymap_load(const char *path, bool force, struct pm_error *err)
{
	struct pymap *m;
	size_t len = 0;
	char *buf = read_trusted(path, force, &len, err);

	if (!buf)
		return NULL;
	m = pymap_parse(buf, len);
	if (!m)
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", path);
	free(buf);
	return m;
}

/* One "LINE QUALNAME:FILENAME" line of a .lines file. */
struct line_ent {
	const char *key;	/* "QUALNAME:FILENAME", NUL-terminated in buf */
	unsigned line;
};

static int line_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line_ent *)a)->key,
		      ((const struct line_ent *)b)->key);
}

int pymap_apply_lines(struct pymap *m, const char *path, bool force,
		      struct pm_error *err)
{
	struct line_ent *v = NULL, want, *hit;
	size_t len = 0, n = 0, alloc = 0, i, applied = 0;
	char *buf = read_trusted(path, force, &len, err), *p, *end, *nl;
	char key[4096];
	int rc = 0;

	if (!buf)
		return err ? err->code : -PM_EIO;
	for (p = buf, end = buf + len; p < end; p = nl + 1) {
		char *sp;
		unsigned long ln;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;			/* an unfinished last line */
		*nl = '\0';
		ln = strtoul(p, &sp, 10);
		if (sp == p || *sp != ' ' || !ln || ln > 10000000 || !sp[1])
			continue;
		if ((rc = grow_array((void **)&v, &alloc, n + 1, sizeof(*v),
				     PYMAP_MAX_FILE / 4)))
			goto out;
		v[n].key = sp + 1;
		v[n].line = (unsigned)ln;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), line_ent_cmp);
	for (i = 0; i < m->n && n; i++) {
		struct pymap_entry *e = &m->v[i];
		const char *base;
		char *label;
		size_t sz;

		if (!e->qualname || !e->filename)
			continue;
		if ((size_t)snprintf(key, sizeof(key), "%s:%s", e->qualname,
				     e->filename) >= sizeof(key))
			continue;
		want.key = key;
		hit = bsearch(&want, v, n, sizeof(*v), line_ent_cmp);
		if (!hit)
			continue;
		base = label_base(e->filename);
		sz = strlen(e->qualname) + strlen(base) + 16;
		label = arena_alloc(m->arena, sz);
		if (!label) {
			rc = -PM_ENOMEM;
			goto out;
		}
		snprintf(label, sz, "%s (%s:%u)", e->qualname, base, hit->line);
		e->label = label;
		applied++;
	}
	rc = (int)(applied > INT32_MAX ? INT32_MAX : applied);
out:
	if (rc < 0)
		pm_error_set(err, -rc, "%s: %s", path, pm_strerror(rc));
	free(v);
	free(buf);
	return rc;
}

void pymap_free(struct pymap *m)
{
	if (!m)
		return;
	arena_free(m->arena);
	free(m->v);
	free(m);
}

const struct pymap_entry *pymap_lookup(const struct pymap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n, mid;
	const struct pymap_entry *e;

	/* last entry with start <= addr */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	e = &m->v[lo - 1];
	return addr - e->start < e->size ? e : NULL;
}

const struct pymap_entry *pymap_lookup_list(const struct pymap *const *maps,
					    uint64_t addr)
{
	const struct pymap_entry *e;

	for (; maps && *maps; maps++)
		if ((e = pymap_lookup(*maps, addr)))
			return e;
	return NULL;
}

size_t pymap_count(const struct pymap *m)
{
	return m->n;
}

size_t pymap_bad_lines(const struct pymap *m)
{
	return m->bad;
}
