/*
 * summary.c - the text summary. Layout: a header naming the recording,
 * then per event the sample counts, loss, completeness (with advice when
 * stacks break or are cut), and top-N tables.
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"

static int row_cmp(const void *a, const void *b)
{
	const struct summary_row *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? 1 : -1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

double summary_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

struct summary_row *summary_rows(const struct profile *p,
				 enum summary_col col, size_t *nr)
{
	size_t n = p ? profile_nr_frames(p) : 0, i;
	struct summary_row *rows = calloc(n ? n : 1, sizeof(*rows));

	*nr = 0;
	if (!rows)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct frame *fr = profile_frame(p, (uint32_t)i);
		const struct pframe_stat *st = profile_frame_stat(p, (uint32_t)i);
		uint64_t v = 0;

		switch (col) {
		case SUMMARY_PY_SELF:
			v = fr->kind == FRAME_PYTHON ? st->py_self : 0;
			break;
		case SUMMARY_PY_TOTAL:
			v = fr->kind == FRAME_PYTHON ? st->total : 0;
			break;
		case SUMMARY_NATIVE_SELF:
			v = fr->kind == FRAME_NATIVE || fr->kind == FRAME_INTERP ||
			    fr->kind == FRAME_KERNEL ? st->self : 0;
			break;
		}
		if (v) {
			rows[*nr].frame = (uint32_t)i;
			rows[(*nr)++].value = v;
		}
	}
	qsort(rows, *nr, sizeof(*rows), row_cmp);
	return rows;
}

/* One top-N table of frames selected and valued by col. */
static void write_table(FILE *f, const struct profile *p,
			enum summary_col col, const char *title, unsigned top)
{
	uint64_t total = profile_total(p);
	size_t nr, i;
	struct summary_row *rows = summary_rows(p, col, &nr);

	if (rows && nr)
		fprintf(f, "  %s\n", title);
	for (i = 0; rows && i < nr && i < top; i++) {
		const struct frame *fr = profile_frame(p, rows[i].frame);

		fprintf(f, "    %6.2f%% %10llu  %s",
			summary_pct(rows[i].value, total),
			(unsigned long long)rows[i].value, fr->name);
		if (col == SUMMARY_NATIVE_SELF && fr->dso && fr->dso[0])
			fprintf(f, "  [%s]", fr->dso);
		fputc('\n', f);
	}
	free(rows);
}

static void write_event(FILE *f, const struct summary_input *in,
			const struct event_stats *e)
{
	unsigned top = in->top ? in->top : 15;
	uint64_t user = e->samples - e->no_user;

	fprintf(f, "\nevent %s: %llu samples", e->name,
		(unsigned long long)e->samples);
	if (e->filtered)
		fprintf(f, " (%llu filtered out)",
			(unsigned long long)e->filtered);
	fputc('\n', f);
	if (!e->samples)
		return;
	fprintf(f, "  Python stacks: %llu samples (%.1f%%) have Python frames; "
		"%.1f%% of those are complete\n",
		(unsigned long long)e->with_python,
		summary_pct(e->with_python, e->samples),
		summary_pct(e->python_complete, e->with_python));
	fprintf(f, "  user stacks: %.1f%% truncated, %llu kernel-only samples",
		summary_pct(e->truncated, user ? user : 1),
		(unsigned long long)e->no_user);
	if (e->unwound)
		fprintf(f, ", %llu unwound from DWARF stack copies",
			(unsigned long long)e->unwound);
	fputc('\n', f);
	if (e->stitched)
		fprintf(f, "  %llu samples (%.1f%%) completed by stitching to "
			"earlier samples of the same thread\n",
			(unsigned long long)e->stitched,
			summary_pct(e->stitched, user ? user : 1));
	if (e->interp_break && summary_pct(e->interp_break, user) >= 5.0) {
		fprintf(f,
			"  NOTE: %.1f%% of stacks stop inside %s: this interpreter "
			"was built without frame\n"
			"        pointers, so `perf record -g` cannot walk past it "
			"and Python frames are lost.\n"
			"        Record with `perf record --call-graph dwarf,65528 "
			"...` (or scripts/pyperf-record) instead.\n",
			summary_pct(e->interp_break, user),
			e->break_dso ? e->break_dso : "the interpreter");
	} else if (user && summary_pct(e->truncated, user) >= 5.0 &&
		   e->unwound * 2 >= user) {
		fprintf(f,
			"  NOTE: %.1f%% of user stacks were cut short ([truncated] "
			"frames): the stack copy\n"
			"        was too small. Raise it (--call-graph dwarf,65528 "
			"is the largest perf accepts).\n",
			summary_pct(e->truncated, user));
	} else if (user && summary_pct(e->truncated, user) >= 5.0) {
		fprintf(f,
			"  NOTE: %.1f%% of user stacks were cut short ([truncated] "
			"frames): frame-pointer\n"
			"        chains break in native code built without frame "
			"pointers (the leaf frames\n"
			"        above [truncated] show where). --call-graph dwarf "
			"unwinds those too.\n",
			summary_pct(e->truncated, user));
	}
	write_table(f, e->profile, SUMMARY_PY_SELF, "Top Python functions (self):",
		    top);
	write_table(f, e->profile, SUMMARY_PY_TOTAL,
		    "Top Python functions (total):", top);
	write_table(f, e->profile, SUMMARY_NATIVE_SELF,
		    "Top native functions (self):", top);
}

uint64_t summary_lost_samples(const struct pd_stats *ps)
{
	return ps->lost_samples ? ps->lost_samples : ps->lost_events;
}

int summary_write(FILE *f, const struct summary_input *in)
{
	const struct pd_info *info = in->info;
	const struct pd_stats *ps = in->pstats;
	const char *const *w;
	size_t i;

	fprintf(f, "pyperf-merge %s: %s\n", PM_VERSION, in->path);
	if (info->cmdline)
		fprintf(f, "  recorded: %s\n", info->cmdline);
	if (info->hostname || info->osrelease || info->perf_version)
		fprintf(f, "  on: %s, kernel %s, perf %s%s\n",
			info->hostname ? info->hostname : "?",
			info->osrelease ? info->osrelease : "?",
			info->perf_version ? info->perf_version : "?",
			info->pipe ? " (pipe mode)" : "");
	if (summary_lost_samples(ps)) {
		fprintf(f,
			"\n  WARNING: %llu samples were LOST during recording "
			"(the ring buffer overflowed %llu times).\n"
			"  Record with a larger buffer (perf record -m 1024 or "
			"more) or a lower rate (-F 999).\n",
			(unsigned long long)summary_lost_samples(ps),
			(unsigned long long)ps->lost_records);
	}
	if (ps->bad_records || ps->unknown_id_samples)
		fprintf(f, "  %llu malformed records skipped, %llu samples of "
			"unknown events\n",
			(unsigned long long)ps->bad_records,
			(unsigned long long)ps->unknown_id_samples);
	for (i = 0; i < in->nr_events; i++)
		write_event(f, in, &in->events[i]);
	if (in->warnings && in->warnings[0]) {
		fprintf(f, "\nwarnings:\n");
		for (w = in->warnings; *w; w++)
			fprintf(f, "  %s\n", *w);
	}
	return ferror(f) ? -PM_EIO : 0;
}
