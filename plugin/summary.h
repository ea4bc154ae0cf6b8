/*
 * summary.h - the text summary of one recording: per event, samples and
 * lost samples, stack completeness, top Python and native functions.
 *
 * The caller fills struct event_stats while processing samples and owns
 * it; summary_write() only reads it and the profile.
 */
#ifndef PM_SUMMARY_H
#define PM_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "perfdata.h"
#include "profile.h"

#define SUMMARY_MAX_BREAK_DSOS 4

struct event_stats {
	const char *name;		/* event name */
	uint64_t samples;		/* samples kept (after filters) */
	uint64_t filtered;		/* samples dropped by --pid/--tid/--comm */
	uint64_t with_python;		/* samples with >= 1 Python frame */
	uint64_t python_complete;	/* ... whose user stack reached a root */
	uint64_t truncated;		/* user stack cut short */
	uint64_t no_user;		/* kernel-only samples */
	uint64_t unwound;		/* user part from DWARF unwinding */
	uint64_t stitched;		/* ... completed from an earlier sample
					   of the thread (unwind.h) */
	uint64_t interp_break;		/* chain ended inside the interpreter */
	const char *break_dso;		/* first interpreter DSO seen there */
	struct profile *profile;	/* owned by the caller */
};

struct summary_input {
	const char *path;		/* input as given */
	const struct pd_info *info;
	const struct pd_stats *pstats;
	const struct event_stats *events;
	size_t nr_events;
	unsigned top;			/* rows per table, 0 = 15 */
	const char *const *warnings;	/* NULL-terminated, may be NULL */
};

/*
 * Samples lost while recording. perf 6.x reports the same loss twice: the
 * kernel's LOST records (ring buffer full; they count every record type) and,
 * at the end, LOST_SAMPLES records from each event's read_format LOST
 * counter (samples only). Prefer the latter; older perf has only LOST.
 */
uint64_t summary_lost_samples(const struct pd_stats *ps);

/* Rows of the "top functions" tables: frames of p with a non-zero value in
 * col, largest first (ties by frame index). Caller frees; NULL on OOM. */
enum summary_col { SUMMARY_PY_SELF, SUMMARY_PY_TOTAL, SUMMARY_NATIVE_SELF };
struct summary_row {
	uint32_t frame;
	uint64_t value;
};
struct summary_row *summary_rows(const struct profile *p,
				 enum summary_col col, size_t *nr);

/* 100 * part / whole, 0 when whole is 0. */
double summary_pct(uint64_t part, uint64_t whole);

/* Write the summary. Returns 0 or -PM_EIO. */
int summary_write(FILE *f, const struct summary_input *in);

#endif
