/*
 * perfdata_stream.c - the record stream: input bytes (a memory image or a
 * non-seekable stream), raw records with COMPRESSED/COMPRESSED2 expanded
 * through one persistent zstd stream, and the time-ordered delivery queue
 * (perf session.c / ordered-events.c: FINISHED_ROUND flushes what is at or
 * before the previous round's maximum timestamp).
 *
 * Queued records are copied into 1 MiB chunks (8-byte aligned, no malloc per
 * record); a chunk is reused once every record in it has been delivered.
 */
#include "perfdata_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define STREAM_MIN_BUF (256u << 10)

/* ---- input ---- */

/* read() from the stream, retried on EINTR; 0 marks the end (seof). */
static ssize_t stream_read(struct perfdata *pd, void *buf, size_t n)
{
	ssize_t got;

	do
		got = read(pd->fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		pd->seof = true;
	return got;
}

static int stream_fill(struct perfdata *pd, uint64_t off, size_t n)
{
	ssize_t got;
	int rc;

	/* Drop what is before off (reading and discarding a gap, e.g. an
	 * AUXTRACE payload), then read until n bytes are buffered. */
	if (off - pd->sbase <= pd->slen) {
		size_t d = (size_t)(off - pd->sbase);

		memmove(pd->sbuf, pd->sbuf + d, pd->slen - d);
		pd->slen -= d;
	} else {
		uint64_t skip = off - pd->sbase - pd->slen;

		pd->slen = 0;
		while (skip && !pd->seof) {
			size_t k = skip < pd->salloc ? (size_t)skip :
				   pd->salloc;

			if ((got = stream_read(pd, pd->sbuf, k)) < 0)
				return -PM_EIO;
			skip -= (size_t)got;
		}
		if (skip) {
			pd->sbase = off - skip;	/* EOF inside the gap */
			return 0;
		}
	}
	pd->sbase = off;
	rc = grow_array((void **)&pd->sbuf, &pd->salloc, n, 1,
			PD_MAX_STREAM_REC);
	if (rc)
		return rc;
	while (pd->slen < n && !pd->seof) {
		if ((got = stream_read(pd, pd->sbuf + pd->slen,
				       pd->salloc - pd->slen)) < 0)
			return -PM_EIO;
		pd->slen += (size_t)got;
	}
	return 0;
}

/*
 * Bytes [off, off + n) of the input. Returns 0 with *p set, or
 * -PM_ETRUNCATED with *avail < n bytes at *p, or -PM_EIO / -PM_ELIMIT.
 * In stream mode offsets must not go backwards and *p is valid until the
 * next call.
 */
int pd_in_get(struct perfdata *pd, uint64_t off, size_t n,
	      const uint8_t **p, size_t *avail)
{
	int rc;

	if (pd->fd < 0) {
		*avail = off >= pd->mem_len ? 0 :
			 pd->mem_len - off < n ? pd->mem_len - (size_t)off : n;
		*p = pd->mem + (off < pd->mem_len ? off : pd->mem_len);
		return *avail == n ? 0 : -PM_ETRUNCATED;
	}
	if (off < pd->sbase)
		return -PM_EIO;
	if (off + n > pd->sbase + pd->slen) {
		if (pd->salloc < STREAM_MIN_BUF &&
		    grow_array((void **)&pd->sbuf, &pd->salloc, STREAM_MIN_BUF,
			       1, PD_MAX_STREAM_REC))
			return -PM_ENOMEM;
		rc = stream_fill(pd, off, n);
		if (rc)
			return rc;
	}
	if (off >= pd->sbase + pd->slen) {
		*avail = 0;
		*p = pd->sbuf;
		return n ? -PM_ETRUNCATED : 0;
	}
	*p = pd->sbuf + (off - pd->sbase);
	*avail = pd->sbase + pd->slen - off < n ?
		 (size_t)(pd->sbase + pd->slen - off) : n;
	return *avail == n ? 0 : -PM_ETRUNCATED;
}

/* ---- zstd ---- */

static void z_compact(struct perfdata *pd)
{
	if (!pd->zpos)
		return;
	memmove(pd->zbuf, pd->zbuf + pd->zpos, pd->zlen - pd->zpos);
	pd->zlen -= pd->zpos;
	pd->zsplit = pd->zsplit > pd->zpos ? pd->zsplit - pd->zpos : 0;
	pd->zbase += pd->zpos;
	pd->zpos = 0;
}

/* Decompress more of the current COMPRESSED payload into the window. */
static int z_more(struct perfdata *pd, struct pm_error *err)
{
	ZSTD_outBuffer out;
	ZSTD_inBuffer in = { pd->zin, pd->zin_len, pd->zin_pos };
	size_t ret, before;

	z_compact(pd);
	before = pd->zlen;
	out.dst = pd->zbuf;
	out.size = PD_ZBUF;
	out.pos = pd->zlen;
	ret = ZSTD_decompressStream(pd->zds, &out, &in);
	if (ZSTD_isError(ret))
		return pm_error_set(err, PM_EZSTD, "offset %llu: COMPRESSED "
				    "record: zstd: %s",
				    (unsigned long long)pd->zcur_off,
				    ZSTD_getErrorName(ret));
	pd->stats.decompressed_bytes += out.pos - before;
	if (out.pos == before && in.pos == pd->zin_pos)
		in.pos = pd->zin_len;		/* no progress: done */
	pd->zlen = out.pos;
	pd->zin_pos = in.pos;
	pd->zflushed = out.pos < out.size;
	return 0;
}

static int z_load(struct perfdata *pd, const uint8_t *p, uint32_t type,
		  uint16_t size, struct pm_error *err)
{
	const uint8_t *payload = p + 8;
	size_t len = size - 8u;
	uint64_t dsize;

	if (type == PD_COMPRESSED2) {	/* header; u64 data_size; data */
		if (size < 16 || (dsize = pd_u64(p + 8, 0)) > size - 16u)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: "
					    "COMPRESSED2 record of size %u has "
					    "a bad data_size",
					    (unsigned long long)pd->pos, size);
		payload = p + 16;
		len = (size_t)dsize;
	}
	if (pd->info.compressed && pd->info.comp_type != 1)
		return pm_error_set(err, PM_EUNSUPPORTED, "offset %llu: "
				    "compression type %u is not supported "
				    "(only zstd, 1)",
				    (unsigned long long)pd->pos,
				    pd->info.comp_type);
	if (!pd->zds) {
		pd->zds = ZSTD_createDStream();
		pd->zbuf = malloc(PD_ZBUF);
		if (!pd->zds || !pd->zbuf ||
		    ZSTD_isError(ZSTD_initDStream(pd->zds)))
			return pm_error_set(err, PM_ENOMEM, "out of memory "
					    "for zstd");
	}
	if (grow_array((void **)&pd->zin, &pd->zin_alloc, len ? len : 1, 1,
		       65536))
		return pm_error_set(err, PM_ENOMEM, "out of memory");
	memcpy(pd->zin, payload, len);
	pd->zin_len = len;
	pd->zin_pos = 0;
	pd->zflushed = false;
	z_compact(pd);
	pd->zsplit = pd->zlen;	/* bytes carried over from earlier records */
	pd->zprev_off = pd->zcur_off;
	pd->zcur_off = pd->pos;
	pd->stats.compressed_bytes += len;
	return 0;
}

