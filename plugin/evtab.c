/*
 * evtab.c - series, counters, id map and Python-function tables for the
 * event summaries. See evtab.h.
 */
#include "evtab.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "json.h"
#include "summary.h"

int series_add(struct series *s, uint64_t sec, uint64_t w)
{
	int err;

	if (sec >= SERIES_MAX_SECONDS)
		sec = SERIES_MAX_SECONDS - 1;
	if (sec >= s->n) {
		size_t old = s->n;

		err = grow_array((void **)&s->v, &s->alloc, (size_t)sec + 1,
				 sizeof(*s->v), SERIES_MAX_SECONDS);
		if (err)
			return err;
		memset(s->v + old, 0, ((size_t)sec + 1 - old) * sizeof(*s->v));
		s->n = (size_t)sec + 1;
	}
	s->v[sec] += w;
	return 0;
}

void series_release(struct series *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void series_write_text(FILE *f, const struct series *s, const char *title,
		       const char *unit, unsigned max_rows)
{
	size_t per, rows, r, i;
	uint64_t max = 0, *sum;

	if (!s->n)
		return;
	if (!max_rows)
		max_rows = 20;
	per = (s->n + max_rows - 1) / max_rows;
	rows = (s->n + per - 1) / per;
	sum = calloc(rows, sizeof(*sum));
	if (!sum)
		return;
	for (i = 0; i < s->n; i++)
		sum[i / per] += s->v[i];
	for (r = 0; r < rows; r++)
		if (sum[r] > max)
			max = sum[r];
	fprintf(f, "  %s (%s per %zu s):\n", title, unit, per);
	for (r = 0; r < rows; r++) {
		unsigned bar = max ? (unsigned)(40.0 * (double)sum[r] /
						(double)max + 0.5) : 0;

		fprintf(f, "    %5zu-%-5zu s %14llu  ", r * per, (r + 1) * per,
			(unsigned long long)sum[r]);
		while (bar--)
			fputc('#', f);
		fputc('\n', f);
	}
	free(sum);
}

void series_write_json(FILE *f, const struct series *s)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < s->n; i++)
		fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->v[i]);
	fputc(']', f);
}

int counts_add(struct counts *c, const char *name, uint64_t v, uint64_t w)
{
	size_t i;
	int err;

	if (!name)
		return -PM_ENOMEM;	/* the caller's strtab_intern() failed */
	for (i = 0; i < c->n; i++) {
		if (c->c[i].name == name || !strcmp(c->c[i].name, name)) {
			c->c[i].v += v;
			c->c[i].w += w;
			return 0;
		}
	}
	if (c->n >= COUNTS_MAX - 1)
		name = "(other)";
	for (i = 0; i < c->n; i++) {
		if (!strcmp(c->c[i].name, name)) {
			c->c[i].v += v;
			c->c[i].w += w;
			return 0;
		}
	}
	err = grow_array((void **)&c->c, &c->alloc, c->n + 1, sizeof(*c->c),
			 COUNTS_MAX);
	if (err)
		return err;
	c->c[c->n].name = name;
	c->c[c->n].v = v;
	c->c[c->n].w = w;
	c->n++;
	return 0;
}

void counts_release(struct counts *c)
{
	free(c->c);
	memset(c, 0, sizeof(*c));
}

static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return strcmp(x->name, y->name);
}

struct count *counts_sorted(const struct counts *c)
{
	struct count *out = malloc((c->n ? c->n : 1) * sizeof(*out));

	if (!out)
		return NULL;
	if (c->n)
		memcpy(out, c->c, c->n * sizeof(*out));
	qsort(out, c->n, sizeof(*out), count_cmp);
	return out;
}

void fmt_count(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

void fmt_bytes(char *buf, size_t len, uint64_t v)
{
	if (v >= (UINT64_C(1) << 30))
		snprintf(buf, len, "%.2f GiB", (double)v / (1 << 30));
	else if (v >= (1u << 20))
		snprintf(buf, len, "%.2f MiB", (double)v / (1 << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.1f KiB", (double)v / 1024);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
}

void fmt_ns(char *buf, size_t len, uint64_t v)
{
	if (v >= UINT64_C(1000000000))
		snprintf(buf, len, "%.3f s", (double)v / 1e9);
	else if (v >= 1000000)
		snprintf(buf, len, "%.2f ms", (double)v / 1e6);
	else
		snprintf(buf, len, "%.1f us", (double)v / 1e3);
}

struct pyrow {
	uint32_t frame;
	uint64_t self, total;
};

static int pyrow_cmp(const void *a, const void *b)
{
	const struct pyrow *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Python frames of p with their self/total, sorted; NULL when none. */
static struct pyrow *py_rows(const struct profile *p, size_t *nr)
{
	size_t n = p ? profile_nr_frames(p) : 0, i;
	struct pyrow *rows;

	*nr = 0;
	if (!n)
		return NULL;
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct frame *fr = profile_frame(p, (uint32_t)i);
		const struct pframe_stat *st = profile_frame_stat(p, (uint32_t)i);

		if (fr->kind != FRAME_PYTHON || !st->total)
			continue;
		rows[*nr].frame = (uint32_t)i;
		rows[*nr].self = st->py_self;
		rows[*nr].total = st->total;
		(*nr)++;
	}
	qsort(rows, *nr, sizeof(*rows), pyrow_cmp);
	return rows;
}

void pytable_write_text(FILE *f, const struct profile *p, const char *title,
			value_fmt fmt, uint64_t whole, unsigned top)
{
	size_t nr, i;
	struct pyrow *rows = py_rows(p, &nr);
	char a[32], b[32];

	if (!whole && p)
		whole = profile_total(p);
	if (!rows || !nr) {
		free(rows);
		return;
	}
	fprintf(f, "  %s\n    %7s %12s %7s %12s  %s\n", title, "self%",
		"self", "total%", "total", "Python function");
	for (i = 0; i < nr && i < (top ? top : 15); i++) {
		fmt(a, sizeof(a), rows[i].self);
		fmt(b, sizeof(b), rows[i].total);
		fprintf(f, "    %6.2f%% %12s %6.2f%% %12s  %s\n",
			summary_pct(rows[i].self, whole), a,
			summary_pct(rows[i].total, whole), b,
			profile_frame(p, rows[i].frame)->name);
	}
	free(rows);
}

void pytable_write_json(FILE *f, const struct profile *p, unsigned top)
{
	size_t nr, i;
	struct pyrow *rows = py_rows(p, &nr);

	fputc('[', f);
	for (i = 0; rows && i < nr && i < (top ? top : 15); i++) {
		fputs(i ? ", {" : "{", f);
		json_key(f, "function");
		json_str(f, profile_frame(p, rows[i].frame)->name);
		fprintf(f, ", \"self\": %llu, \"total\": %llu}",
			(unsigned long long)rows[i].self,
			(unsigned long long)rows[i].total);
	}
	fputc(']', f);
	free(rows);
}

bool es_field(const struct es_ctx *c, const struct es_sample *s, unsigned f,
	      uint64_t *v)
{
	if (!c->td || f >= AK_MAX_FIELDS)
		return false;
	return tracedata_read(c->td, &s->ak->f[f], s->ev->u.sample.raw,
			      s->ev->u.sample.raw_size, v);
}
