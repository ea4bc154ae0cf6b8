/*
 * main.c - the pyperf-merge command line: options into struct options,
 * then reader -> session -> stacker -> merge -> profile -> outputs.
 *
 * Exit codes:
 *   0  success
 *   1  the input could not be read at all (nothing written)
 *   2  usage error
 *   3  the input is damaged part-way, or a built-in limit stopped reading
 *      it: outputs were written from the records before (the error says
 *      where)
 *   4  an output could not be written
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "arena.h"
#include "eventsum.h"
#include "merge.h"
#include "output.h"
#include "perfdata.h"
#include "pipeline.h"
#include "profile.h"
#include "session.h"
#include "stack.h"
#include "summary.h"
#include "summary_json.h"
#include "symbols.h"

enum format { FMT_DEFAULT, FMT_SVG, FMT_FOLDED, FMT_TEXT, FMT_JSON };

#define MAX_FILTER 64

struct options {
	const char *input;
	const char *output;		/* NULL: default naming */
	enum format format;
	const char *event;
	enum merge_mode merge;
	const char *maps_dir;
	const char *archive;		/* --archive: pyperf-maps archive */
	const char *title;
	bool force, quiet, no_unwind;
	unsigned jobs;			/* -j; 0 = one per CPU */
	uint32_t pids[MAX_FILTER], tids[MAX_FILTER];
	size_t nr_pids, nr_tids;
	const char *comms[MAX_FILTER];
	size_t nr_comms;
};

static const char usage_text[] =
"Usage: pyperf-merge [OPTIONS] [FILE]\n"
"Merge Python, native and kernel frames from a perf recording of a Python\n"
"program (FILE, default ./perf.data; - reads a pipe-mode stream on stdin)\n"
"into flamegraphs, folded stacks and a summary.\n"
"\n"
"With no -o/--format: writes FILE.EVENT.svg next to FILE for each sampled\n"
"event and prints the summary.\n"
"\n"
"  -o, --output PATH     write the chosen format to PATH (- = stdout)\n"
"  -F, --format FMT      svg, folded, text or json (default with -o: svg)\n"
"  -e, --event NAME      event to show, as perf names it (cpu-clock,\n"
"                        page-faults, exceptions:page_fault_user, ...);\n"
"                        default: the first sampled event; also the\n"
"                        derived profiles offcpu, gil-wait, gc,\n"
"                        mmap-bytes, munmap-bytes, rss-bytes,\n"
"                        page-alloc-bytes (weighted by ns or bytes)\n"
"  -p, --pid PID[,PID]   only these processes\n"
"  -t, --tid TID[,TID]   only these threads\n"
"  -c, --comm NAME[,..]  only threads with these command names\n"
"      --native=MODE     python (default): elide interpreter frames between\n"
"                        Python frames; all: keep every frame\n"
"      --maps-dir DIR    where perf-PID.map files are (default: FILE.maps/\n"
"                        as collected by pyperf-record, then /tmp)\n"
"      --archive TAR     perf maps, binaries and debug files from\n"
"                        `pyperf-maps archive` (analysis on another machine)\n"
"      --title TEXT      flamegraph title\n"
"      --no-unwind       ignore DWARF stack copies (callchains only)\n"
"  -j, --jobs N          threads for unwinding and symbolizing (default:\n"
"                        one per CPU, at most 8; output does not depend\n"
"                        on it)\n"
"  -f, --force           read files not owned by you or root\n"
"  -q, --quiet           no summary on stdout in the default mode\n"
"  -h, --help            this text\n"
"  -V, --version         version\n"
"\n"
"Exit status: 0 ok, 1 input unreadable or without events, 2 usage, 3 input\n"
"damaged part-way or over a limit (partial outputs written), 4 output not\n"
"written.\n";

/* The input as messages name it. */
static const char *display_name(const char *input)
{
	return strcmp(input, "-") ? input : "<stdin>";
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pyperf-merge: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pyperf-merge --help'.\n");
	return 2;
}

