/*
 * folded.c - folded stacks ("root;...;leaf COUNT"), the input format of
 * flamegraph.pl, inferno and speedscope.
 *
 * Those tools split a line on ';' and take the last space-separated field
 * as the count, so a name must not contain ';' or a newline. Escaping:
 *   ';'                       -> ':'
 *   control chars (< 0x20, 0x7f, so also '\n', '\r', '\t') -> '?'
 *   an empty name             -> "[unknown]"
 * Spaces are kept ("fib (app.py)" stays readable); bytes >= 0x80 are
 * copied as they are. An empty stack (profile_add with n == 0) is written
 * as "[unknown]".
 *
 * COUNT is the weight of the stacks that end exactly at a node (its self
 * weight). Two trie paths whose escaped text is equal (same name with
 * another kind or DSO, or "a;b" next to "a:b") become one line with the
 * sum. Lines are sorted by bytes of the whole line, as LC_ALL=C sort(1)
 * orders them; note "fib (app.py) 3" sorts before "fib 5" ('(' < '5').
 *
 * The lines are built in memory and sorted there; that costs about the
 * size of the output.
 */
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

#define NONE UINT32_MAX
#define FOLDED_MAX_TEXT (SIZE_MAX / 2)
#define FOLDED_MAX_LINES (SIZE_MAX / sizeof(struct fline))

struct fline {
	const char *s;		/* path text, not NUL-terminated */
	size_t off, len;	/* into the text buffer (s set after build) */
	uint64_t count;
};

struct fbuf {
	char *v;
	size_t len, alloc;
};

static int fbuf_add(struct fbuf *b, const char *s, size_t n)
{
	int err = grow_array((void **)&b->v, &b->alloc, b->len + n, 1,
			     FOLDED_MAX_TEXT);

	if (err)
		return err;
	memcpy(b->v + b->len, s, n);
	b->len += n;
	return 0;
}

/* Escaped name of every frame, each at names->v + off[i], len[i]. */
static int folded_names(const struct profile *p, struct fbuf *names,
			size_t *off, size_t *len)
{
	size_t i, nr = profile_nr_frames(p);
	int err = 0;

	for (i = 0; i < nr && !err; i++) {
		const char *s = profile_frame(p, (uint32_t)i)->name;
		size_t j;

		if (!*s)
			s = FRAME_UNKNOWN;
		off[i] = names->len;
		len[i] = strlen(s);
		err = fbuf_add(names, s, len[i]);
		for (j = off[i]; !err && j < names->len; j++) {
			unsigned char c = (unsigned char)names->v[j];

			if (c == ';')
				names->v[j] = ':';
			else if (c < 0x20 || c == 0x7f)
				names->v[j] = '?';
		}
	}
	return err;
}

