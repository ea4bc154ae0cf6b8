/*
 * perfdata_impl.h - internals of the perf.data reader, shared by its files:
 *   perfdata.c         open, file header, attrs, id map, public getters
 *   perfdata_stream.c  input (mmap / memory / stdin stream), raw records,
 *                      zstd, the time-ordered queue, perfdata_next()
 *   perfdata_feat.c    feature sections and pipe-mode header records
 *   perfdata_decode.c  record and sample decoding
 * Nothing here is part of the library's contract; include perfdata.h.
 */
#ifndef PM_PERFDATA_IMPL_H
#define PM_PERFDATA_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include <zstd.h>

#include "arena.h"
#include "idmap.h"
#include "perfdata.h"

#define PD_MAGIC2	0x32454c4946524550ULL	/* "PERFILE2" */
#define PD_MAGIC2_SW	0x50455246494c4532ULL	/* other endianness */
#define PD_LAST_FEATURE	32			/* perf 6.1 HEADER_LAST_FEATURE */

/* Built-in limits on sizes taken from the input. */
#define PD_MAX_ATTRS		4096
#define PD_MAX_IDS		(1u << 22)
#define PD_MAX_BUILD_IDS	(1u << 20)
#define PD_MAX_TRACING		(512u << 20)	/* tracing data blob */
#define PD_MAX_STREAM_REC	(PD_MAX_TRACING + 65536)
#define PD_QUEUE_CAP		((uint64_t)1 << 30)	/* queued bytes */
#define PD_CHUNK		(1u << 20)	/* queue storage chunk */
#define PD_CHUNK0		(128u << 10)	/* the first one (> max record) */
#define PD_ZBUF			(256u << 10)	/* decompression window */
#define PD_DROP_STEP		(64u << 20)	/* release read pages every */
#define PD_KEEP_WINDOW		(64u << 20)	/* ... but not the last bytes
						   read: delivered events
						   kept (perfdata_event_keep)
						   stay resident */

/* A record as read, before it is queued. Pointers valid until consumed. */
struct pd_raw {
	const uint8_t *p;
	uint32_t type;
	uint16_t misc, size;
	uint64_t off;		/* file offset (of the COMPRESSED record) */
	bool in_z;		/* from decompressed data */
	uint64_t zpos;		/* decompressed position, when in_z */
	uint64_t extra;		/* bytes after the record not in size */
};

/* Queued or ready record: bytes live in a storage chunk. */
struct pd_qent {
	const uint8_t *direct;	/* the record in the input image (no copy:
				   file mode, 8-byte aligned), else NULL */
	uint64_t time, seq, off, zpos;
	uint32_t chunk, coff;
	uint32_t attr;		/* index + 1, 0 = none */
	uint16_t size;
	bool in_z, has_time;
};

struct pd_chunk {
	uint8_t *mem;
	size_t size, used;
	size_t live;		/* entries not yet released */
};

struct perfdata {
	struct arena *arena;
	const char *name;

	/* input: memory image (mmap, caller buffer or slurped stdin) ... */
	const uint8_t *mem;
	size_t mem_len;
	void *mapped;		/* munmap on free */
	uint64_t dropped;	/* mapped pages before this were released */
	size_t pagesize;
	uint8_t *owned;		/* free on free */
	/* ... or a stream (stdin pipe): buffer of [sbase, sbase + slen) */
	int fd;			/* >= 0 in stream mode */
	uint8_t *sbuf;
	size_t salloc, slen;
	uint64_t sbase;
	bool seof;

	uint64_t pos;		/* next input record */
	uint64_t data_end;	/* file mode: end of data; pipe: UINT64_MAX */
	uint64_t file_end;	/* known file size (memory), UINT64_MAX */

	struct pd_info info;
	struct pd_attr **attrs;
	size_t nr_attrs, attrs_alloc;
	int id_pos, is_pos;	/* -1 when not available */
	struct idmap ids;	/* sample id -> attr index */
	struct pd_build_id *bids;
	size_t bids_alloc;
	uint8_t *tracing;	/* owned copy of tracing data */

	/* raw record pushback (one record peeked, not consumed) */
	struct pd_raw raw;
	bool have_raw;

	/* zstd */
	ZSTD_DStream *zds;
	uint8_t *zin;		/* payload of the current COMPRESSED record */
	size_t zin_alloc, zin_len, zin_pos;
	bool zflushed;		/* decoder had no more output for zin */
	uint8_t *zbuf;		/* decompressed window */
	size_t zlen, zpos, zsplit;	/* [0, zsplit) came from zprev_off */
	uint64_t zbase;		/* decompressed position of zbuf[0] */
	uint64_t zcur_off, zprev_off;

	/* queue */
	struct pd_chunk *chunks;
	size_t nr_chunks, chunks_alloc, cur_chunk;
	uint64_t queued_bytes;
	struct pd_qent *queue;	/* timestamped, waiting for a flush */
	size_t qn, qalloc;
	struct pd_qent *ready;	/* in delivery order */
	size_t rhead, rn, ralloc;
	bool have_last;		/* a delivered entry to release */
	struct pd_qent last;
	uint64_t seq, max_time, next_flush, last_flushed;
	bool flushed_any;
	bool eof;		/* no more input (or fatal error) */
	struct pm_error fatal;	/* error to return after the flush */

	size_t per_attr_alloc;	/* of stats.samples_per_attr */
	struct pd_stats stats;
	char warning[512];
};

/* perfdata.c */
/* Name an attr from EVENT_DESC / EVENT_UPDATE (name is arena-owned). */
void pd_attr_set_name(struct perfdata *pd, struct pd_attr *a, const char *name);
int pd_add_attr(struct perfdata *pd, const uint8_t *p, size_t n,
		const uint8_t *ids, size_t nr_ids, uint64_t off,
		struct pm_error *err);
const char *pd_attr_fallback_name(uint32_t type, uint64_t config,
				  char *buf, size_t len);
int pd_id_insert(struct perfdata *pd, uint64_t id, uint32_t idx1);
struct pd_attr *pd_id_lookup(const struct perfdata *pd, uint64_t id);
void pd_warn(struct perfdata *pd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pd_raw_where(const struct pd_raw *r, char *buf, size_t len);
void pd_bad_record(struct perfdata *pd, const struct pd_raw *r,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* perfdata_feat.c */
void pd_feat_parse(struct perfdata *pd, unsigned feat, const uint8_t *p,
		   size_t size, uint64_t off);
int pd_header_record(struct perfdata *pd, const struct pd_raw *r,
		     struct pm_error *err);
bool pd_is_header_type(uint32_t type);

/* perfdata_decode.c */
const struct pd_attr *pd_record_attr(const struct perfdata *pd,
				     const uint8_t *p, uint32_t type,
				     uint16_t size, bool *unknown);
int pd_decode(const struct perfdata *pd, const struct pd_attr *attr,
	      const uint8_t *p, struct pd_event *ev, char *msg, size_t len);

/* perfdata_stream.c */
int pd_in_get(struct perfdata *pd, uint64_t off, size_t n,
	      const uint8_t **p, size_t *avail);
int pd_raw_peek(struct perfdata *pd, struct pd_raw *r, struct pm_error *err);
void pd_raw_consume(struct perfdata *pd);

#endif
