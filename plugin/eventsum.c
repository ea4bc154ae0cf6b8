/*
 * eventsum.c - what each recorded event is, and routing samples to the
 * summaries (faults.c, memevents.c, offcpu.c); the GC share of CPU lives
 * here since it is a view of the CPU samples.
 *
 * Events are classified once, on the first sample, from attr type/config
 * (software events) or from the tracepoint's name and format in the
 * tracing data (attr.config is the tracepoint id, as perf's
 * evsel__tp_format uses it). Field slots per kind (attr_kind.f[]):
 *   AK_FAULT (tracepoint)  address, ip, error_code
 *   AK_SYS_ENTER           len (mmap, munmap) | brk | old_len, new_len
 *   AK_SYS_EXIT            ret
 *   AK_PAGE_ALLOC/FREE     pfn, order
 *   AK_RSS                 mm_id, curr, member, size
 *   AK_SWITCH              prev_pid, prev_state, next_pid
 * A tracepoint sample is only used when its common_type matches its
 * attr's id and every field it needs lies inside the RAW payload.
 */
#include "eventsum.h"

#include <stdlib.h>
#include <string.h>

#include "evtab.h"
#include "faults.h"
#include "json.h"
#include "memevents.h"
#include "offcpu.h"
#include "strtab.h"
#include "summary.h"
#include "tracedata.h"

/* PERF_COUNT_SW_* and PERF_COUNT_HW_CPU_CYCLES */
enum { SW_CPU_CLOCK = 0, SW_TASK_CLOCK = 1, SW_PAGE_FAULTS = 2,
       SW_FAULTS_MIN = 5, SW_FAULTS_MAJ = 6, HW_CYCLES = 0 };

struct tp_desc {
	const char *name;
	enum ak kind;
	int sub;
	const char *fields[AK_MAX_FIELDS];
};

static const struct tp_desc tp_descs[] = {
	{ "exceptions:page_fault_user", AK_FAULT, FS_TP_USER,
	  { "address", "ip", "error_code" } },
	{ "exceptions:page_fault_kernel", AK_FAULT, FS_TP_KERNEL,
	  { "address", "ip", "error_code" } },
	{ "syscalls:sys_enter_mmap", AK_SYS_ENTER, SC_MMAP, { "len" } },
	{ "syscalls:sys_enter_munmap", AK_SYS_ENTER, SC_MUNMAP, { "len" } },
	{ "syscalls:sys_enter_brk", AK_SYS_ENTER, SC_BRK, { "brk" } },
	{ "syscalls:sys_enter_mremap", AK_SYS_ENTER, SC_MREMAP,
	  { "old_len", "new_len" } },
	{ "syscalls:sys_exit_mmap", AK_SYS_EXIT, SC_MMAP, { "ret" } },
	{ "syscalls:sys_exit_munmap", AK_SYS_EXIT, SC_MUNMAP, { "ret" } },
	{ "syscalls:sys_exit_brk", AK_SYS_EXIT, SC_BRK, { "ret" } },
	{ "syscalls:sys_exit_mremap", AK_SYS_EXIT, SC_MREMAP, { "ret" } },
	{ "kmem:mm_page_alloc", AK_PAGE_ALLOC, 0, { "pfn", "order" } },
	{ "kmem:mm_page_free", AK_PAGE_FREE, 0, { "pfn", "order" } },
	{ "kmem:rss_stat", AK_RSS, 0, { "mm_id", "curr", "member", "size" } },
	{ "sched:sched_switch", AK_SWITCH, 0,
	  { "prev_pid", "prev_state", "next_pid" } },
};

static const char *const profile_names[] = {
	"offcpu", "gil-wait", "mmap-bytes", "munmap-bytes", "rss-bytes",
	"page-alloc-bytes", "gc", NULL
};

struct eventsum {
	struct perfdata *pd;
	struct es_ctx ctx;
	bool classified, td_tried;
	char warning[600];
	struct attr_kind *ak;
	size_t nr_ak;
	struct faults *faults;
	struct memevents *mem;
	struct offcpu *off;
	long cpu_idx;			/* attr of the CPU event, -1 */
	uint64_t cpu_samples, gc_samples, mismatched;
	struct profile *p_gc;
	const struct event_stats *events;	/* main's, per attr */
	size_t nr_events;
	uint64_t t0;
	bool have_t0;
};

struct eventsum *eventsum_new(struct perfdata *pd, struct session *sess,
			      struct pm_error *err)
{
	struct eventsum *es = calloc(1, sizeof(*es));