/* ---- raw records ---- */

/* A complete record in the decompressed window? 1 yes, 0 no, <0 error. */
static int z_record(struct perfdata *pd, struct pd_raw *r,
		    struct pm_error *err)
{
	const uint8_t *p = pd->zbuf + pd->zpos;
	size_t left = pd->zlen - pd->zpos;
	uint64_t off = pd->zpos < pd->zsplit ? pd->zprev_off : pd->zcur_off;

	if (left < 8)
		return 0;
	memset(r, 0, sizeof(*r));
	memcpy(&r->type, p, 4);
	memcpy(&r->misc, p + 4, 2);
	memcpy(&r->size, p + 6, 2);
	if (r->size < 8)
		return pm_error_set(err, PM_ECORRUPT, "offset %llu "
				    "(compressed, decompressed byte %llu): "
				    "record size %u is less than 8",
				    (unsigned long long)off,
				    (unsigned long long)(pd->zbase + pd->zpos),
				    r->size);
	if (left < r->size)
		return 0;
	r->p = p;
	r->off = off;
	r->in_z = true;
	r->zpos = pd->zbase + pd->zpos;
	return 1;
}

static int truncated(struct perfdata *pd, struct pm_error *err,
		     const char *what, size_t avail)
{
	return pm_error_set(err, PM_ETRUNCATED, "offset %llu: file ends "
			    "inside %s (%zu bytes left)",
			    (unsigned long long)pd->pos, what, avail);
}

/*
 * Peek the next record (not consumed). Returns 0, 1 at the end of the
 * data, or a fatal -PM_E* with err set.
 */
