/*
 * faults.c - the page-fault summary (see faults.h).
 *
 * Addresses: software fault events carry the faulting address in
 * PERF_SAMPLE_ADDR when recorded with `perf record -d` (which also records
 * data mmaps, so anonymous and file mappings are known); the exceptions:
 * tracepoints carry it in their "address" field, with "error_code" (x86
 * arch/x86/include/asm/trap_pf.h: bit 0 protection fault (0 = page not
 * present), 1 write, 2 user mode, 3 reserved bit, 4 instruction fetch).
 * Without an error code, user vs kernel mode comes from the sample's
 * cpumode (a fault taken in copy_to_user has a kernel IP).
 * Weights: each sample counts its period (1 with -c 1 and for tracepoints),
 * so sampled fault events give estimates.
 */
#include "faults.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "json.h"
#include "summary.h"

enum mk { MK_HEAP, MK_ANON, MK_STACK, MK_FILE, MK_CODE, MK_SPECIAL,
	  MK_KERNEL, MK_UNKNOWN, MK_NR };

static const char *const mk_names[MK_NR] = {
	"heap", "anon mmap", "stack", "file", "code", "special", "kernel",
	"no recorded mapping (perf record -d records data mmaps)"
};

/* the same, as JSON keys */
static const char *const mk_keys[MK_NR] = {
	"heap", "anon", "stack", "file", "code", "special", "kernel", "unknown"
};

enum { ACC_READ, ACC_WRITE, ACC_EXEC, ACC_NR };

#define PF_PROT		(1u << 0)
#define PF_WRITE	(1u << 1)
#define PF_USER		(1u << 2)
#define PF_INSTR	(1u << 4)

struct fault_ev {
	unsigned idx;
	const char *name;
	int src;			/* FS_* */
	uint64_t faults, samples;
	uint64_t by_kind[MK_NR];
	uint64_t access[ACC_NR];	/* only with an error code */
	uint64_t user, kernel;
	uint64_t not_present, protection;	/* error code bit 0 */
	uint64_t with_addr;		/* samples with an address */
	struct counts files;		/* "file" and "code" mappings by name */
	struct series time;
	struct profile *prof;
};

struct faults {
	struct fault_ev *ev;
	size_t n, alloc;
};

struct faults *faults_new(void)
{
	return calloc(1, sizeof(struct faults));
}

void faults_free(struct faults *fs)
{
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->n; i++) {
		counts_release(&fs->ev[i].files);
		series_release(&fs->ev[i].time);
		profile_free(fs->ev[i].prof);
	}
	free(fs->ev);
	free(fs);
}