	if (!es)
		goto oom;
	es->pd = pd;
	es->ctx.sess = sess;
	es->cpu_idx = -1;
	es->ctx.names = strtab_new();
	es->faults = faults_new();
	es->mem = memevents_new();
	es->off = offcpu_new();
	es->p_gc = profile_new();
	if (!es->ctx.names || !es->faults || !es->mem || !es->off ||
	    !es->p_gc)
		goto oom;
	return es;
oom:
	eventsum_free(es);
	pm_error_set(err, PM_ENOMEM, "out of memory");
	return NULL;
}

void eventsum_free(struct eventsum *es)
{
	if (!es)
		return;
	faults_free(es->faults);
	memevents_free(es->mem);
	offcpu_free(es->off);
	profile_free(es->p_gc);
	tracedata_free(es->ctx.td);
	strtab_free(es->ctx.names);
	free(es->ak);
	free(es);
}

static void load_tracedata(struct eventsum *es)
{
	const struct pd_info *info = perfdata_info(es->pd);
	struct pm_error err = {0};

	if (es->td_tried || !info->tracing_data)
		return;
	es->td_tried = true;
	es->ctx.td = tracedata_parse(info->tracing_data, info->tracing_size,
				     info->tracing_offset, &err);
	if (!es->ctx.td) {
		snprintf(es->warning, sizeof(es->warning), "tracing data: %s; "
			 "tracepoint fields are not decoded", err.msg);
		return;
	}
	es->ctx.page_size = tracedata_page_size(es->ctx.td);
	if (tracedata_nr_failed(es->ctx.td))
		snprintf(es->warning, sizeof(es->warning), "tracing data: %zu "
			 "event formats could not be parsed and were skipped",
			 tracedata_nr_failed(es->ctx.td));
}

static void classify_tracepoint(struct eventsum *es, const struct pd_attr *a,
				struct attr_kind *k)
{
	const char *name = NULL;
	size_t i, j;

	if (es->ctx.td)
		name = tracedata_event_name(es->ctx.td, a->config);
	if (!name || !(a->sample_type & PD_S_RAW))
		return;
	k->name = name;
	k->has_common_type = tracedata_field(es->ctx.td, a->config,
					     "common_type", &k->common_type);
	for (i = 0; i < sizeof(tp_descs) / sizeof(tp_descs[0]); i++) {
		const struct tp_desc *d = &tp_descs[i];

		if (strcmp(d->name, name))
			continue;
		for (j = 0; j < AK_MAX_FIELDS && d->fields[j]; j++)
			if (!tracedata_field(es->ctx.td, a->config,
					     d->fields[j], &k->f[j]) &&
			    !(d->kind == AK_FAULT && j == 1))
				return;		/* a needed field is missing */
		k->kind = d->kind;
		k->sub = d->sub;
		if (d->kind == AK_SYS_EXIT)
			memevents_expect_exit(es->mem, d->sub);
		return;
	}
}

static int classify(struct eventsum *es)
{
	size_t n = perfdata_nr_attrs(es->pd), i;
	struct attr_kind *ak = calloc(n ? n : 1, sizeof(*ak));

	if (!ak)
		return -PM_ENOMEM;
	load_tracedata(es);
	for (i = 0; i < n; i++) {
		const struct pd_attr *a = perfdata_attr(es->pd, i);
		struct attr_kind *k = &ak[i];

		k->kind = AK_OTHER;
		k->idx = (unsigned)i;
		k->name = a->name ? a->name : "?";
		if (a->type == PD_TYPE_SOFTWARE) {
			if (a->config == SW_CPU_CLOCK ||
			    a->config == SW_TASK_CLOCK)
				k->kind = AK_CPU;
			else if (a->config == SW_PAGE_FAULTS)
				k->kind = AK_FAULT, k->sub = FS_ALL;
			else if (a->config == SW_FAULTS_MIN)
				k->kind = AK_FAULT, k->sub = FS_MIN;
			else if (a->config == SW_FAULTS_MAJ)
				k->kind = AK_FAULT, k->sub = FS_MAJ;
		} else if (a->type == PD_TYPE_HARDWARE &&
			   a->config == HW_CYCLES) {
			k->kind = AK_CPU;
		} else if (a->type == PD_TYPE_TRACEPOINT) {
			classify_tracepoint(es, a, k);
		}
		if (k->kind == AK_CPU && es->cpu_idx < 0)
			es->cpu_idx = (long)i;
	}
	free(es->ak);
	es->ak = ak;
	es->nr_ak = n;
	es->classified = true;
	return 0;
}

static bool has_gc(const struct frame *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i].kind == FRAME_RUNTIME && !strcmp(s[i].name, FRAME_GC))
			return true;
	return false;
}