int pd_raw_peek(struct perfdata *pd, struct pd_raw *r, struct pm_error *err)
{
	const uint8_t *p;
	size_t avail;
	uint64_t extra, want;
	int rc;

	if (pd->have_raw) {
		*r = pd->raw;
		return 0;
	}
	for (;;) {
		if (pd->zbuf) {
			rc = z_record(pd, r, err);
			if (rc < 0)
				return rc;
			if (rc) {
				pd->raw = *r;
				pd->have_raw = true;
				return 0;
			}
			if (pd->zin_pos < pd->zin_len || !pd->zflushed) {
				rc = z_more(pd, err);
				if (rc)
					return rc;
				continue;
			}
		}
		if (pd->pos >= pd->data_end)
			goto end;
		rc = pd_in_get(pd, pd->pos, 8, &p, &avail);
		if (rc == -PM_EIO || rc == -PM_ENOMEM || rc == -PM_ELIMIT)
			return pm_error_set(err, -rc, "offset %llu: %s",
					    (unsigned long long)pd->pos,
					    rc == -PM_EIO ? strerror(errno) :
					    pm_strerror(rc));
		if (avail == 0) {
			if (pd->data_end == UINT64_MAX)
				goto end;	/* pipe: end of stream */
			return pm_error_set(err, PM_ETRUNCATED, "offset %llu: "
					    "file ends before the end of the "
					    "data section (%llu)",
					    (unsigned long long)pd->pos,
					    (unsigned long long)pd->data_end);
		}
		if (avail < 8)
			return truncated(pd, err, "a record header", avail);
		memset(r, 0, sizeof(*r));
		memcpy(&r->type, p, 4);
		memcpy(&r->misc, p + 4, 2);
		memcpy(&r->size, p + 6, 2);
		r->off = pd->pos;
		if (r->size < 8)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: "
					    "record size %u is less than 8 "
					    "(type %u)",
					    (unsigned long long)pd->pos,
					    r->size, r->type);
		if (r->size > pd->data_end - pd->pos)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: %s "
					    "record of size %u runs past the "
					    "end of the data section (%llu)",
					    (unsigned long long)pd->pos,
					    perfdata_record_name(r->type),
					    r->size,
					    (unsigned long long)pd->data_end);
		/* HEADER_TRACING_DATA (u32 size) and AUXTRACE (u64 size)
		 * are followed by a payload not counted in header.size. */
		extra = 0;
		if (r->type == PD_HEADER_TRACING_DATA && r->size >= 12) {
			uint32_t t;

			rc = pd_in_get(pd, pd->pos, 12, &p, &avail);
			if (!rc) {
				memcpy(&t, p + 8, 4);
				extra = t;
			}
		} else if (r->type == PD_AUXTRACE && r->size >= 16) {
			rc = pd_in_get(pd, pd->pos, 16, &p, &avail);
			extra = rc ? 0 : pd_u64(p + 8, 0);
		}
		if (extra > pd->data_end - pd->pos - r->size)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: %s "
					    "payload of %llu bytes runs past "
					    "the end of the data",
					    (unsigned long long)pd->pos,
					    perfdata_record_name(r->type),
					    (unsigned long long)extra);
		if (r->type == PD_HEADER_TRACING_DATA &&
		    extra > PD_MAX_TRACING)
			return pm_error_set(err, PM_ELIMIT, "offset %llu: "
					    "tracing data of %llu bytes is "
					    "over the limit",
					    (unsigned long long)pd->pos,
					    (unsigned long long)extra);
		want = r->size + (r->type == PD_HEADER_TRACING_DATA ?
				  extra : 0);
		rc = pd_in_get(pd, pd->pos, (size_t)want, &p, &avail);
		if (rc == -PM_ETRUNCATED)
			return truncated(pd, err, "a record", avail);
		if (rc)
			return pm_error_set(err, -rc, "offset %llu: %s",
					    (unsigned long long)pd->pos,
					    pm_strerror(rc));
		if (r->type == PD_COMPRESSED || r->type == PD_COMPRESSED2) {
			pd->stats.records[r->type]++;
			rc = z_load(pd, p, r->type, r->size, err);
			if (rc)
				return rc;
			pd->pos += r->size;
			continue;
		}
		if (pd->zbuf && pd->zlen > pd->zpos)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: "
					    "compressed data ended inside a "
					    "record (%zu bytes pending)",
					    (unsigned long long)pd->pos,
					    pd->zlen - pd->zpos);
		r->p = p;
		r->extra = extra;
		pd->raw = *r;
		pd->have_raw = true;
		return 0;
	}
