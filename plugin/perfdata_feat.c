/*
 * perfdata_feat.c - feature sections (tools/perf/util/header.c, the
 * write_* / process_* pairs) and the pipe-mode header records that carry
 * the same information (HEADER_ATTR, HEADER_FEATURE, HEADER_TRACING_DATA,
 * HEADER_BUILD_ID, EVENT_UPDATE, ID_INDEX).
 *
 * A feature payload is bounded by its section (or record) size; a problem
 * in one feature is a warning and the feature is ignored.
 */
#include "perfdata_impl.h"

#include <stdlib.h>

/* Feature ids (header.h, perf 6.1). */
enum {
	FEAT_TRACING_DATA = 1, FEAT_BUILD_ID = 2, FEAT_HOSTNAME = 3,
	FEAT_OSRELEASE = 4, FEAT_VERSION = 5, FEAT_ARCH = 6, FEAT_NRCPUS = 7,
	FEAT_CPUDESC = 8, FEAT_CMDLINE = 11, FEAT_EVENT_DESC = 12,
	FEAT_SAMPLE_TIME = 21, FEAT_COMPRESSED = 27,
};

/* Bounded reader over a payload. */
struct cur {
	const uint8_t *p;
	size_t n, pos;
};

static bool cur_u32(struct cur *c, uint32_t *v)
{
	if (c->n - c->pos < 4)
		return false;
	memcpy(v, c->p + c->pos, 4);
	c->pos += 4;
	return true;
}

static bool cur_u64(struct cur *c, uint64_t *v)
{
	if (c->n - c->pos < 8)
		return false;
	memcpy(v, c->p + c->pos, 8);
	c->pos += 8;
	return true;
}

static bool cur_skip(struct cur *c, uint64_t n)
{
	if (c->n - c->pos < n)
		return false;
	c->pos += (size_t)n;
	return true;
}

/* perf do_read_string(): u32 len (incl. NUL, padded), then len bytes. */
static bool cur_str(struct perfdata *pd, struct cur *c, const char **s)
{
	uint32_t len;
	const char *str;

	if (!cur_u32(c, &len) || c->n - c->pos < len)
		return false;
	str = arena_strndup(pd->arena, (const char *)c->p + c->pos, len);
	if (!str)
		return false;
	c->pos += len;
	*s = str;
	return true;
}

static bool set_tracing(struct perfdata *pd, const uint8_t *p, size_t n,
			uint64_t off)
{
	uint8_t *copy;

	if (n > PD_MAX_TRACING)
		return false;
	copy = malloc(n ? n : 1);
	if (!copy)
		return false;
	memcpy(copy, p, n);
	free(pd->tracing);
	pd->tracing = copy;
	pd->info.tracing_data = copy;
	pd->info.tracing_size = n;
	pd->info.tracing_offset = off;
	return true;
}

/* One build-id entry: header (type 0 in the feature), s32 pid,
 * u8 build_id[24] (data[20], size @20), filename[] padded to 64. */
static bool add_build_id(struct perfdata *pd, const uint8_t *p, size_t n)
{
	struct pd_build_id *b;
	uint16_t misc, size;
	uint8_t idsz = 20;

	if (n < 36)
		return false;
	memcpy(&misc, p + 4, 2);
	memcpy(&size, p + 6, 2);
	if (size < 36 || size > n)
		return false;
	if (grow_array((void **)&pd->bids, &pd->bids_alloc,
		       pd->info.nr_build_ids + 1, sizeof(*pd->bids),
		       PD_MAX_BUILD_IDS))
		return false;
	b = &pd->bids[pd->info.nr_build_ids];
	memset(b, 0, sizeof(*b));
	memcpy(&b->pid, p + 8, 4);
	b->misc = misc & PD_CPUMODE_MASK;
	if (misc & (1u << 15)) {	/* PERF_RECORD_MISC_BUILD_ID_SIZE */
		idsz = p[32];
		if (idsz > 20)
			idsz = 20;
	}
	b->size = idsz;
	memcpy(b->id, p + 12, 20);
	b->filename = arena_strndup(pd->arena, (const char *)p + 36,
				    size - 36u);
	if (!b->filename)
		return false;
	pd->info.build_ids = pd->bids;
	pd->info.nr_build_ids++;
	return true;
}

static bool feat_build_id(struct perfdata *pd, struct cur *c)
{
	while (c->n - c->pos >= 8) {
		uint16_t size;

		memcpy(&size, c->p + c->pos + 6, 2);
		if (size < 36 || size > c->n - c->pos ||
		    !add_build_id(pd, c->p + c->pos, size))
			return false;
		c->pos += size;
	}
	return true;
}