static int cpu_sample(struct eventsum *es, const struct es_sample *s)
{
	int err;

	if ((long)s->ak->idx != es->cpu_idx)
		return 0;
	es->cpu_samples++;
	err = 0;
	if (has_gc(s->stack, s->n)) {
		es->gc_samples++;
		err = profile_add(es->p_gc, s->stack, s->n, 1);
	}
	return err;
}

/* Whether a tracepoint sample's RAW record is of its event (common_type
 * == tracepoint id), with the field looked up once per attr. */
static bool raw_is_event(const struct eventsum *es, const struct attr_kind *k,
			 const struct pd_event *ev)
{
	uint64_t type;

	return k->has_common_type &&
	       tracedata_read(es->ctx.td, &k->common_type, ev->u.sample.raw,
			      ev->u.sample.raw_size, &type) &&
	       type == ev->attr->config;
}

int eventsum_sample(struct eventsum *es, const struct pd_event *ev,
		    const struct frame *merged, size_t n,
		    const struct stack_result *res)
{
	struct es_sample s = { .ev = ev, .stack = merged, .n = n, .res = res };
	const struct attr_kind *k;
	int err = 0;

	if (!ev->attr)
		return 0;
	if (!es->classified || ev->attr->idx >= es->nr_ak) {
		err = classify(es);
		if (err || ev->attr->idx >= es->nr_ak)
			return err;
	}
	k = s.ak = &es->ak[ev->attr->idx];
	if (ev->sid.has_time) {
		if (!es->have_t0) {
			const struct pd_info *info = perfdata_info(es->pd);

			es->t0 = info->first_sample_time &&
				 info->first_sample_time <= ev->sid.time ?
				 info->first_sample_time : ev->sid.time;
			es->have_t0 = true;
		}
		s.sec = ev->sid.time > es->t0 ?
			(ev->sid.time - es->t0) / 1000000000u : 0;
	}
	s.weight = ev->attr->sample_type & PD_S_PERIOD &&
		   ev->u.sample.period ? ev->u.sample.period : 1;
	s.thr = res ? res->thread :
		session_thread(es->ctx.sess, ev->sid.pid, ev->sid.tid);
	if (k->kind != AK_SWITCH && ev->sid.has_time)
		err = offcpu_running(es->off, ev->sid.tid, ev->sid.time,
				     IN_SAMPLE);
	if (!err && (ev->attr->sample_type & PD_S_DATA_SRC))
		err = memevents_data_src(es->mem, &es->ctx, &s);
	if (err)
		return err;
	if (ev->attr->type == PD_TYPE_TRACEPOINT && k->kind != AK_OTHER &&
	    !raw_is_event(es, k, ev)) {
		es->mismatched++;
		return 0;
	}
	switch (k->kind) {
	case AK_CPU:
		return cpu_sample(es, &s);
	case AK_FAULT:
		return faults_sample(es->faults, &es->ctx, &s);
	case AK_SYS_ENTER: case AK_SYS_EXIT: case AK_PAGE_ALLOC:
	case AK_PAGE_FREE: case AK_RSS:
		return memevents_sample(es->mem, &es->ctx, &s);
	case AK_SWITCH:
		return offcpu_switch(es->off, &es->ctx, &s);
	default:
		return 0;
	}
}

int eventsum_record(struct eventsum *es, const struct pd_event *ev)
{
	switch (ev->type) {
	case PD_SWITCH:
	case PD_SWITCH_CPU_WIDE:
		/* a switch-in record is written in the incoming task */
		if (ev->u.sw.out || !ev->sid.has_time)
			return 0;
		return offcpu_running(es->off, ev->sid.tid, ev->sid.time,
				      IN_SWITCH);
	case PD_EXIT:
		if (!ev->u.fork.time)
			return 0;
		return offcpu_running(es->off, ev->u.fork.tid, ev->u.fork.time,
				      IN_EXIT);
	default:
		return 0;
	}
}

struct profile *eventsum_profile(const struct eventsum *es, const char *name,
				 const char **unit)
{
	struct profile *p;
	const char *u = "bytes";

	if ((p = offcpu_profile(es->off, name)))
		u = "ns";
	else if (!(p = memevents_profile(es->mem, name)) &&
		 !strcmp(name, "gc")) {
		p = es->p_gc;
		u = "samples";
	}
	if (unit)
		*unit = p ? u : NULL;
	return p;
}

bool eventsum_profile_known(const char *name)
{
	size_t i;

	for (i = 0; profile_names[i]; i++)
		if (!strcmp(name, profile_names[i]))
			return true;
	return false;
}