end:
	if (pd->zbuf && pd->zlen > pd->zpos)
		return pm_error_set(err, PM_ETRUNCATED, "offset %llu: "
				    "compressed data ends inside a record "
				    "(%zu bytes pending)",
				    (unsigned long long)pd->zcur_off,
				    pd->zlen - pd->zpos);
	return 1;
}

/* Offset of the oldest record still referenced in place (or pos). */
static uint64_t oldest_direct(const struct perfdata *pd)
{
	uint64_t min = pd->pos;
	size_t i;

	for (i = 0; i < pd->qn; i++)
		if (pd->queue[i].direct && pd->queue[i].off < min)
			min = pd->queue[i].off;
	for (i = pd->rhead; i < pd->rn; i++)
		if (pd->ready[i].direct && pd->ready[i].off < min)
			min = pd->ready[i].off;
	if (pd->have_last && pd->last.direct && pd->last.off < min)
		min = pd->last.off;
	return min;
}

void pd_raw_consume(struct perfdata *pd)
{
	uint64_t end;

	if (!pd->have_raw)
		return;
	pd->have_raw = false;
	if (pd->raw.in_z)
		pd->zpos += pd->raw.size;
	else
		pd->pos += pd->raw.size + pd->raw.extra;
	/* File pages behind pos are not needed again once no queued record
	 * points into them (see store()): drop them so a multi-GiB DWARF
	 * recording does not stay resident. */
	if (pd->mapped && pd->pos < pd->mem_len &&
	    pd->pos - pd->dropped >= PD_DROP_STEP + PD_KEEP_WINDOW) {
		end = oldest_direct(pd);
		if (end > pd->pos - PD_KEEP_WINDOW)
			end = pd->pos - PD_KEEP_WINDOW;
		end &= ~(uint64_t)(pd->pagesize - 1);
		if (end > pd->dropped)
			madvise((uint8_t *)pd->mapped + pd->dropped,
				(size_t)(end - pd->dropped), MADV_DONTNEED);
		pd->dropped = end;
	}
}

/* ---- queue ---- */

static int store(struct perfdata *pd, const uint8_t *p, size_t size,
		 struct pd_qent *e)
{
	size_t need = (size + 7) & ~(size_t)7, i;
	struct pd_chunk *c = pd->nr_chunks ? &pd->chunks[pd->cur_chunk] : NULL;

	if (!c || c->size - c->used < need) {
		c = NULL;
		for (i = 0; i < pd->nr_chunks; i++)
			if (!pd->chunks[i].live && i != pd->cur_chunk) {
				c = &pd->chunks[i];
				break;
			}
		if (!c) {
			size_t csize = pd->nr_chunks ? PD_CHUNK : PD_CHUNK0;
			uint8_t *mem;

			if (grow_array((void **)&pd->chunks, &pd->chunks_alloc,
				       pd->nr_chunks + 1, sizeof(*pd->chunks),
				       SIZE_MAX / sizeof(*pd->chunks)))
				return -PM_ENOMEM;
			mem = malloc(csize);
			if (!mem)
				return -PM_ENOMEM;
			i = pd->nr_chunks++;
			c = &pd->chunks[i];
			c->mem = mem;
			c->size = csize;
			c->live = 0;
		}
		c->used = 0;
		pd->cur_chunk = i;
	}
	e->direct = NULL;
	memcpy(c->mem + c->used, p, size);
	e->chunk = (uint32_t)pd->cur_chunk;
	e->coff = (uint32_t)c->used;
	c->used += need;
	c->live++;
	return 0;
}

static void release(struct perfdata *pd, const struct pd_qent *e)
{
	struct pd_chunk *c;

	if (e->direct)
		return;
	c = &pd->chunks[e->chunk];
	if (--c->live == 0)
		c->used = 0;
}

static int push_ready(struct perfdata *pd, const struct pd_qent *e, size_t n)
{
	if (grow_array((void **)&pd->ready, &pd->ralloc, pd->rn + n,
		       sizeof(*pd->ready), SIZE_MAX / sizeof(*pd->ready)))
		return -PM_ENOMEM;
	memcpy(pd->ready + pd->rn, e, n * sizeof(*e));
	pd->rn += n;
	return 0;
}

