/*
 * output.h - writers for a profile. Each writes to a caller-given FILE and
 * escapes every name for its format (XML in SVG, ';' and newlines in folded
 * stacks). Nothing here reads perf.data or knows about sessions.
 */
#ifndef PM_OUTPUT_H
#define PM_OUTPUT_H

#include <stdio.h>

#include "profile.h"

struct flamegraph_opts {
	const char *title;		/* e.g. "CPU: python3 -X perf app.py" */
	const char *subtitle;		/* e.g. "event cpu-clock, 12345 samples" */
	const char *unit;		/* "samples", "faults", "bytes", "ns" */
	double min_width_px;		/* prune frames narrower; 0 = 0.1 */
	unsigned width;			/* image width, 0 = 1200 */
};

/* Interactive SVG (zoom, reset, search with match %, tooltips, colours by
 * frame kind); pruned tiny frames are reported in the subtitle. Returns 0
 * or -PM_EIO. */
int flamegraph_write(FILE *f, const struct profile *p,
		     const struct flamegraph_opts *opts);

/* "root;...;leaf COUNT\n" lines, sorted (LC_ALL=C byte order). 0 or -PM_EIO. */
int folded_write(FILE *f, const struct profile *p);

#endif