/* Parse "1,2,3" into out[]; returns -1 on a bad number. */
static int parse_ids(const char *arg, uint32_t *out, size_t *nr)
{
	const char *p = arg;

	while (*p) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno || v > UINT32_MAX ||
		    (*end && *end != ',') || *nr >= MAX_FILTER)
			return -1;
		out[(*nr)++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	return *nr ? 0 : -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_NATIVE = 256, OPT_MAPS_DIR, OPT_TITLE, OPT_NO_UNWIND,
	       OPT_ARCHIVE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "event", required_argument, NULL, 'e' },
		{ "pid", required_argument, NULL, 'p' },
		{ "tid", required_argument, NULL, 't' },
		{ "comm", required_argument, NULL, 'c' },
		{ "native", required_argument, NULL, OPT_NATIVE },
		{ "maps-dir", required_argument, NULL, OPT_MAPS_DIR },
		{ "archive", required_argument, NULL, OPT_ARCHIVE },
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "no-unwind", no_argument, NULL, OPT_NO_UNWIND },
		{ "jobs", required_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:F:e:p:t:c:j:fqhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'F':
			if (!strcmp(optarg, "svg"))
				o->format = FMT_SVG;
			else if (!strcmp(optarg, "folded"))
				o->format = FMT_FOLDED;
			else if (!strcmp(optarg, "text"))
				o->format = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				o->format = FMT_JSON;
			else
				return usage_error("unknown format '%s' "
						   "(svg, folded, text, json)", optarg);
			break;
		case 'e':
			o->event = optarg;
			break;
		case 'p':
			if (parse_ids(optarg, o->pids, &o->nr_pids))
				return usage_error("bad --pid '%s'", optarg);
			break;
		case 't':
			if (parse_ids(optarg, o->tids, &o->nr_tids))
				return usage_error("bad --tid '%s'", optarg);
			break;
		case 'c': {
			char *save = NULL, *tok;
			size_t before = o->nr_comms;

			/* split argv's own string in place: it lives as long
			 * as the process and the filter points into it */
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->nr_comms >= MAX_FILTER)
					return usage_error("too many --comm "
							   "names");
				o->comms[o->nr_comms++] = tok;
			}
			if (o->nr_comms == before)
				return usage_error("empty --comm");
			break;
		}
		case OPT_NATIVE:
			if (!strcmp(optarg, "all"))
				o->merge = MERGE_ALL;
			else if (!strcmp(optarg, "python"))
				o->merge = MERGE_DEFAULT;
			else
				return usage_error("unknown --native mode '%s' "
						   "(python, all)", optarg);
			break;
		case OPT_MAPS_DIR:
			o->maps_dir = optarg;
			break;
		case OPT_ARCHIVE:
			o->archive = optarg;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_NO_UNWIND:
			o->no_unwind = true;
			break;
		case 'j': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || !n ||
			    n > PIPELINE_MAX_THREADS)
				return usage_error("bad --jobs '%s' (1 to %d)",
						   optarg,
						   PIPELINE_MAX_THREADS);
			o->jobs = (unsigned)n;
			break;
		}
		case 'f':
			o->force = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);	/* main-level: nothing to clean up yet */
		case 'V':
			printf("pyperf-merge %s\n", PM_VERSION);
			exit(0);
		default:
			return 2;
		}
	}
	if (optind < argc - 1)
		return usage_error("more than one input file ('%s' ...)",
				   argv[optind + 1]);
	o->input = optind < argc ? argv[optind] : "perf.data";
	return 0;
}

/* Whether a sample passes --pid/--tid/--comm. */
static bool sample_wanted(const struct options *o, const struct pd_event *ev,
			  const char *comm)
{
	size_t i;
	bool ok;

	if (o->nr_pids) {
		for (ok = false, i = 0; i < o->nr_pids; i++)
			ok |= o->pids[i] == ev->sid.pid;
		if (!ok)
			return false;
	}
	if (o->nr_tids) {
		for (ok = false, i = 0; i < o->nr_tids; i++)
			ok |= o->tids[i] == ev->sid.tid;
		if (!ok)
			return false;
	}
	if (o->nr_comms) {
		for (ok = false, i = 0; i < o->nr_comms; i++)
			ok |= comm && !strcmp(o->comms[i], comm);
		if (!ok)
			return false;
	}
	return true;
}

struct run {
	struct options *o;
	struct perfdata *pd;
	struct symbols *syms;
	struct session *sess;
	struct stacker *st;
	struct pipeline *pl;		/* samples -> stacks, on -j threads */
	struct event_stats *ev;		/* one per attr */
	size_t nr_ev;
	struct frame *merged;
	size_t merged_alloc;
	struct eventsum *evsum;		/* fault/memory/GC/off-CPU summaries */
	const char *unit;		/* flamegraph unit of an evsum profile */
	struct archive *archive;	/* --archive, extracted */
	bool stage_error;		/* process_all stopped on a limit, not
					   on damaged input */
	uint64_t fail_offset;		/* the record processing failed on */
	uint32_t fail_type;
};