static int cmp_path(const void *va, const void *vb)
{
	const struct fline *a = va, *b = vb;
	int r = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Byte i of the line "PATH COUNT" without building it. */
static unsigned char line_at(const struct fline *l, const char *num,
			     size_t numlen, size_t i, int *end)
{
	*end = 0;
	if (i < l->len)
		return (unsigned char)l->s[i];
	if (i == l->len)
		return ' ';
	if (i - l->len - 1 < numlen)
		return (unsigned char)num[i - l->len - 1];
	*end = 1;
	return 0;
}

/* Whole-line order: differs from cmp_path only when one path is a prefix
 * of the other and the longer continues with a space. */
static int cmp_line(const void *va, const void *vb)
{
	const struct fline *a = va, *b = vb;
	char na[24], nb[24];
	size_t la, lb, i;
	int r = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

	if (r)
		return r;
	la = (size_t)snprintf(na, sizeof(na), "%" PRIu64, a->count);
	lb = (size_t)snprintf(nb, sizeof(nb), "%" PRIu64, b->count);
	for (i = a->len < b->len ? a->len : b->len;; i++) {
		int ea, eb;
		unsigned char ca = line_at(a, na, la, i, &ea);
		unsigned char cb = line_at(b, nb, lb, i, &eb);

		if (ea || eb)
			return eb - ea;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
}

static int add_line(struct fbuf *text, struct fline **lines, size_t *nr,
		    size_t *alloc, const char *s, size_t len, uint64_t count)
{
	int err = grow_array((void **)lines, alloc, *nr + 1, sizeof(**lines),
			     FOLDED_MAX_LINES);

	if (err)
		return err;
	(*lines)[*nr].off = text->len;
	(*lines)[*nr].len = len;
	(*lines)[*nr].count = count;
	(*nr)++;
	return fbuf_add(text, s, len);
}

/*
 * Depth-first walk over the first_child/next_sibling links (no recursion:
 * stacks can be thousands deep), keeping the path text of the current
 * node in `path` and its length at each depth in `lens` (lens[0] = 0).
 */
static int folded_collect(const struct profile *p, const struct fbuf *names,
			  const size_t *noff, const size_t *nlen,
			  struct fbuf *text, struct fline **lines,
			  size_t *nr_lines, size_t *lines_alloc)
{
	struct fbuf path = { 0 };
	size_t *lens = NULL, lens_alloc = 0, depth = 1;
	const struct pnode *n = profile_node(p, 0);
	uint32_t cur = n->first_child;
	int err;

	err = grow_array((void **)&lens, &lens_alloc, 2, sizeof(*lens),
			 SIZE_MAX / sizeof(*lens));
	if (!err && n->self)
		err = add_line(text, lines, nr_lines, lines_alloc,
			       FRAME_UNKNOWN, strlen(FRAME_UNKNOWN), n->self);
	if (err)
		goto out;
	lens[0] = 0;
	while (cur != NONE) {
		n = profile_node(p, cur);
		path.len = lens[depth - 1];
		if (depth > 1)
			err = fbuf_add(&path, ";", 1);
		if (!err)
			err = fbuf_add(&path, names->v + noff[n->frame],
				       nlen[n->frame]);
		if (!err)
			err = grow_array((void **)&lens, &lens_alloc, depth + 1,
					 sizeof(*lens),
					 SIZE_MAX / sizeof(*lens));
		if (!err && n->self)
			err = add_line(text, lines, nr_lines, lines_alloc,
				       path.v, path.len, n->self);
		if (err)
			goto out;
		lens[depth] = path.len;
		if (n->first_child != NONE) {
			cur = n->first_child;
			depth++;
			continue;
		}
		while (cur != 0 && profile_node(p, cur)->next_sibling == NONE) {
			cur = profile_node(p, cur)->parent;
			depth--;
		}
		cur = cur ? profile_node(p, cur)->next_sibling : NONE;
	}
out:
	free(path.v);
	free(lens);
	return err;
}

int folded_write(FILE *f, const struct profile *p)
{
	struct fbuf names = { 0 }, text = { 0 };
	struct fline *lines = NULL;
	size_t nr_lines = 0, lines_alloc = 0, i, j, nr = profile_nr_frames(p);
	size_t *noff = NULL, *nlen = NULL, a1 = 0, a2 = 0;
	int err;

	err = grow_array((void **)&noff, &a1, nr ? nr : 1, sizeof(*noff),
			 SIZE_MAX / sizeof(*noff));
	if (!err)
		err = grow_array((void **)&nlen, &a2, nr ? nr : 1,
				 sizeof(*nlen), SIZE_MAX / sizeof(*nlen));
	if (!err)
		err = folded_names(p, &names, noff, nlen);
	if (!err)
		err = folded_collect(p, &names, noff, nlen, &text, &lines,
				     &nr_lines, &lines_alloc);
	if (err)
		goto out;
	for (i = 0; i < nr_lines; i++)
		lines[i].s = text.v + lines[i].off;

	/* Merge equal paths, then order whole lines if that differs. */
	if (nr_lines > 1)
		qsort(lines, nr_lines, sizeof(*lines), cmp_path);
	for (i = 0, j = 0; i < nr_lines; i++) {
		if (j && cmp_path(&lines[j - 1], &lines[i]) == 0) {
			uint64_t c = lines[j - 1].count;

			lines[j - 1].count = c > UINT64_MAX - lines[i].count ?
					     UINT64_MAX : c + lines[i].count;
		} else {
			lines[j++] = lines[i];
		}
	}
	nr_lines = j;
	for (i = 1; i < nr_lines; i++) {
		if (cmp_line(&lines[i - 1], &lines[i]) > 0) {
			qsort(lines, nr_lines, sizeof(*lines), cmp_line);
			break;
		}
	}
	for (i = 0; i < nr_lines; i++) {
		fwrite(lines[i].s, 1, lines[i].len, f);
		fprintf(f, " %" PRIu64 "\n", lines[i].count);
	}
	if (fflush(f) || ferror(f))
		err = -PM_EIO;
out:
	free(names.v);
	free(text.v);
	free(lines);
	free(noff);
	free(nlen);
	return err;
}
