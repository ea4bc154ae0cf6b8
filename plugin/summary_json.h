/*
 * summary_json.h - the summary as one JSON document (--format json), schema
 * "pyperf-merge/1", documented in doc/json-schema.md. It carries the same
 * numbers as the text summary (summary.c) plus the event summaries.
 *
 * Reads only: the caller owns the summary input and the eventsum.
 */
#ifndef PM_SUMMARY_JSON_H
#define PM_SUMMARY_JSON_H

#include <stdio.h>

#include "eventsum.h"
#include "summary.h"

#define SUMMARY_JSON_SCHEMA "pyperf-merge/1"

/* Write the document; es may be NULL ("analyses": null). 0 or -PM_EIO. */
int summary_write_json(FILE *f, const struct summary_input *in,
		       const struct eventsum *es);

#endif