/* The pipeline's sink: a finished stack into the profiles and counters. */
static int sink_sample(void *arg, const struct pd_event *ev,
		       struct stack_result *res)
{
	struct run *r = arg;
	struct event_stats *es = &r->ev[ev->attr->idx];
	size_t n;
	int err;

	r->fail_offset = ev->offset;
	r->fail_type = PD_SAMPLE;
	err = grow_array((void **)&r->merged, &r->merged_alloc, res->nr + 1,
			 sizeof(*r->merged), 1u << 17);
	if (err)
		return err;
	n = merge_stack(res->frames, res->nr,
			res->end == STACK_END_TRUNCATED, r->o->merge,
			r->merged);
	err = profile_add(es->profile, r->merged, n, 1);
	if (!err)
		err = eventsum_sample(r->evsum, ev, r->merged, n, res);
	if (err)
		return err;
	es->samples++;
	if (res->has_python) {
		es->with_python++;
		if (res->end == STACK_END_ROOT)
			es->python_complete++;
	}
	if (res->end == STACK_END_TRUNCATED)
		es->truncated++;
	if (res->end == STACK_END_NO_USER)
		es->no_user++;
	if (res->unwound)
		es->unwound++;
	if (res->stitched)
		es->stitched++;
	if (res->interp_break) {
		es->interp_break++;
		if (!es->break_dso)
			es->break_dso = res->break_dso;
	}
	return 0;
}

static int handle_sample(struct run *r, const struct pd_event *ev)
{
	struct thread *t;
	int err;

	if (!ev->attr || ev->attr->idx >= r->nr_ev)
		return 0;
	r->fail_offset = ev->offset;
	r->fail_type = PD_SAMPLE;
	t = session_thread_peek(r->sess, ev->sid.pid, ev->sid.tid);
	if (!t) {
		/* a new thread changes the session: not under the workers */
		if ((err = pipeline_flush(r->pl)))
			return err;
		t = session_thread(r->sess, ev->sid.pid, ev->sid.tid);
		if (!t)
			return -PM_ENOMEM;
	}
	if (!sample_wanted(r->o, ev, t->comm)) {
		r->ev[ev->attr->idx].filtered++;
		return 0;
	}
	return pipeline_submit(r->pl, ev, t);
}

/* Read every record; returns 0, or the reader's error after partial
 * processing (message in err). */
static int process_all(struct run *r, struct pm_error *err)
{
	struct pd_event ev;
	int rc, stage = 0;

	while ((rc = perfdata_next(r->pd, &ev, err)) > 0) {
		if (ev.type == PD_SAMPLE) {
			stage = handle_sample(r, &ev);
		} else if (!(stage = pipeline_flush(r->pl))) {
			/* the session changes: earlier samples are sunk */
			r->fail_offset = ev.offset;
			r->fail_type = ev.type;
			stage = session_process(r->sess, &ev);
			if (stage >= 0)
				stage = eventsum_record(r->evsum, &ev);
			if (ev.type == PD_EXIT)
				stacker_thread_exit(r->st, ev.u.fork.pid,
						    ev.u.fork.tid);
		}
		if (stage < 0)
			break;
	}
	/* at the end, or at damage: what was read is sunk all the same */
	if (stage >= 0)
		stage = pipeline_flush(r->pl);
	if (stage < 0) {
		/* not the reader's error: the input is fine so far, a limit
		 * was hit processing it */
		r->stage_error = true;
		return pm_error_set(err, -stage, "offset %llu: %s record: %s",
				    (unsigned long long)r->fail_offset,
				    perfdata_record_name(r->fail_type),
				    stage == -PM_ELIMIT ?
				    "over a built-in limit (a crafted or "
				    "unusual file)" : pm_strerror(stage));
	}
	return rc;
}

