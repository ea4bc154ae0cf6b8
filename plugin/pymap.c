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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"

#define PYMAP_MAX_FILE (512u << 20)		/* bytes read from one map */
#define PYMAP_MAX_ENTRIES (64u << 20)

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
 * "<frozen importlib._bootstrap>") are kept whole.
 */
static const char *make_label(struct arena *a, const char *qual,
			      const char *file)
{
	const char *base = file, *last;
	size_t ql = strlen(qual), bl;
	char *out;

	if (!*file)
		return qual;
	last = file[0] == '<' ? NULL : strrchr(file, '/');
	if (last) {
		base = last + 1;
		if (!strcmp(base, "__init__.py") ||
		    !strcmp(base, "__main__.py")) {
			while (last > file && last[-1] != '/')
				last--;
			base = last;
		}
	}
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

/* Parse one line (without its '\n'); 1 if it gave an entry, 0 if
 * malformed, <0 on OOM. */
static int parse_line(struct pymap *m, const char *s, const char *end,
		      struct raw *r)
{
	struct pymap_entry *e;
	uint64_t start, size;
	const char *name;

	if (end > s && end[-1] == '\r')
		end--;
	if (memchr(s, '\0', (size_t)(end - s)))
		return 0;
	s = skip_blanks(s, end);
	if (!parse_hex(&s, end, &start) || s == end ||
	    (*s != ' ' && *s != '\t'))
		return 0;
	s = skip_blanks(s, end);
	if (!parse_hex(&s, end, &size) || s == end ||
	    (*s != ' ' && *s != '\t'))
		return 0;
	name = skip_blanks(s, end);
	if (name == end || size == 0 || start > UINT64_MAX - size)
		return 0;
	e = arena_zalloc(m->arena, sizeof(*e));
	if (!e || entry_names(m->arena, e, name, (size_t)(end - name)))
		return -PM_ENOMEM;
	e->start = start;
	e->size = size;
	r->start = start;
	r->end = start + size;
	r->e = e;
	return 1;
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

struct pymap *pymap_parse(const char *text, size_t len)
{
	struct pymap *m = calloc(1, sizeof(*m));
	const char *p = text, *end = text + len, *nl;
	struct raw *raw = NULL;
	size_t nraw = 0, araw = 0;
	int rc;

	if (!m || !(m->arena = arena_new()))
		goto fail;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (skip_blanks(p, nl) == nl ||
		    (nl - p == 1 && *p == '\r')) {
			p = nl + 1;
			continue;
		}
		if (grow_array((void **)&raw, &araw, nraw + 1, sizeof(*raw),
			       PYMAP_MAX_ENTRIES))
			goto fail;
		rc = parse_line(m, p, nl, &raw[nraw]);
		if (rc < 0)
			goto fail;
		if (rc) {
			raw[nraw].seq = nraw;
			nraw++;
		} else {
			m->bad++;
		}
		p = nl + 1;
	}
	if (resolve(m, raw, nraw))
		goto fail;
	free(raw);
	return m;
fail:
	free(raw);
	pymap_free(m);
	return NULL;
}

struct pymap *pymap_load(const char *path, bool force, struct pm_error *err)
{
	struct pymap *m = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = -1;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		pm_error_set(err, PM_EPERM,
			     "%s: is a symbolic link, ignoring it", path);
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		pm_error_set(err, errno == ENOENT ? PM_ENOTFOUND :
				  errno == EACCES ? PM_EPERM : PM_EIO,
			     "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pm_error_set(err, PM_EUNSUPPORTED,
			     "%s: not a regular file, ignoring it", path);
		goto out;
	}
	/* perf (util/symbol.c dso__load) trusts /tmp/perf-PID.map only when
	 * owned by the effective user or root: anyone can create that name. */
	if (!force && st.st_uid != 0 && st.st_uid != geteuid()) {
		pm_error_set(err, PM_EPERM,
			     "%s: not owned by current user or root, ignoring "
			     "it (use --force to override)", path);
		goto out;
	}
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
	m = pymap_parse(buf, got);
	if (!m)
		pm_error_set(err, PM_ENOMEM, "%s: out of memory", path);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return m;
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

size_t pymap_count(const struct pymap *m)
{
	return m->n;
}

size_t pymap_bad_lines(const struct pymap *m)
{
	return m->bad;
}