static int qent_cmp(const void *a, const void *b)
{
	const struct pd_qent *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Move queued records with time <= limit (all if all) to the ready list,
 * in (time, file order). */
static int flush(struct perfdata *pd, uint64_t limit, bool all)
{
	size_t k = 0, i;

	if (!pd->qn)
		return 0;
	qsort(pd->queue, pd->qn, sizeof(*pd->queue), qent_cmp);
	if (all)
		k = pd->qn;
	else
		while (k < pd->qn && pd->queue[k].time <= limit)
			k++;
	if (!k)
		return 0;
	if (push_ready(pd, pd->queue, k))
		return -PM_ENOMEM;
	for (i = 0; i < k; i++)
		pd->queued_bytes -= ((pd->queue[i].size + 7u) & ~7u) +
				    sizeof(struct pd_qent);
	if (!pd->flushed_any || pd->queue[k - 1].time > pd->last_flushed)
		pd->last_flushed = pd->queue[k - 1].time;
	pd->flushed_any = true;
	memmove(pd->queue, pd->queue + k, (pd->qn - k) * sizeof(*pd->queue));
	pd->qn -= k;
	return 0;
}

static void count(struct perfdata *pd, const struct pd_event *ev)
{
	if (ev->type == PD_SAMPLE)
		pd->stats.samples_per_attr[ev->attr->idx]++;
	else if (ev->type == PD_LOST) {
		pd->stats.lost_events += ev->u.lost.lost;
		pd->stats.lost_records++;
	} else if (ev->type == PD_LOST_SAMPLES) {
		pd->stats.lost_samples += ev->u.lost.lost;
	}
}

/* Validate, count and queue (or make ready) one deliverable record. */
static int enqueue(struct perfdata *pd, const struct pd_raw *r)
{
	struct pd_event ev;
	struct pd_qent e;
	const struct pd_attr *a;
	bool unknown;
	char msg[256];
	uint64_t cost;

	a = pd_record_attr(pd, r->p, r->type, r->size, &unknown);
	if (unknown && r->type == PD_SAMPLE) {
		pd->stats.unknown_id_samples++;	/* perf skips these */
		return 0;
	}
	if (pd_decode(pd, a, r->p, &ev, msg, sizeof(msg))) {
		pd_bad_record(pd, r, "%s", msg);
		return 0;
	}
	count(pd, &ev);
	memset(&e, 0, sizeof(e));
	e.time = ev.sid.time;
	e.has_time = ev.sid.has_time;
	e.seq = pd->seq++;
	e.off = r->off;
	e.zpos = r->zpos;
	e.in_z = r->in_z;
	e.size = r->size;
	e.attr = a ? a->idx + 1 : 0;
	/* A record inside the input image (file mode, not decompressed)
	 * stays where it is: copying 64 KiB DWARF samples was the reader's
	 * main cost. Only 8-byte aligned ones, so decoded arrays are
	 * aligned as the header promises. */
	if (!r->in_z && pd->fd < 0 && pd->mem && r->p >= pd->mem &&
	    r->p + r->size <= pd->mem + pd->mem_len &&
	    ((uintptr_t)r->p & 7) == 0)
		e.direct = r->p;
	else if (store(pd, r->p, r->size, &e))
		return -PM_ENOMEM;
	if (!e.has_time)
		return push_ready(pd, &e, 1);
	if (pd->flushed_any && e.time < pd->last_flushed)
		pd->stats.out_of_order++;
	if (e.time > pd->max_time)
		pd->max_time = e.time;
	if (grow_array((void **)&pd->queue, &pd->qalloc, pd->qn + 1,
		       sizeof(*pd->queue), SIZE_MAX / sizeof(*pd->queue)))
		return -PM_ENOMEM;
	pd->queue[pd->qn++] = e;
	cost = ((r->size + 7u) & ~7u) + sizeof(e);
	pd->queued_bytes += cost;
	if (pd->queued_bytes > PD_QUEUE_CAP) {
		char where[96];

		pd_raw_where(r, where, sizeof(where));
		pd_warn(pd, "%s: more than %llu MiB of records without a "
			"FINISHED_ROUND; flushed early, time order may be "
			"imperfect", where,
			(unsigned long long)(PD_QUEUE_CAP >> 20));
		return flush(pd, 0, true);
	}
	return 0;
}

/* Read and handle one input record. 0, 1 at the end, <0 fatal. */
static int read_one(struct perfdata *pd)
{
	struct pd_raw r;
	int rc;

	rc = pd_raw_peek(pd, &r, &pd->fatal);
	if (rc)
		return rc;
	pd->stats.records[r.type < PD_RECORD_TYPE_MAX ? r.type : 0]++;
	if (pd_is_header_type(r.type)) {
		rc = pd_header_record(pd, &r, &pd->fatal);
	} else if (r.type == PD_FINISHED_ROUND) {
		rc = flush(pd, pd->next_flush, false);
		pd->next_flush = pd->max_time;
	} else if ((r.type >= PD_MMAP && r.type <= PD_AUX_OUTPUT_HW_ID) ||
		   (r.type >= PD_AUXTRACE_INFO && r.type <= PD_AUXTRACE_ERROR) ||
		   (r.type >= PD_STAT_CONFIG && r.type <= PD_STAT_ROUND) ||
		   r.type == PD_TIME_CONV) {
		rc = enqueue(pd, &r);
	} else {
		pd->stats.unknown_records++;
	}
	if (rc == -PM_ENOMEM && !pd->fatal.code)
		rc = pm_error_set(&pd->fatal, PM_ENOMEM, "offset %llu: out of "
				  "memory queueing records",
				  (unsigned long long)r.off);
	pd_raw_consume(pd);
	return rc;
}

int perfdata_next(struct perfdata *pd, struct pd_event *ev,
		  struct pm_error *err)
{
	char msg[256];
	int rc;

	pm_error_clear(err);
	if (pd->have_last) {
		release(pd, &pd->last);
		pd->have_last = false;
	}
	for (;;) {
		if (pd->rhead < pd->rn) {
			const struct pd_qent *e = &pd->ready[pd->rhead++];
			const struct pd_attr *a = e->attr ?
						  pd->attrs[e->attr - 1] : NULL;

			/* Validated when queued with the same attr, so this
			 * does not fail; should it, skip rather than deliver
			 * a half-decoded event. */
			if (pd_decode(pd, a, e->direct ? e->direct :
				      pd->chunks[e->chunk].mem + e->coff,
				      ev, msg, sizeof(msg))) {
				pd->stats.bad_records++;
				release(pd, e);
				continue;
			}
			ev->offset = e->off;
			ev->stable = e->direct != NULL;
			pd->last = *e;
			pd->have_last = true;
			return 1;
		}
		pd->rhead = pd->rn = 0;
		if (pd->eof) {
			if (pd->qn) {
				if (flush(pd, 0, true))
					return pm_error_set(err, PM_ENOMEM,
							    "out of memory");
				continue;
			}
			if (pd->fatal.code) {
				if (err)
					*err = pd->fatal;
				return pd->fatal.code;
			}
			return 0;
		}
		rc = read_one(pd);
		if (rc)
			pd->eof = true;
	}
}

/* p moved from the record at old to its copy at new (n bytes). */
static const void *moved(const void *p, const uint8_t *old,
			 const uint8_t *new, size_t n)
{
	const uint8_t *q = p;

	return q && q >= old && q <= old + n ? new + (q - old) : p;
}

int perfdata_event_keep(const struct pd_event *ev, struct pd_event *out,
			uint8_t **buf, size_t *alloc)
{
	const uint8_t *o = ev->data;
	size_t n = ev->size;
	uint8_t *c;

	*out = *ev;
	if (ev->stable || !o)
		return 0;
	if (grow_array((void **)buf, alloc, n ? n : 1, 1, 1u << 16))
		return -PM_ENOMEM;
	c = *buf;
	memcpy(c, o, n);
	out->data = c;
	switch (ev->type) {
	case PD_SAMPLE: {
		struct pd_sample *s = &out->u.sample;

		s->callchain = moved(s->callchain, o, c, n);
		s->raw = moved(s->raw, o, c, n);
		s->branches = moved(s->branches, o, c, n);
		s->user_regs = moved(s->user_regs, o, c, n);
		s->user_stack = moved(s->user_stack, o, c, n);
		s->intr_regs = moved(s->intr_regs, o, c, n);
		s->read = moved(s->read, o, c, n);
		s->aux = moved(s->aux, o, c, n);
		break;
	}
	case PD_MMAP:
	case PD_MMAP2:
		out->u.mmap.filename = moved(out->u.mmap.filename, o, c, n);
		break;
	case PD_COMM:
		out->u.comm.comm = moved(out->u.comm.comm, o, c, n);
		break;
	case PD_KSYMBOL:
		out->u.ksymbol.name = moved(out->u.ksymbol.name, o, c, n);
		break;
	default:
		break;
	}
	return 0;
}