static void load_kernel_symbols(struct run *r)
{
	const struct pd_info *info = perfdata_info(r->pd);
	const uint8_t *bid = NULL;
	size_t bid_size = 0, i;

	for (i = 0; i < info->nr_build_ids; i++) {
		const struct pd_build_id *b = &info->build_ids[i];

		if ((b->misc & PD_CPUMODE_MASK) == PD_MISC_KERNEL &&
		    b->filename && !strcmp(b->filename, "[kernel.kallsyms]")) {
			bid = b->id;
			bid_size = b->size;
		} else if (b->filename && b->filename[0] == '/') {
			symbols_add_build_id(r->syms, b->filename, b->id,
					     b->size);
		}
	}
	/* read beside the first samples; said after them (kernel_symbols_said) */
	symbols_load_kernel_async(r->syms, info->osrelease, bid, bid_size);
}

static void kernel_symbols_said(struct run *r)
{
	struct pm_error err = {0};

	if (symbols_kernel_wait(r->syms, &err) < 0 && !r->o->quiet && err.code)
		fprintf(stderr, "pyperf-merge: kernel symbols: %s\n", err.msg);
}

/* Output file name for the default mode: FILE.EVENT.svg. */
static char *default_svg_path(const char *input, const char *event)
{
	const char *base = strcmp(input, "-") ? input : "stdin";
	size_t len = strlen(base) + strlen(event) + 8, i;
	char *path = malloc(len), *ev;

	if (!path)
		return NULL;
	snprintf(path, len, "%s.%s.svg", base, event);
	/* event names like "sched:sched_switch" or "cpu/x/" -> safe chars */
	ev = path + strlen(base) + 1;
	for (i = 0; ev[i] && strcmp(ev + i, ".svg"); i++)
		if (ev[i] == '/' || ev[i] == ':' || ev[i] == ' ')
			ev[i] = '_';
	return path;
}

/* --format json: every event's summary and the event summaries. */
static int write_json(struct run *r, FILE *f)
{
	struct summary_input si = {
		.path = r->o->input, .info = perfdata_info(r->pd),
		.pstats = perfdata_stats(r->pd), .events = r->ev,
		.nr_events = r->nr_ev, .warnings = pipeline_warnings(r->pl),
	};

	return summary_write_json(f, &si, r->evsum);
}

/*
 * Flamegraph title: --title, else the profiled command (what follows "--"
 * in the recorded perf command line, or the whole line), cut to what fits
 * beside the Search button.
 */
static void default_title(const struct run *r, const struct pd_info *info,
			  char *buf, size_t size)
{
	const char *t = r->o->title, *dd;
	size_t max = size - 1 < 110 ? size - 1 : 110;

	if (!t && info->cmdline) {
		dd = strstr(info->cmdline, " -- ");
		t = dd ? dd + 4 : info->cmdline;
	}
	if (!t)
		t = display_name(r->o->input);
	if (strlen(t) > max && !r->o->title)
		snprintf(buf, size, "%.*s..", (int)(max - 2), t);
	else
		snprintf(buf, size, "%s", t);
}

/*
 * The text summary. Names in it come from the input (perf maps, comms, the
 * recorded command line): it is composed in memory and copied out with
 * control bytes other than newline and tab shown as \xNN, so a hostile name
 * cannot drive the terminal.
 */
static int write_text(struct run *r, const struct event_stats *es, size_t n,
		      FILE *f)
{
	struct summary_input si = {
		.path = r->o->input, .info = perfdata_info(r->pd),
		.pstats = perfdata_stats(r->pd), .events = es, .nr_events = n,
		.warnings = pipeline_warnings(r->pl),
	};
	char *buf = NULL;
	size_t len = 0, i;
	FILE *mem = open_memstream(&buf, &len);
	int err;

	if (!mem)
		return -PM_ENOMEM;
	err = summary_write(mem, &si);
	if (!err)
		err = eventsum_write_text(r->evsum, mem, 0);
	if (fclose(mem) && !err)
		err = -PM_ENOMEM;
	for (i = 0; !err && i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
	free(buf);
	if (!err && ferror(f))
		err = -PM_EIO;
	return err;
}

static int write_one(struct run *r, const struct event_stats *es,
		     enum format fmt, const char *path)
{
	const struct pd_info *info = perfdata_info(r->pd);
	struct flamegraph_opts fo = {0};
	char title[512], subtitle[256];
	FILE *f = stdout;
	int err = 0;

	if (strcmp(path, "-")) {
		f = fopen(path, "w");
		if (!f) {
			fprintf(stderr, "pyperf-merge: %s: %s\n", path,
				strerror(errno));
			return -PM_EIO;
		}
	}
	switch (fmt) {
	case FMT_FOLDED:
		err = folded_write(f, es->profile);
		break;
	case FMT_TEXT:
		err = write_text(r, es, 1, f);
		break;
	case FMT_JSON:
		err = write_json(r, f);
		break;
	default:
		default_title(r, info, title, sizeof(title));
		snprintf(subtitle, sizeof(subtitle), "event %s, %llu samples",
			 es->name, (unsigned long long)es->samples);
		fo.title = title;
		fo.subtitle = subtitle;
		fo.unit = r->unit ? r->unit : "samples";
		err = flamegraph_write(f, es->profile, &fo);
		break;
	}
	if (f != stdout) {
		if (fclose(f) && !err)
			err = -PM_EIO;
	} else if (fflush(f) && !err) {
		err = -PM_EIO;
	}
	if (err)
		fprintf(stderr, "pyperf-merge: %s: write failed\n", path);
	return err;
}

/* Whether event i is the one named (as users type it, or with perf's
 * modifiers as in "cpu-clock:ppp"). */
static bool event_is(const struct run *r, size_t i, const char *name)
{
	return !strcmp(r->ev[i].name, name) ||
	       !strcmp(perfdata_attr(r->pd, i)->full_name, name);
}

static const struct event_stats *pick_event(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nr_ev; i++) {
		if (r->o->event) {
			if (event_is(r, i, r->o->event))
				return &r->ev[i];
		} else if (r->ev[i].samples) {
			return &r->ev[i];
		}
	}
	return NULL;
}

