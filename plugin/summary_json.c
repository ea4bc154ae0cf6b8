/*
 * summary_json.c - the JSON summary (see summary_json.h and
 * doc/json-schema.md). Every string from the input (paths, comms, function
 * and DSO names) goes through json_str(). Keys are fixed; a key is added,
 * never renamed or retyped, within schema version 1.
 */
#include "summary_json.h"

#include <stdlib.h>

#include "json.h"

/* The tables of summary.c, as arrays. */
static void write_top(FILE *f, const struct profile *p, enum summary_col col,
		      unsigned top)
{
	size_t nr = 0, i;
	struct summary_row *rows = p ? summary_rows(p, col, &nr) : NULL;

	fputc('[', f);
	for (i = 0; rows && i < nr && i < top; i++) {
		const struct frame *fr = profile_frame(p, rows[i].frame);

		fputs(i ? ", {" : "{", f);
		json_key(f, "function");
		json_str(f, fr->name);
		if (col == SUMMARY_NATIVE_SELF) {
			fputs(", ", f);
			json_key(f, "dso");
			json_str(f, fr->dso ? fr->dso : "");
			fputs(", ", f);
			json_key(f, "kind");
			json_str(f, frame_kind_name(fr->kind));
		}
		fprintf(f, ", \"samples\": %llu}",
			(unsigned long long)rows[i].value);
	}
	fputc(']', f);
	free(rows);
}

static void write_event(FILE *f, const struct event_stats *e, unsigned top)
{
	uint64_t user = e->samples - (e->no_user <= e->samples ? e->no_user : 0);

	fputs("{", f);
	json_key(f, "name");
	json_str(f, e->name);
	fprintf(f, ", \"samples\": %llu, \"filtered\": %llu, "
		"\"with_python\": %llu, \"python_complete\": %llu, "
		"\"truncated\": %llu, \"kernel_only\": %llu, "
		"\"unwound\": %llu, \"stitched\": %llu, "
		"\"interp_break\": %llu, ",
		(unsigned long long)e->samples, (unsigned long long)e->filtered,
		(unsigned long long)e->with_python,
		(unsigned long long)e->python_complete,
		(unsigned long long)e->truncated, (unsigned long long)e->no_user,
		(unsigned long long)e->unwound,
		(unsigned long long)e->stitched,
		(unsigned long long)e->interp_break);
	json_key(f, "break_dso");
	json_str(f, e->break_dso);
	fputs(", \"python_pct\": ", f);
	json_num(f, summary_pct(e->with_python, e->samples));
	fputs(", \"python_complete_pct\": ", f);
	json_num(f, summary_pct(e->python_complete, e->with_python));
	fputs(", \"truncated_pct\": ", f);
	json_num(f, summary_pct(e->truncated, user));
	fputs(",\n     \"top_python_self\": ", f);
	write_top(f, e->profile, SUMMARY_PY_SELF, top);
	fputs(",\n     \"top_python_total\": ", f);
	write_top(f, e->profile, SUMMARY_PY_TOTAL, top);
	fputs(",\n     \"top_native_self\": ", f);
	write_top(f, e->profile, SUMMARY_NATIVE_SELF, top);
	fputs("}", f);
}

int summary_write_json(FILE *f, const struct summary_input *in,
		       const struct eventsum *es)
{
	const struct pd_info *info = in->info;
	const struct pd_stats *ps = in->pstats;
	unsigned top = in->top ? in->top : 15;
	const char *const *w;
	size_t i;

	fputs("{\"schema\": \"" SUMMARY_JSON_SCHEMA "\",\n", f);
	fputs(" \"tool\": {\"name\": \"pyperf-merge\", \"version\": ", f);
	json_str(f, PM_VERSION);
	fputs("},\n \"input\": ", f);
	json_str(f, in->path);
	fputs(",\n \"recording\": {\"cmdline\": ", f);
	json_str(f, info->cmdline);
	fputs(", \"hostname\": ", f);
	json_str(f, info->hostname);
	fputs(", \"osrelease\": ", f);
	json_str(f, info->osrelease);
	fputs(", \"perf_version\": ", f);
	json_str(f, info->perf_version);
	fputs(", \"arch\": ", f);
	json_str(f, info->arch);
	fprintf(f, ", \"pipe\": %s, \"compressed\": %s},\n",
		info->pipe ? "true" : "false",
		info->compressed ? "true" : "false");
	fprintf(f, " \"lost\": {\"samples\": %llu, \"lost_events\": %llu, "
		"\"lost_records\": %llu, \"lost_samples_records\": %llu},\n",
		(unsigned long long)summary_lost_samples(ps),
		(unsigned long long)ps->lost_events,
		(unsigned long long)ps->lost_records,
		(unsigned long long)ps->lost_samples);
	fprintf(f, " \"malformed_records\": %llu, \"unknown_event_samples\": "
		"%llu,\n \"events\": [", (unsigned long long)ps->bad_records,
		(unsigned long long)ps->unknown_id_samples);
	for (i = 0; i < in->nr_events; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		write_event(f, &in->events[i], top);
	}
	fputs("],\n \"warnings\": [", f);
	for (w = in->warnings, i = 0; w && *w; w++, i++) {
		if (i)
			fputs(", ", f);
		json_str(f, *w);
	}
	fputs("],\n \"analyses\": ", f);
	if (es)
		eventsum_write_json(es, f, top);
	else
		fputs("null", f);
	fputs("}\n", f);
	return ferror(f) ? -PM_EIO : 0;
}