static bool feat_cmdline(struct perfdata *pd, struct cur *c)
{
	uint32_t nr, i;
	size_t len = 0, start;
	char *s;

	if (!cur_u32(c, &nr) || nr > (c->n - c->pos) / 4)
		return false;
	start = c->pos;
	for (i = 0; i < nr; i++) {	/* measure */
		uint32_t l;

		if (!cur_u32(c, &l) || c->n - c->pos < l)
			return false;
		len += strnlen((const char *)c->p + c->pos, l) + 1;
		c->pos += l;
	}
	s = arena_alloc(pd->arena, len + 1);
	if (!s)
		return false;
	s[0] = '\0';
	c->pos = start;
	len = 0;
	for (i = 0; i < nr; i++) {
		uint32_t l = 0;
		size_t k;

		cur_u32(c, &l);
		k = strnlen((const char *)c->p + c->pos, l);
		if (i)
			s[len++] = ' ';
		memcpy(s + len, c->p + c->pos, k);
		len += k;
		c->pos += l;
	}
	s[len] = '\0';
	pd->info.cmdline = s;
	return true;
}

/* u32 nr, u32 attr_sz; per event: attr, u32 nr_ids, string, u64 ids[]. */
static bool feat_event_desc(struct perfdata *pd, struct cur *c)
{
	uint32_t nr, attr_sz, i;

	if (!cur_u32(c, &nr) || !cur_u32(c, &attr_sz) || attr_sz < 64)
		return false;
	for (i = 0; i < nr; i++) {
		uint32_t nr_ids;
		const char *name;
		struct pd_attr *a = NULL;
		uint64_t id0;

		if (!cur_skip(c, attr_sz) || !cur_u32(c, &nr_ids) ||
		    !cur_str(pd, c, &name))
			return false;
		if (nr_ids > (c->n - c->pos) / 8)
			return false;
		if (nr_ids) {
			memcpy(&id0, c->p + c->pos, 8);
			a = pd_id_lookup(pd, id0);
		} else if (nr == pd->nr_attrs) {
			a = pd->attrs[i];
		}
		c->pos += (size_t)nr_ids * 8;
		if (a && name[0])
			pd_attr_set_name(pd, a, name);
	}
	return true;
}

void pd_feat_parse(struct perfdata *pd, unsigned feat, const uint8_t *p,
		   size_t size, uint64_t off)
{
	struct cur c = { p, size, 0 };
	struct pd_info *in = &pd->info;
	bool ok = true;

	switch (feat) {
	case FEAT_TRACING_DATA:
		ok = set_tracing(pd, p, size, off);
		break;
	case FEAT_BUILD_ID:
		ok = feat_build_id(pd, &c);
		break;
	case FEAT_HOSTNAME:
		ok = cur_str(pd, &c, &in->hostname);
		break;
	case FEAT_OSRELEASE:
		ok = cur_str(pd, &c, &in->osrelease);
		break;
	case FEAT_VERSION:
		ok = cur_str(pd, &c, &in->perf_version);
		break;
	case FEAT_ARCH:
		ok = cur_str(pd, &c, &in->arch);
		break;
	case FEAT_CPUDESC:
		ok = cur_str(pd, &c, &in->cpudesc);
		break;
	case FEAT_NRCPUS:
		ok = cur_u32(&c, &in->nr_cpus_avail) &&
		     cur_u32(&c, &in->nr_cpus_online);
		break;
	case FEAT_CMDLINE:
		ok = feat_cmdline(pd, &c);
		break;
	case FEAT_EVENT_DESC:
		ok = feat_event_desc(pd, &c);
		break;
	case FEAT_SAMPLE_TIME:
		ok = cur_u64(&c, &in->first_sample_time) &&
		     cur_u64(&c, &in->last_sample_time);
		break;
	case FEAT_COMPRESSED:
		ok = cur_u32(&c, &in->comp_ver) &&
		     cur_u32(&c, &in->comp_type) &&
		     cur_u32(&c, &in->comp_level) &&
		     cur_u32(&c, &in->comp_ratio) &&
		     cur_u32(&c, &in->comp_mmap_len);
		in->compressed = ok;
		break;
	default:			/* opaque to us */
		break;
	}
	if (!ok)
		pd_warn(pd, "offset %llu: feature %u (%zu bytes) is malformed "
			"or too large; ignored", (unsigned long long)off,
			feat, size);
}

bool pd_is_header_type(uint32_t type)
{
	switch (type) {
	case PD_HEADER_ATTR: case PD_HEADER_EVENT_TYPE:
	case PD_HEADER_TRACING_DATA: case PD_HEADER_BUILD_ID:
	case PD_ID_INDEX: case PD_THREAD_MAP: case PD_CPU_MAP:
	case PD_EVENT_UPDATE: case PD_HEADER_FEATURE: case PD_FINISHED_INIT:
		return true;
	default:
		return false;
	}
}