/* -e NAME of an eventsum profile (offcpu, gil-wait, mmap-bytes, ...). */
static int write_evsum_profile(struct run *r)
{
	struct event_stats es = { .name = r->o->event };
	enum format fmt = r->o->format == FMT_DEFAULT ? FMT_SVG : r->o->format;
	char *path = NULL;
	int err;

	es.profile = eventsum_profile(r->evsum, r->o->event, &r->unit);
	if (!es.profile)
		return -PM_ENOTFOUND;
	es.samples = profile_stacks(es.profile);
	if (!r->o->output && fmt == FMT_SVG) {
		path = default_svg_path(r->o->input, r->o->event);
		if (!path)
			return -PM_ENOMEM;
	}
	err = write_one(r, &es, fmt, path ? path :
			r->o->output ? r->o->output : "-");
	if (!err && path && !r->o->quiet)
		fprintf(stderr, "pyperf-merge: wrote %s\n", path);
	free(path);
	return err;
}

static int write_outputs(struct run *r)
{
	const struct event_stats *es;
	size_t i;
	int err = 0;

	if (r->o->event && eventsum_profile_known(r->o->event))
		return write_evsum_profile(r);
	if (r->o->format == FMT_DEFAULT && !r->o->output) {
		for (i = 0; i < r->nr_ev; i++) {
			char *path;

			if (!r->ev[i].samples ||
			    (r->o->event && !event_is(r, i, r->o->event)))
				continue;
			path = default_svg_path(r->o->input, r->ev[i].name);
			if (!path)
				return -PM_ENOMEM;
			if (write_one(r, &r->ev[i], FMT_SVG, path))
				err = -PM_EIO;
			else if (!r->o->quiet)
				fprintf(stderr, "pyperf-merge: wrote %s\n",
					path);
			free(path);
		}
		if (!r->o->quiet) {
			if (write_text(r, r->ev, r->nr_ev, stdout) ||
			    fflush(stdout) || ferror(stdout)) {
				fprintf(stderr, "pyperf-merge: <stdout>: "
					"write failed: %s\n", strerror(errno));
				err = -PM_EIO;
			}
		}
		return err;
	}
	/* main() refused an unknown --event and a recording without events;
	 * with no --event and no samples, the first event (empty) is written */
	es = pick_event(r);
	if (!es)
		es = &r->ev[0];
	return write_one(r, es, r->o->format == FMT_DEFAULT ? FMT_SVG :
			 r->o->format, r->o->output ? r->o->output : "-");
}

/* "pyperf-merge: FILE: offset N: what" -- the reader's messages name the
 * offset; add the file unless the message starts with it already. */
