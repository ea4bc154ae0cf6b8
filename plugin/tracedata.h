/*
 * tracedata.h - the tracing data of a recording (HEADER_TRACING_DATA: the
 * feature section in file mode, the record in pipe mode) parsed into a
 * libtraceevent handle, and numeric field access for tracepoint samples.
 *
 * Field offsets and sizes always come from the embedded format files,
 * never from constants: they change between kernels.
 *
 * Ownership: struct tracedata owns the tep_handle and everything looked up
 * through it; struct td_field is a small value copied out of the format and
 * stays meaningful for the life of the tracedata. The input blob is not
 * referenced after tracedata_parse() returns.
 */
#ifndef PM_TRACEDATA_H
#define PM_TRACEDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Limits on untrusted input. */
#define TD_MAX_FORMAT	(1u << 20)	/* one format file, bytes */
#define TD_MAX_EVENTS	100000u		/* event formats in a blob */

struct tracedata;
struct tep_handle;

/* A numeric (or fixed char array) field of one event, copied out of its
 * format. present is false for a field the event does not have. */
struct td_field {
	bool present;
	bool is_signed;
	bool is_array;			/* fixed array (char comm[16]) */
	uint32_t offset, size;		/* in the raw record */
};

/*
 * Parse a tracing-data blob of len bytes (layout in the .c, after perf's
 * trace-event-info.c). file_offset is where it starts in the input, for
 * messages. Formats libtraceevent rejects are skipped and counted; a blob
 * cut short, with a bad magic or absurd counts gives NULL and -PM_E* in err.
 */
struct tracedata *tracedata_parse(const uint8_t *buf, size_t len,
				  uint64_t file_offset, struct pm_error *err);
void tracedata_free(struct tracedata *td);	/* NULL accepted */

struct tep_handle *tracedata_tep(struct tracedata *td);
size_t tracedata_nr_failed(const struct tracedata *td); /* formats skipped */
uint32_t tracedata_page_size(const struct tracedata *td);	/* 0 if absurd */

/* "system:name" of a tracepoint id (attr.config), or NULL if unknown.
 * The string lives as long as td. */
const char *tracedata_event_name(struct tracedata *td, uint64_t id);

/* Field `name` of event `id` (common fields included); false if the event
 * or the field is unknown (f->present is false then). */
bool tracedata_field(struct tracedata *td, uint64_t id, const char *name,
		     struct td_field *f);

/* Whether raw (raw_size bytes, a sample's RAW payload) is a record of event
 * id: its common_type field is read from the format and compared. */
bool tracedata_is_event(struct tracedata *td, uint64_t id, const uint8_t *raw,
			size_t raw_size);

/* Read a numeric field (size 1, 2, 4 or 8) from raw in the file's byte
 * order, sign-extended when signed. false if absent, not numeric or not
 * inside raw_size. */
bool tracedata_read(const struct tracedata *td, const struct td_field *f,
		    const uint8_t *raw, size_t raw_size, uint64_t *val);

/* Copy a char array field into buf (NUL-terminated, cut at len - 1). */
bool tracedata_read_str(const struct td_field *f, const uint8_t *raw,
			size_t raw_size, char *buf, size_t len);

#endif