/* HEADER_ATTR: header, perf_event_attr (attr.size bytes), u64 id[]. */
static int header_attr(struct perfdata *pd, const struct pd_raw *r,
		       struct pm_error *err)
{
	uint32_t sz;

	if (r->size < 8 + 8) {
		pd_bad_record(pd, r, "too short for an attr");
		return 0;
	}
	memcpy(&sz, r->p + 12, 4);
	if (sz == 0)
		sz = 64;
	if (sz < 64 || sz > r->size - 8u) {
		pd_bad_record(pd, r, "attr.size %u does not fit", sz);
		return 0;
	}
	return pd_add_attr(pd, r->p + 8, sz, r->p + 8 + sz,
			   (r->size - 8u - sz) / 8, r->off, err);
}

/* EVENT_UPDATE: u64 type (NAME = 2), u64 id, char name[]. */
static void event_update(struct perfdata *pd, const struct pd_raw *r)
{
	uint64_t type, id;
	struct pd_attr *a;
	const char *name;

	if (r->size < 24) {
		pd_bad_record(pd, r, "too short");
		return;
	}
	type = pd_u64(r->p + 8, 0);
	id = pd_u64(r->p + 16, 0);
	if (type != 2)
		return;
	a = pd_id_lookup(pd, id);
	if (!a && id == 0 && pd->nr_attrs)
		a = pd->attrs[0];
	name = arena_strndup(pd->arena, (const char *)r->p + 24,
			     r->size - 24u);
	if (a && name && name[0])
		pd_attr_set_name(pd, a, name);
}

/* ID_INDEX: u64 nr; nr x {u64 id, idx, cpu, tid} (+ newer tails). */
static int id_index(struct perfdata *pd, const struct pd_raw *r,
		    struct pm_error *err)
{
	uint64_t nr, i;

	if (r->size < 16) {
		pd_bad_record(pd, r, "too short");
		return 0;
	}
	nr = pd_u64(r->p + 8, 0);
	if (nr > (r->size - 16u) / 32) {
		pd_bad_record(pd, r, "%llu entries do not fit",
			      (unsigned long long)nr);
		return 0;
	}
	for (i = 0; i < nr; i++) {
		uint64_t id = pd_u64(r->p + 16 + 32 * i, 0);
		uint64_t idx = pd_u64(r->p + 16 + 32 * i, 1);
		int rc;

		if (idx >= pd->nr_attrs)
			continue;
		rc = pd_id_insert(pd, id, (uint32_t)idx + 1);
		if (rc)
			return pm_error_set(err, -rc, "offset %llu: ID_INDEX: "
					    "%s", (unsigned long long)r->off,
					    pm_strerror(rc));
	}
	return 0;
}

/* Consume one header-type record. Returns 0 or a fatal -PM_E*. */
int pd_header_record(struct perfdata *pd, const struct pd_raw *r,
		     struct pm_error *err)
{
	uint64_t feat;

	switch (r->type) {
	case PD_HEADER_ATTR:
		return header_attr(pd, r, err);
	case PD_HEADER_TRACING_DATA:
		/* header; u32 size; [u32 pad]: the blob follows the record
		 * (r->extra bytes, already available behind r->p). */
		if (!set_tracing(pd, r->p + r->size, (size_t)r->extra,
				 r->off + r->size))
			pd_bad_record(pd, r, "tracing data of %llu bytes "
				      "not stored",
				      (unsigned long long)r->extra);
		return 0;
	case PD_HEADER_BUILD_ID:
		if (!add_build_id(pd, r->p, r->size))
			pd_bad_record(pd, r, "malformed build-id entry");
		return 0;
	case PD_EVENT_UPDATE:
		event_update(pd, r);
		return 0;
	case PD_ID_INDEX:
		return id_index(pd, r, err);
	case PD_HEADER_FEATURE:
		/* header; u64 feat_id; payload as in the feature section.
		 * feat_id == HEADER_LAST_FEATURE marks the end. */
		if (r->size < 16) {
			pd_bad_record(pd, r, "too short");
			return 0;
		}
		feat = pd_u64(r->p + 8, 0);
		if (feat < 256)
			pd->info.feature_mask[feat / 64] |= 1ULL << (feat % 64);
		if (feat < PD_LAST_FEATURE)
			pd_feat_parse(pd, (unsigned)feat, r->p + 16,
				      r->size - 16u, r->off + 16);
		return 0;
	default:		/* THREAD_MAP, CPU_MAP, FINISHED_INIT, ... */
		return 0;
	}
}