static void input_error(const char *input, const struct pm_error *err)
{
	const char *name = display_name(input);
	size_t len = strlen(name);

	if (!strncmp(err->msg, name, len) && err->msg[len] == ':')
		fprintf(stderr, "pyperf-merge: %s\n", err->msg);
	else
		fprintf(stderr, "pyperf-merge: %s: %s\n", name, err->msg);
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct run r = {0};
	struct pm_error err = {0};
	struct symbols_opts so = { .inline_frames = true };
	struct stacker_opts sto = {0};
	char maps_next[PATH_MAX];
	const char *archive_dirs[2] = { NULL, NULL };
	struct stat sb;
	int rc, status = 0;
	size_t i = 0;

	rc = parse_options(argc, argv, &o);
	if (rc)
		return rc;
	r.o = &o;
	r.pd = perfdata_open(o.input, o.force, &err);
	if (!r.pd) {
		input_error(o.input, &err);
		return 1;
	}
	if (o.archive) {
		r.archive = archive_open(o.archive, &err);
		if (!r.archive) {
			fprintf(stderr, "pyperf-merge: %s\n", err.msg);
			perfdata_free(r.pd);
			return 1;
		}
		archive_dirs[0] = archive_dir(r.archive);
		so.debug_dirs = archive_dirs;
	}
	r.nr_ev = perfdata_nr_attrs(r.pd);
	r.ev = calloc(r.nr_ev ? r.nr_ev : 1, sizeof(*r.ev));
	if (!r.nr_ev) {
		fprintf(stderr, "pyperf-merge: %s: the recording has no events\n",
			display_name(o.input));
		status = 1;
		goto out;
	}
	r.syms = symbols_new(&so);
	r.sess = session_new();
	if (r.sess)
		r.evsum = eventsum_new(r.pd, r.sess, &err);
	if (o.maps_dir) {
		sto.maps_dirs[0] = o.maps_dir;
	} else if (r.archive) {
		sto.maps_dirs[0] = archive_maps_dir(r.archive);
	} else {
		/* pyperf-record collects maps into FILE.maps/ */
		snprintf(maps_next, sizeof(maps_next), "%s.maps", o.input);
		if (strcmp(o.input, "-") && stat(maps_next, &sb) == 0 &&
		    S_ISDIR(sb.st_mode))
			sto.maps_dirs[i++] = maps_next;
		sto.maps_dirs[i] = "/tmp";
		i = 0;
	}
	sto.force = o.force;
	sto.no_unwind = o.no_unwind;
	if (!r.ev || !r.syms || !r.sess || !r.evsum ||
	    !(r.st = stacker_new(r.sess, r.syms, &sto))) {
		fprintf(stderr, "pyperf-merge: out of memory\n");
		status = 1;
		goto out;
	}
	for (i = 0; i < r.nr_ev; i++) {
		r.ev[i].name = perfdata_attr(r.pd, i)->name;
		r.ev[i].profile = profile_new();
		if (!r.ev[i].profile) {
			status = 1;
			goto out;
		}
	}
	eventsum_set_events(r.evsum, r.ev, r.nr_ev);
	if (o.event && !pick_event(&r) && !eventsum_profile_known(o.event)) {
		fprintf(stderr, "pyperf-merge: %s: no event named '%s'; the "
			"recording has:", o.input, o.event);
		for (i = 0; i < r.nr_ev; i++)
			fprintf(stderr, " %s", r.ev[i].name);
		fputc('\n', stderr);
		status = 2;
		goto out;
	}
	load_kernel_symbols(&r);
	r.pl = pipeline_new(r.st, o.jobs, sink_sample, &r);
	if (!r.pl) {
		fprintf(stderr, "pyperf-merge: out of memory\n");
		status = 1;
		goto out;
	}
	rc = process_all(&r, &err);
	kernel_symbols_said(&r);
	if (rc < 0) {
		input_error(o.input, &err);
		fprintf(stderr, "pyperf-merge: %s: writing partial results "
			"from the records before %s\n", display_name(o.input),
			r.stage_error ? "it" : "the damage");
		status = 3;
	}
	if (perfdata_warning(r.pd) && !o.quiet)
		fprintf(stderr, "pyperf-merge: warning: %s\n",
			perfdata_warning(r.pd));
	if (write_outputs(&r))
		status = status ? status : 4;
out:
	eventsum_free(r.evsum);
	pipeline_free(r.pl);
	stacker_free(r.st);
	for (i = 0; r.ev && i < r.nr_ev; i++)
		profile_free(r.ev[i].profile);
	free(r.ev);
	free(r.merged);
	session_free(r.sess);
	symbols_free(r.syms);
	perfdata_free(r.pd);
	archive_free(r.archive);
	return status;
}
