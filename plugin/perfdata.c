/*
 * perfdata.c - opening a perf.data file: input setup (mmap, memory, stdin),
 * the file header (tools/perf/util/header.h struct perf_file_header), the
 * attr section, the sample-id -> attr map and the public getters.
 *
 * The record stream is in perfdata_stream.c, feature sections and pipe-mode
 * header records in perfdata_feat.c, record decoding in perfdata_decode.c.
 */
#include "perfdata_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* perf_file_header: magic, size, attr_size, attrs{off,size}, data{off,size},
 * event_types{off,size}, adds_features[4]. */
#define FH_SIZE		104
#define FH_SIZE_NOFEAT	72	/* written before adds_features existed */

static uint64_t get64(const uint8_t *p, size_t off)
{
	return pd_u64(p + off, 0);
}

void pd_warn(struct perfdata *pd, const char *fmt, ...)
{
	va_list ap;

	if (pd->warning[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pd->warning, sizeof(pd->warning), fmt, ap);
	va_end(ap);
}

void pd_raw_where(const struct pd_raw *r, char *buf, size_t len)
{
	if (r->in_z)
		snprintf(buf, len, "offset %llu (compressed, decompressed byte %llu)",
			 (unsigned long long)r->off,
			 (unsigned long long)r->zpos);
	else
		snprintf(buf, len, "offset %llu", (unsigned long long)r->off);
}

/* A malformed record with a sane size: counted, skipped, first one kept. */
void pd_bad_record(struct perfdata *pd, const struct pd_raw *r,
		   const char *fmt, ...)
{
	char where[96], what[320];
	va_list ap;

	pd->stats.bad_records++;
	if (pd->warning[0])
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pd_raw_where(r, where, sizeof(where));
	pd_warn(pd, "%s: %s record (size %u): %s; skipped", where,
		perfdata_record_name(r->type), r->size, what);
}

/* ---- sample id -> attr map ---- */

struct pd_attr *pd_id_lookup(const struct perfdata *pd, uint64_t id)
{
	long k = id == UINT64_MAX ? -1 : idmap_find(&pd->ids, id);

	return k < 0 ? NULL : pd->attrs[k];
}

int pd_id_insert(struct perfdata *pd, uint64_t id, uint32_t idx1)
{
	bool added;

	if (pd->ids.n >= PD_MAX_IDS)
		return -PM_ELIMIT;
	if (id == UINT64_MAX)	/* idmap's one reserved key; never real */
		return 0;
	/* an id already present keeps its first attr, as in perf */
	return idmap_get(&pd->ids, id, idx1 - 1, &added) < 0 ? -PM_ENOMEM : 0;
}

/* ---- attrs ---- */

static const char *const hw_names[] = {
	"cycles", "instructions", "cache-references", "cache-misses",
	"branch-instructions", "branch-misses", "bus-cycles",
	"stalled-cycles-frontend", "stalled-cycles-backend", "ref-cycles",
};

static const char *const sw_names[] = {
	"cpu-clock", "task-clock", "page-faults", "context-switches",
	"cpu-migrations", "minor-faults", "major-faults", "alignment-faults",
	"emulation-faults", "dummy", "bpf-output", "cgroup-switches",
};

const char *pd_attr_fallback_name(uint32_t type, uint64_t config,
				  char *buf, size_t len)
{
	size_t n_hw = sizeof(hw_names) / sizeof(hw_names[0]);
	size_t n_sw = sizeof(sw_names) / sizeof(sw_names[0]);

	if (type == PD_TYPE_HARDWARE && config < n_hw)
		return hw_names[config];
	if (type == PD_TYPE_SOFTWARE && config < n_sw)
		return sw_names[config];
	if (type == PD_TYPE_TRACEPOINT)
		snprintf(buf, len, "tracepoint:%llu", (unsigned long long)config);
	else if (type == PD_TYPE_HW_CACHE)
		snprintf(buf, len, "hw-cache:0x%llx", (unsigned long long)config);
	else if (type == PD_TYPE_RAW)
		snprintf(buf, len, "raw 0x%llx", (unsigned long long)config);
	else if (type == PD_TYPE_BREAKPOINT)
		snprintf(buf, len, "breakpoint:0x%llx",
			 (unsigned long long)config);
	else
		snprintf(buf, len, "type %u config 0x%llx", type,
			 (unsigned long long)config);
	return buf;
}

/* perf evsel.c __perf_evsel__calc_id_pos / __perf_evsel__calc_is_pos. */
static int calc_id_pos(uint64_t st)
{
	int pos = 0;

	if (st & PD_S_IDENTIFIER)
		return 0;
	if (!(st & PD_S_ID))
		return -1;
	pos += !!(st & PD_S_IP) + !!(st & PD_S_TID) + !!(st & PD_S_TIME);
	return pos + !!(st & PD_S_ADDR);
}

static int calc_is_pos(uint64_t st)
{
	if (st & PD_S_IDENTIFIER)
		return 1;
	if (!(st & PD_S_ID))
		return -1;
	return 1 + !!(st & PD_S_CPU) + !!(st & PD_S_STREAM_ID);
}

/* Read a field of a perf_event_attr of n bytes; absent fields are 0. */
static uint64_t attr64(const uint8_t *p, size_t n, size_t off)
{
	return off + 8 <= n ? get64(p, off) : 0;
}

static uint32_t attr32(const uint8_t *p, size_t n, size_t off)
{
	uint32_t v = 0;

	if (off + 4 <= n)
		memcpy(&v, p + off, 4);
	return v;
}

/*
 * Add one event. p/n: the perf_event_attr bytes (n = attr.size as used);
 * ids: nr_ids u64 at any alignment. off names the attr in messages.
 */
int pd_add_attr(struct perfdata *pd, const uint8_t *p, size_t n,
		const uint8_t *ids, size_t nr_ids, uint64_t off,
		struct pm_error *err)
{
	struct pd_attr *a;
	uint64_t *idv = NULL;
	char buf[64];
	size_t i;
	int rc;
	uint16_t max_stack = 0;

	if (pd->nr_attrs >= PD_MAX_ATTRS)
		return pm_error_set(err, PM_ELIMIT, "offset %llu: more than %u "
				    "events", (unsigned long long)off,
				    PD_MAX_ATTRS);
	if (nr_ids > PD_MAX_IDS - pd->ids.n)
		return pm_error_set(err, PM_ELIMIT, "offset %llu: more than %u "
				    "sample ids", (unsigned long long)off,
				    PD_MAX_IDS);
	rc = grow_array((void **)&pd->attrs, &pd->attrs_alloc,
			pd->nr_attrs + 1, sizeof(*pd->attrs), PD_MAX_ATTRS);
	if (!rc)
		rc = grow_array((void **)&pd->stats.samples_per_attr,
				&pd->per_attr_alloc, pd->nr_attrs + 1,
				sizeof(*pd->stats.samples_per_attr),
				PD_MAX_ATTRS);
	a = rc ? NULL : arena_zalloc(pd->arena, sizeof(*a));
	if (a && nr_ids)
		idv = arena_alloc(pd->arena, nr_ids * sizeof(*idv));
	if (!a || (nr_ids && !idv))
		return pm_error_set(err, PM_ENOMEM, "out of memory reading "
				    "events");
	a->idx = (unsigned)pd->nr_attrs;
	a->type = attr32(p, n, 0);
	a->size = attr32(p, n, 4);
	a->config = attr64(p, n, 8);
	a->sample_period = attr64(p, n, 16);
	a->sample_type = attr64(p, n, 24);
	a->read_format = attr64(p, n, 32);
	a->flags = attr64(p, n, 40);
	a->branch_sample_type = attr64(p, n, 72);
	a->sample_regs_user = attr64(p, n, 80);
	a->sample_stack_user = attr32(p, n, 88);
	a->sample_regs_intr = attr64(p, n, 96);
	if (n >= 110)
		memcpy(&max_stack, p + 108, 2);
	a->sample_max_stack = max_stack;
	a->freq = a->flags >> 10 & 1;
	a->sample_id_all = a->flags >> 18 & 1;
	a->exclude_callchain_kernel = a->flags >> 21 & 1;
	a->exclude_callchain_user = a->flags >> 22 & 1;
	a->use_clockid = a->flags >> 25 & 1;
	a->name = a->full_name = arena_strdup(pd->arena,
			       pd_attr_fallback_name(a->type, a->config, buf,
						     sizeof(buf)));
	if (!a->name)
		return pm_error_set(err, PM_ENOMEM, "out of memory");
	for (i = 0; i < nr_ids; i++)
		idv[i] = pd_u64(ids, i);
	a->ids = idv;
	a->nr_ids = nr_ids;

	if (pd->nr_attrs == 0) {
		pd->id_pos = calc_id_pos(a->sample_type);
		pd->is_pos = calc_is_pos(a->sample_type);
	} else if (calc_id_pos(a->sample_type) != pd->id_pos ||
		   calc_is_pos(a->sample_type) != pd->is_pos ||
		   pd->id_pos < 0 || pd->is_pos < 0) {
		/* perf evlist__valid_sample_type(): "non matching
		 * sample_type"; records could not be told apart. */
		return pm_error_set(err, PM_EUNSUPPORTED, "offset %llu: event "
				    "%zu has sample_type 0x%llx, which does "
				    "not carry the sample id where event 0 "
				    "(0x%llx) does: records cannot be "
				    "attributed", (unsigned long long)off,
				    pd->nr_attrs,
				    (unsigned long long)a->sample_type,
				    (unsigned long long)
				    pd->attrs[0]->sample_type);
	}
	pd->attrs[pd->nr_attrs] = a;
	pd->stats.samples_per_attr[pd->nr_attrs] = 0;
	pd->nr_attrs++;
	for (i = 0; i < nr_ids; i++) {
		rc = pd_id_insert(pd, idv[i], a->idx + 1);
		if (rc)
			return pm_error_set(err, -rc, "offset %llu: %s",
					    (unsigned long long)off,
					    pm_strerror(rc));
	}
	return 0;
}

/* ---- file header ---- */

static bool in_file(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

static int read_attrs(struct perfdata *pd, const uint8_t *h,
		      struct pm_error *err)
{
	uint64_t attr_size = get64(h, 16), aoff = get64(h, 24),
		 asize = get64(h, 32), nr, i;

	/* perf 7622236ceb16: "attr size field is 0" (division by zero). */
	if (attr_size == 0)
		return pm_error_set(err, PM_ECORRUPT, "offset 16: attr size "
				    "field is 0");
	if (attr_size < 64 + 16 || attr_size > 65536)
		return pm_error_set(err, PM_ECORRUPT, "offset 16: attr size "
				    "%llu is not plausible (64+16..65536)",
				    (unsigned long long)attr_size);
	if (!in_file(aoff, asize, pd->mem_len))
		return pm_error_set(err, PM_ETRUNCATED, "offset 24: attr "
				    "section [%llu, +%llu) is past the end of "
				    "the file (%zu bytes)",
				    (unsigned long long)aoff,
				    (unsigned long long)asize, pd->mem_len);
	nr = asize / attr_size;
	if (nr > PD_MAX_ATTRS)
		return pm_error_set(err, PM_ELIMIT, "offset 32: %llu events, "
				    "more than %u", (unsigned long long)nr,
				    PD_MAX_ATTRS);
	for (i = 0; i < nr; i++) {
		uint64_t eoff = aoff + i * attr_size;
		const uint8_t *e = pd->mem + eoff;
		uint32_t sz = attr32(e, attr_size, 4);
		uint64_t ioff = get64(e, attr_size - 16);
		uint64_t isize = get64(e, attr_size - 8);
		int rc;

		if (sz == 0)
			sz = 64;	/* PERF_ATTR_SIZE_VER0 */
		if (sz > attr_size - 16)
			return pm_error_set(err, PM_ECORRUPT, "offset %llu: "
					    "attr.size %u does not fit an "
					    "attr entry of %llu bytes",
					    (unsigned long long)eoff, sz,
					    (unsigned long long)attr_size);
		if (!in_file(ioff, isize, pd->mem_len))
			return pm_error_set(err, PM_ETRUNCATED, "offset %llu: "
					    "ids of event %llu [%llu, +%llu) "
					    "are past the end of the file "
					    "(%zu bytes)",
					    (unsigned long long)eoff,
					    (unsigned long long)i,
					    (unsigned long long)ioff,
					    (unsigned long long)isize,
					    pd->mem_len);
		rc = pd_add_attr(pd, e, sz, pd->mem + ioff, isize / 8, eoff,
				 err);
		if (rc)
			return rc;
	}
	return 0;
}

static void read_features(struct perfdata *pd)
{
	uint64_t table = pd->info.data_offset + pd->info.data_size;
	unsigned feat, nr = 0, k = 0;

	for (feat = 0; feat < 256; feat++)
		if (pd->info.feature_mask[feat / 64] >> (feat % 64) & 1)
			nr++;
	if (!nr)
		return;
	/* One perf_file_section per set bit, in bit order (perf
	 * perf_header__process_sections), at data.offset + data.size. */
	if (table < pd->info.data_offset ||
	    !in_file(table, (uint64_t)nr * 16, pd->mem_len)) {
		pd_warn(pd, "offset %llu: feature table (%u entries) is past "
			"the end of the file (%zu bytes); header features "
			"ignored", (unsigned long long)table, nr, pd->mem_len);
		return;
	}
	for (feat = 0; feat < 256; feat++) {
		uint64_t soff, ssize;

		if (!(pd->info.feature_mask[feat / 64] >> (feat % 64) & 1))
			continue;
		soff = get64(pd->mem, table + 16 * k);
		ssize = get64(pd->mem, table + 16 * k + 8);
		k++;
		if (!in_file(soff, ssize, pd->mem_len)) {
			pd_warn(pd, "offset %llu: feature %u section [%llu, "
				"+%llu) is past the end of the file; ignored",
				(unsigned long long)(table + 16 * (k - 1)),
				feat, (unsigned long long)soff,
				(unsigned long long)ssize);
			continue;
		}
		pd_feat_parse(pd, feat, pd->mem + soff, ssize, soff);
	}
}

static int open_file_mode(struct perfdata *pd, struct pm_error *err)
{
	const uint8_t *h = pd->mem;
	uint64_t hsize = get64(h, 8), doff, dsize;
	int rc;

	if (hsize != FH_SIZE && hsize != FH_SIZE_NOFEAT)
		return pm_error_set(err, PM_ECORRUPT, "offset 8: header size "
				    "%llu, expected %d (or 16 for a pipe)",
				    (unsigned long long)hsize, FH_SIZE);
	if (pd->mem_len < hsize)
		return pm_error_set(err, PM_ETRUNCATED, "offset 0: file of "
				    "%zu bytes is shorter than its header "
				    "(%llu)", pd->mem_len,
				    (unsigned long long)hsize);
	if (hsize == FH_SIZE)
		memcpy(pd->info.feature_mask, h + 72, 32);
	rc = read_attrs(pd, h, err);
	if (rc)
		return rc;
	doff = get64(h, 40);
	dsize = get64(h, 48);
	if (doff < hsize || doff > pd->mem_len)
		return pm_error_set(err, doff < hsize ? PM_ECORRUPT :
				    PM_ETRUNCATED, "offset 40: data section "
				    "offset %llu is outside the file (%zu "
				    "bytes)", (unsigned long long)doff,
				    pd->mem_len);
	if (dsize > UINT64_MAX - doff)
		return pm_error_set(err, PM_ECORRUPT, "offset 48: data size "
				    "%llu overflows", (unsigned long long)dsize);
	pd->info.data_offset = doff;
	pd->info.data_size = dsize;
	pd->pos = doff;
	pd->data_end = doff + dsize;
	if (dsize == 0) {
		/* perf: "Was the 'perf record' command properly
		 * terminated?" - read what is there. */
		pd_warn(pd, "offset 48: data size is 0 (was perf record "
			"properly terminated?); reading to the end of the "
			"file");
		pd->data_end = pd->mem_len;
	} else {
		read_features(pd);
	}
	return 0;
}

/* Pipe mode: consume header records up to the first other record, which
 * stays peeked for perfdata_next(). */
static int open_pipe_mode(struct perfdata *pd, struct pm_error *err)
{
	struct pd_raw r;
	int rc;

	pd->info.pipe = true;
	pd->pos = 16;
	for (;;) {
		rc = pd_raw_peek(pd, &r, err);
		if (rc > 0)
			return 0;		/* header records only */
		if (rc < 0)
			return rc;
		if (!pd_is_header_type(r.type))
			return 0;
		pd->stats.records[r.type]++;
		rc = pd_header_record(pd, &r, err);
		if (rc)
			return rc;
		pd_raw_consume(pd);
	}
}

/* Read the rest of a non-seekable stream that holds a file-mode image
 * (file mode needs random access). What was buffered so far is kept. */
static int slurp(struct perfdata *pd, struct pm_error *err)
{
	uint8_t *buf = pd->sbuf;
	size_t len = pd->slen, alloc = pd->salloc;
	ssize_t got;
	int rc = 0;

	pd->sbuf = NULL;
	pd->salloc = pd->slen = 0;
	while (!pd->seof) {
		if (len == alloc && grow_array((void **)&buf, &alloc, len + 1,
					       1, SIZE_MAX / 2)) {
			rc = pm_error_set(err, PM_ENOMEM, "%s: out of memory "
					  "reading %zu bytes", pd->name, len);
			break;
		}
		got = read(pd->fd, buf + len, alloc - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = pm_error_set(err, PM_EIO, "%s: read error: %s",
					  pd->name, strerror(errno));
			break;
		}
		if (got == 0)
			pd->seof = true;
		len += (size_t)got;
	}
	pd->owned = buf;
	pd->mem = buf;
	pd->mem_len = len;
	pd->file_end = len;
	if (pd->fd > STDIN_FILENO)
		close(pd->fd);
	pd->fd = -1;
	return rc;
}

static int open_common(struct perfdata *pd, struct pm_error *err)
{
	const uint8_t *p;
	size_t avail = 0;
	uint64_t magic, size;
	int rc;

	pd->id_pos = pd->is_pos = -1;
	pd->data_end = UINT64_MAX;
	rc = pd_in_get(pd, 0, 16, &p, &avail);
	if (rc == -PM_EIO)
		return pm_error_set(err, PM_EIO, "%s: read error: %s",
				    pd->name, strerror(errno));
	if (avail == 0)
		return pm_error_set(err, PM_EEMPTY, "%s: empty file, nothing "
				    "to do", pd->name);
	if (avail >= 8 && memcmp(p, "PERFFILE", 8) == 0)
		return pm_error_set(err, PM_EUNSUPPORTED, "%s: legacy "
				    "\"PERFFILE\" (version 1) format is not "
				    "supported", pd->name);
	if (avail < 8)
		return pm_error_set(err, PM_ETRUNCATED, "offset 0: file of "
				    "%zu bytes is too short for a header",
				    avail);
	magic = get64(p, 0);
	if (magic == PD_MAGIC2_SW)
		return pm_error_set(err, PM_EENDIAN, "%s: recorded on a "
				    "machine of the other byte order; "
				    "convert it there (perf script, or perf "
				    "inject) first", pd->name);
	if (magic != PD_MAGIC2)
		return pm_error_set(err, PM_EMAGIC, "%s: not a perf.data file "
				    "(bad magic)", pd->name);
	if (avail < 16)
		return pm_error_set(err, PM_ETRUNCATED, "offset 8: file of "
				    "%zu bytes is too short for a header",
				    avail);
	size = get64(p, 8);
	if (size == 16)
		return open_pipe_mode(pd, err);
	if (pd->fd >= 0) {
		rc = slurp(pd, err);
		if (rc)
			return rc;
	}
	return open_file_mode(pd, err);
}

static struct perfdata *pd_alloc(const char *name)
{
	struct perfdata *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return NULL;
	pd->fd = -1;
	pd->file_end = UINT64_MAX;
	pd->arena = arena_new();
	if (pd->arena)
		pd->name = arena_strdup(pd->arena, name ? name : "perf.data");
	if (!pd->arena || !pd->name) {
		arena_free(pd->arena);
		free(pd);
		return NULL;
	}
	return pd;
}

struct perfdata *perfdata_open_mem(const void *buf, size_t len,
				   const char *name, struct pm_error *err)
{
	struct perfdata *pd = pd_alloc(name);

	pm_error_clear(err);
	if (!pd) {
		pm_error_set(err, PM_ENOMEM, "out of memory");
		return NULL;
	}
	pd->mem = buf;
	pd->mem_len = buf ? len : 0;
	pd->file_end = pd->mem_len;
	if (open_common(pd, err)) {
		perfdata_free(pd);
		return NULL;
	}
	return pd;
}

struct perfdata *perfdata_open(const char *path, bool force,
			       struct pm_error *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	struct perfdata *pd = pd_alloc(is_stdin ? "<stdin>" : path);
	struct stat st;
	int fd = -1, rc = 0;

	pm_error_clear(err);
	if (!pd) {
		pm_error_set(err, PM_ENOMEM, "out of memory");
		return NULL;
	}
	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = pm_error_set(err, errno == ENOENT ? PM_ENOTFOUND :
				  errno == EACCES ? PM_EPERM : PM_EIO,
				  "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st)) {
		rc = pm_error_set(err, PM_EIO, "%s: %s", pd->name,
				  strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = pm_error_set(err, PM_EUNSUPPORTED, "%s: is a directory "
				  "(perf.data directory format is not "
				  "supported)", path);
		goto out;
	}
	/* tools/perf/util/data.c open_file_read(). */
	if (!is_stdin && !force && st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = pm_error_set(err, PM_EPERM, "%s: not owned by current "
				  "user or root (use --force to override)",
				  path);
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size == 0) {
			rc = pm_error_set(err, PM_EEMPTY, "%s: empty file, "
					  "nothing to do", pd->name);
			goto out;
		}
		if ((uint64_t)st.st_size > SIZE_MAX) {
			rc = pm_error_set(err, PM_ELIMIT, "%s: too large",
					  pd->name);
			goto out;
		}
		pd->mapped = mmap(NULL, (size_t)st.st_size, PROT_READ,
				  MAP_PRIVATE, fd, 0);
		if (pd->mapped == MAP_FAILED) {
			pd->mapped = NULL;
			rc = pm_error_set(err, PM_EIO, "%s: mmap: %s",
					  pd->name, strerror(errno));
			goto out;
		}
		madvise(pd->mapped, (size_t)st.st_size, MADV_SEQUENTIAL);
		pd->pagesize = (size_t)sysconf(_SC_PAGESIZE);
		if (!pd->pagesize || pd->pagesize & (pd->pagesize - 1))
			pd->pagesize = 4096;
		pd->dropped = 0;
		pd->mem = pd->mapped;
		pd->mem_len = (size_t)st.st_size;
		pd->file_end = pd->mem_len;
	} else {
		pd->fd = fd;		/* a pipe or other stream */
		fd = -1;
	}
	rc = open_common(pd, err);
out:
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
	if (rc) {
		perfdata_free(pd);
		return NULL;
	}
	return pd;
}

void perfdata_free(struct perfdata *pd)
{
	size_t i;

	if (!pd)
		return;
	if (pd->mapped)
		munmap(pd->mapped, pd->mem_len);
	if (pd->fd > STDIN_FILENO)
		close(pd->fd);
	free(pd->owned);
	free(pd->sbuf);
	free(pd->attrs);
	idmap_release(&pd->ids);
	free(pd->bids);
	free(pd->tracing);
	ZSTD_freeDStream(pd->zds);
	free(pd->zin);
	free(pd->zbuf);
	for (i = 0; i < pd->nr_chunks; i++)
		free(pd->chunks[i].mem);
	free(pd->chunks);
	free(pd->queue);
	free(pd->ready);
	free(pd->stats.samples_per_attr);
	arena_free(pd->arena);
	free(pd);
}

const struct pd_info *perfdata_info(const struct perfdata *pd)
{
	return &pd->info;
}

size_t perfdata_nr_attrs(const struct perfdata *pd)
{
	return pd->nr_attrs;
}

const struct pd_attr *perfdata_attr(const struct perfdata *pd, size_t idx)
{
	return idx < pd->nr_attrs ? pd->attrs[idx] : NULL;
}

const struct pd_stats *perfdata_stats(const struct perfdata *pd)
{
	return &pd->stats;
}

const char *perfdata_warning(const struct perfdata *pd)
{
	return pd->warning[0] ? pd->warning : NULL;
}

const char *perfdata_record_name(uint32_t type)
{
	static const char *const names[] = {
		[PD_MMAP] = "MMAP", [PD_LOST] = "LOST", [PD_COMM] = "COMM",
		[PD_EXIT] = "EXIT", [PD_THROTTLE] = "THROTTLE",
		[PD_UNTHROTTLE] = "UNTHROTTLE", [PD_FORK] = "FORK",
		[PD_READ] = "READ", [PD_SAMPLE] = "SAMPLE",
		[PD_MMAP2] = "MMAP2", [PD_AUX] = "AUX",
		[PD_ITRACE_START] = "ITRACE_START",
		[PD_LOST_SAMPLES] = "LOST_SAMPLES", [PD_SWITCH] = "SWITCH",
		[PD_SWITCH_CPU_WIDE] = "SWITCH_CPU_WIDE",
		[PD_NAMESPACES] = "NAMESPACES", [PD_KSYMBOL] = "KSYMBOL",
		[PD_BPF_EVENT] = "BPF_EVENT", [PD_CGROUP] = "CGROUP",
		[PD_TEXT_POKE] = "TEXT_POKE",
		[PD_AUX_OUTPUT_HW_ID] = "AUX_OUTPUT_HW_ID",
		[PD_HEADER_ATTR] = "HEADER_ATTR",
		[PD_HEADER_EVENT_TYPE] = "HEADER_EVENT_TYPE",
		[PD_HEADER_TRACING_DATA] = "HEADER_TRACING_DATA",
		[PD_HEADER_BUILD_ID] = "HEADER_BUILD_ID",
		[PD_FINISHED_ROUND] = "FINISHED_ROUND",
		[PD_ID_INDEX] = "ID_INDEX",
		[PD_AUXTRACE_INFO] = "AUXTRACE_INFO",
		[PD_AUXTRACE] = "AUXTRACE",
		[PD_AUXTRACE_ERROR] = "AUXTRACE_ERROR",
		[PD_THREAD_MAP] = "THREAD_MAP", [PD_CPU_MAP] = "CPU_MAP",
		[PD_STAT_CONFIG] = "STAT_CONFIG", [PD_STAT] = "STAT",
		[PD_STAT_ROUND] = "STAT_ROUND",
		[PD_EVENT_UPDATE] = "EVENT_UPDATE",
		[PD_TIME_CONV] = "TIME_CONV",
		[PD_HEADER_FEATURE] = "HEADER_FEATURE",
		[PD_COMPRESSED] = "COMPRESSED",
		[PD_FINISHED_INIT] = "FINISHED_INIT",
		[PD_COMPRESSED2] = "COMPRESSED2",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "UNKNOWN";
}

/* perf_regs.c perf_reg_value(): registers are stored in mask bit order. */
bool pd_reg(const uint8_t *regs, size_t nr_regs, uint64_t mask, unsigned reg,
	    uint64_t *val)
{
	size_t idx;

	if (!regs || reg >= 64 || !(mask >> reg & 1))
		return false;
	idx = (size_t)__builtin_popcountll(mask & ((1ULL << reg) - 1));
	if (idx >= nr_regs)
		return false;
	*val = pd_u64(regs, idx);
	return true;
}

/*
 * perf names events with their modifiers ("cpu-clock:ppp", "page-faults:u");
 * users type them without ("-e cpu-clock"). Drop a trailing suffix made of
 * perf's modifier letters (u k h I G H p P S D W e) from non-tracepoint
 * events; tracepoint names ("sched:sched_switch") are kept whole.
 */
void pd_attr_set_name(struct perfdata *pd, struct pd_attr *a, const char *name)
{
	const char *colon = strrchr(name, ':');
	char *shortn;

	a->full_name = a->name = name;
	if (a->type == PD_TYPE_TRACEPOINT || !colon || colon == name ||
	    colon[1] == '\0' ||
	    strspn(colon + 1, "ukhIGHpPSDWe") != strlen(colon + 1))
		return;
	shortn = arena_strndup(pd->arena, name, (size_t)(colon - name));
	if (shortn)
		a->name = shortn;
}