static struct fault_ev *get_ev(struct faults *fs, const struct attr_kind *ak)
{
	struct fault_ev *e;
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (fs->ev[i].idx == ak->idx)
			return &fs->ev[i];
	if (grow_array((void **)&fs->ev, &fs->alloc, fs->n + 1,
		       sizeof(*fs->ev), 4096))
		return NULL;
	e = &fs->ev[fs->n];
	memset(e, 0, sizeof(*e));
	e->idx = ak->idx;
	e->name = ak->name;
	e->src = ak->sub;
	e->prof = profile_new();
	if (!e->prof)
		return NULL;
	fs->n++;
	return e;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/* Kind of the mapping holding addr; *file gets "code: x"/"file: x". */
static enum mk classify(const struct es_ctx *c, const struct es_sample *s,
			uint64_t addr, const char **file)
{
	struct proc *p = s->thr ? s->thr->proc : NULL;
	const struct map *m = p ? proc_find_map(p, addr) : NULL;
	char buf[300];

	*file = NULL;
	if (!m) {
		/* x86-64 and arm64 kernel halves start at the top bit */
		return (addr >> 63) ? MK_KERNEL : MK_UNKNOWN;
	}
	if (m->kernel)
		return MK_KERNEL;
	if (m->path && !strcmp(m->path, "[heap]"))
		return MK_HEAP;
	if (m->path && !strncmp(m->path, "[stack", 6))
		return MK_STACK;
	if (m->path && m->path[0] == '[' && strncmp(m->path, "[anon", 5))
		return MK_SPECIAL;
	/* what is not a file (session.c's map_is_file: //anon, memfd, SYSV
	 * shm, /dev/zero, hugepages, [anon:...]) is anonymous memory */
	if (!map_is_file(m))
		return MK_ANON;
	snprintf(buf, sizeof(buf), "%s: %s", m->exec ? "code" : "file",
		 base_name(m->path));
	*file = strtab_intern(c->names, buf);
	return m->exec ? MK_CODE : MK_FILE;
}

int faults_sample(struct faults *fs, const struct es_ctx *c,
		  const struct es_sample *s)
{
	struct fault_ev *e = get_ev(fs, s->ak);
	uint64_t addr = 0, ec = 0, w = s->weight;
	bool have_addr = false, have_ec = false;
	const char *file;
	enum mk k;
	int err;

	if (!e)
		return -PM_ENOMEM;
	if (e->src == FS_TP_USER || e->src == FS_TP_KERNEL) {
		have_addr = es_field(c, s, 0, &addr);
		have_ec = es_field(c, s, 2, &ec);
	} else if (s->ev->attr->sample_type & PD_S_ADDR) {
		addr = s->ev->u.sample.addr;
		have_addr = true;
	}
	e->samples++;
	e->faults += w;
	if (have_addr) {
		e->with_addr++;
		k = classify(c, s, addr, &file);
		e->by_kind[k] += w;
		if (file && counts_add(&e->files, file, w, 0))
			return -PM_ENOMEM;
	} else {
		e->by_kind[MK_UNKNOWN] += w;
	}
	if (have_ec) {
		e->access[ec & PF_INSTR ? ACC_EXEC : ec & PF_WRITE ? ACC_WRITE :
			  ACC_READ] += w;
		if (ec & PF_USER)
			e->user += w;
		else
			e->kernel += w;
		if (ec & PF_PROT)
			e->protection += w;
		else
			e->not_present += w;
	} else if ((s->ev->misc & PD_CPUMODE_MASK) == PD_MISC_KERNEL) {
		e->kernel += w;
	} else {
		e->user += w;
	}
	err = series_add(&e->time, s->sec, w);
	if (!err)
		err = profile_add(e->prof, s->stack, s->n, w);
	return err;
}

static const char *src_name(int src)
{
	switch (src) {
	case FS_MIN: return "minor faults only";
	case FS_MAJ: return "major faults only";
	case FS_TP_USER: return "tracepoint, faults in user mode";
	case FS_TP_KERNEL: return "tracepoint, faults in kernel mode";
	default: return "all faults, counted at fault entry";
	}
}

static void write_ev_text(const struct fault_ev *e, FILE *f, unsigned top)
{
	struct count *files;
	size_t i;
	bool ec = e->access[0] + e->access[1] + e->access[2] > 0;

	fprintf(f, "\npage faults: %s (%s): %llu faults in %llu samples\n",
		e->name, src_name(e->src), (unsigned long long)e->faults,
		(unsigned long long)e->samples);
	if (!e->faults)
		return;
	fprintf(f, "  mode: %.1f%% user, %.1f%% kernel%s\n",
		summary_pct(e->user, e->faults), summary_pct(e->kernel, e->faults),
		ec ? "" : " (from the sample's cpumode)");
	if (ec) {
		fprintf(f, "  access: %.1f%% read, %.1f%% write, %.1f%% "
			"instruction fetch; %.1f%% page not present, %.1f%% "
			"protection\n",
			summary_pct(e->access[ACC_READ], e->faults),
			summary_pct(e->access[ACC_WRITE], e->faults),
			summary_pct(e->access[ACC_EXEC], e->faults),
			summary_pct(e->not_present, e->faults),
			summary_pct(e->protection, e->faults));
	}
	if (!e->with_addr) {
		fprintf(f, "  mappings: no faulting addresses (record with "
			"`perf record -d` for them)\n");
	} else {
		fprintf(f, "  by mapping of the faulting address:\n");
		for (i = 0; i < MK_NR; i++)
			if (e->by_kind[i])
				fprintf(f, "    %6.2f%% %12llu  %s\n",
					summary_pct(e->by_kind[i], e->faults),
					(unsigned long long)e->by_kind[i],
					mk_names[i]);
		files = counts_sorted(&e->files);
		for (i = 0; files && i < e->files.n && i < (top ? top : 15); i++)
			fprintf(f, "    %6.2f%% %12llu    %s\n",
				summary_pct(files[i].v, e->faults),
				(unsigned long long)files[i].v, files[i].name);
		free(files);
	}
	pytable_write_text(f, e->prof, "faults by Python function:", fmt_count,
			   e->faults, top);
	series_write_text(f, &e->time, "faults over time", "faults", 20);
}

void faults_write_text(const struct faults *fs, FILE *f, unsigned top)
{
	uint64_t minor = 0, major = 0;
	bool have_min = false, have_maj = false;
	size_t i;

	for (i = 0; i < fs->n; i++) {
		write_ev_text(&fs->ev[i], f, top);
		if (fs->ev[i].src == FS_MIN) {
			minor += fs->ev[i].faults;
			have_min = true;
		} else if (fs->ev[i].src == FS_MAJ) {
			major += fs->ev[i].faults;
			have_maj = true;
		}
	}
	if (have_min && have_maj)
		fprintf(f, "\nmajor vs minor: %llu major, %llu minor "
			"(%.2f%% major)\n", (unsigned long long)major,
			(unsigned long long)minor,
			summary_pct(major, major + minor));
}

static void write_ev_json(const struct fault_ev *e, FILE *f, unsigned top)
{
	struct count *files;
	size_t i;
	bool first = true;

	fputc('{', f);
	json_key(f, "event");
	json_str(f, e->name);
	fprintf(f, ", \"source\": \"%s\", \"faults\": %llu, \"samples\": %llu, "
		"\"samples_with_address\": %llu",
		e->src == FS_MIN ? "minor" : e->src == FS_MAJ ? "major" :
		e->src == FS_TP_USER ? "tracepoint_user" :
		e->src == FS_TP_KERNEL ? "tracepoint_kernel" : "all",
		(unsigned long long)e->faults, (unsigned long long)e->samples,
		(unsigned long long)e->with_addr);
	fprintf(f, ", \"mode\": {\"user\": %llu, \"kernel\": %llu}",
		(unsigned long long)e->user, (unsigned long long)e->kernel);
	if (e->access[0] + e->access[1] + e->access[2])
		fprintf(f, ", \"access\": {\"read\": %llu, \"write\": %llu, "
			"\"ifetch\": %llu, \"not_present\": %llu, "
			"\"protection\": %llu}",
			(unsigned long long)e->access[ACC_READ],
			(unsigned long long)e->access[ACC_WRITE],
			(unsigned long long)e->access[ACC_EXEC],
			(unsigned long long)e->not_present,
			(unsigned long long)e->protection);
	fputs(", \"by_mapping\": {", f);
	for (i = 0; i < MK_NR; i++) {
		if (!e->by_kind[i])
			continue;
		fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", mk_keys[i],
			(unsigned long long)e->by_kind[i]);
		first = false;
	}
	fputs("}, \"by_file\": [", f);
	files = counts_sorted(&e->files);
	for (i = 0; files && i < e->files.n && i < (top ? top : 15); i++) {
		fputs(i ? ", {" : "{", f);
		json_key(f, "mapping");
		json_str(f, files[i].name);
		fprintf(f, ", \"faults\": %llu}", (unsigned long long)files[i].v);
	}
	free(files);
	fputs("], \"by_python_function\": ", f);
	pytable_write_json(f, e->prof, top);
	fputs(", \"per_second\": ", f);
	series_write_json(f, &e->time);
	fputc('}', f);
}

void faults_write_json(const struct faults *fs, FILE *f, unsigned top)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < fs->n; i++) {
		if (i)
			fputs(", ", f);
		write_ev_json(&fs->ev[i], f, top);
	}
	fputc(']', f);
}