void eventsum_set_events(struct eventsum *es, const struct event_stats *ev,
			 size_t n)
{
	es->events = ev;
	es->nr_events = n;
}

/* The CPU event's profile, built by the caller (eventsum_set_events)
 * from the same merged stacks: not built a second time here. */
static const struct profile *cpu_profile(const struct eventsum *es)
{
	if (es->cpu_idx < 0 || (size_t)es->cpu_idx >= es->nr_events)
		return NULL;
	return es->events[es->cpu_idx].profile;
}

/* Self weight of the Python frame named `name` in the CPU profile. */
static uint64_t cpu_self_of(const struct eventsum *es, const char *name)
{
	const struct profile *p = cpu_profile(es);
	size_t i, n = p ? profile_nr_frames(p) : 0;

	for (i = 0; i < n; i++) {
		const struct frame *f = profile_frame(p, (uint32_t)i);

		if (f->kind == FRAME_PYTHON && !strcmp(f->name, name))
			return profile_frame_stat(p, (uint32_t)i)->py_self;
	}
	return 0;
}

/* Rows of the GC table: Python functions that triggered collections. */
static void gc_rows(const struct eventsum *es, FILE *f, unsigned top,
		    bool json)
{
	size_t nr, i;
	struct summary_row *rows = summary_rows(es->p_gc, SUMMARY_PY_SELF, &nr);

	if (!rows)
		return;
	if (!json && nr)
		fprintf(f, "    %7s %10s %10s  %s\n", "of GC", "samples",
			"of its CPU", "Python function (innermost)");
	for (i = 0; i < nr && i < (top ? top : 15); i++) {
		const struct frame *fr = profile_frame(es->p_gc, rows[i].frame);
		uint64_t g = rows[i].value;
		uint64_t c = cpu_self_of(es, fr->name);

		if (json) {
			fputs(i ? ", {" : "{", f);
			json_key(f, "function");
			json_str(f, fr->name);
			fprintf(f, ", \"gc_samples\": %llu, \"cpu_samples\": "
				"%llu}", (unsigned long long)g,
				(unsigned long long)c);
		} else {
			fprintf(f, "    %6.2f%% %10llu %9.1f%%  %s\n",
				summary_pct(g, es->gc_samples),
				(unsigned long long)g, summary_pct(g, c),
				fr->name);
		}
	}
	free(rows);
}

int eventsum_write_text(const struct eventsum *es, FILE *f, unsigned top)
{
	if (es->warning[0])
		fprintf(f, "\nwarning: %s\n", es->warning);
	if (es->mismatched)
		fprintf(f, "\nwarning: %llu tracepoint samples whose type does "
			"not match their event were skipped\n",
			(unsigned long long)es->mismatched);
	faults_write_text(es->faults, f, top);
	memevents_write_text(es->mem, f, top);
	if (es->cpu_samples && es->cpu_idx >= 0) {
		fprintf(f, "\ncyclic GC (%s): %llu of %llu CPU samples (%.2f%%) "
			"in the collector\n", es->ak[es->cpu_idx].name,
			(unsigned long long)es->gc_samples,
			(unsigned long long)es->cpu_samples,
			summary_pct(es->gc_samples, es->cpu_samples));
		gc_rows(es, f, top, false);
	}
	if (offcpu_any(es->off))
		offcpu_write_text(es->off, f, top);
	return ferror(f) ? -PM_EIO : 0;
}

int eventsum_write_json(const struct eventsum *es, FILE *f, unsigned top)
{
	fputs("{\"warning\": ", f);
	json_str(f, es->warning[0] ? es->warning : NULL);
	fprintf(f, ", \"tracepoint_samples_mismatched\": %llu",
		(unsigned long long)es->mismatched);
	fputs(",\n  \"faults\": ", f);
	faults_write_json(es->faults, f, top);
	fputs(",\n  \"memory\": ", f);
	memevents_write_json(es->mem, f, top);
	fputs(",\n  \"gc\": {\"event\": ", f);
	json_str(f, es->cpu_idx >= 0 && es->ak ? es->ak[es->cpu_idx].name :
		 NULL);
	fprintf(f, ", \"cpu_samples\": %llu, \"gc_samples\": %llu, "
		"\"by_python_function\": [", (unsigned long long)es->cpu_samples,
		(unsigned long long)es->gc_samples);
	gc_rows(es, f, top, true);
	fputs("]},\n  \"offcpu\": ", f);
	offcpu_write_json(es->off, f, top);
	fputs("}", f);
	return ferror(f) ? -PM_EIO : 0;
}
