/*
 * pd-dump - print every record perfdata_next() delivers: offset, type, time
 * and key fields. A debugging aid, not part of the library or the build.
 *
 * Build (from the repo root, after `make`):
 *   cc -std=c11 -D_GNU_SOURCE -Iplugin -g -o build/pd-dump \
 *      tests/tools/pd-dump.c build/libpyperf.a $(pkg-config --libs libdw libelf libzstd)
 * Use:  build/pd-dump [-f] [-q] perf.data|-      (-q: summary only)
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "perfdata.h"

static void dump_sample(const struct pd_event *ev)
{
	const struct pd_sample *s = &ev->u.sample;
	size_t i;

	printf(" ip %#" PRIx64 " pid %u tid %u cpu %u period %" PRIu64,
	       s->ip, ev->sid.pid, ev->sid.tid, ev->sid.cpu, s->period);
	if (s->addr)
		printf(" addr %#" PRIx64, s->addr);
	if (s->nr_callchain) {
		printf(" chain[%zu]", s->nr_callchain);
		for (i = 0; i < s->nr_callchain && i < 8; i++)
			printf(" %#" PRIx64, pd_u64(s->callchain, i));
		if (s->nr_callchain > 8)
			printf(" ...");
	}
	if (s->user_abi)
		printf(" regs %zu", s->nr_user_regs);
	if (s->user_stack_size)
		printf(" stack %" PRIu64 "/%" PRIu64, s->user_stack_dyn_size,
		       s->user_stack_size);
	if (s->raw_size)
		printf(" raw %u", s->raw_size);
}

static void dump(const struct pd_event *ev)
{
	printf("%10" PRIu64 " %-14s", ev->offset,
	       perfdata_record_name(ev->type));
	if (ev->sid.has_time)
		printf(" %" PRIu64 ".%09" PRIu64, ev->sid.time / 1000000000,
		       ev->sid.time % 1000000000);
	else
		printf(" -");
	if (ev->attr)
		printf(" [%s]", ev->attr->name);
	switch (ev->type) {
	case PD_SAMPLE:
		dump_sample(ev);
		break;
	case PD_MMAP: case PD_MMAP2:
		printf(" %u/%u %#" PRIx64 "-%#" PRIx64 " pgoff %#" PRIx64
		       " prot %u %s", ev->u.mmap.pid, ev->u.mmap.tid,
		       ev->u.mmap.start, ev->u.mmap.start + ev->u.mmap.len,
		       ev->u.mmap.pgoff, ev->u.mmap.prot, ev->u.mmap.filename);
		break;
	case PD_COMM:
		printf(" %u/%u %s%s", ev->u.comm.pid, ev->u.comm.tid,
		       ev->u.comm.comm, ev->u.comm.exec ? " (exec)" : "");
		break;
	case PD_FORK: case PD_EXIT:
		printf(" %u/%u ppid %u/%u", ev->u.fork.pid, ev->u.fork.tid,
		       ev->u.fork.ppid, ev->u.fork.ptid);
		break;
	case PD_LOST: case PD_LOST_SAMPLES:
		printf(" lost %" PRIu64, ev->u.lost.lost);
		break;
	case PD_KSYMBOL:
		printf(" %#" PRIx64 " %u %s", ev->u.ksymbol.addr,
		       ev->u.ksymbol.len, ev->u.ksymbol.name);
		break;
	case PD_SWITCH: case PD_SWITCH_CPU_WIDE:
		printf(" %s%s", ev->u.sw.out ? "out" : "in",
		       ev->u.sw.preempt ? " preempt" : "");
		break;
	default:
		printf(" size %u", ev->size);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	struct pm_error err;
	struct perfdata *pd;
	const struct pd_info *in;
	const struct pd_stats *st;
	struct pd_event ev;
	bool force = false, quiet = false;
	int i = 1, rc;
	size_t a;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-f"))
			force = true;
		else if (!strcmp(argv[i], "-q"))
			quiet = true;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: pd-dump [-f] [-q] FILE|-\n");
		return 2;
	}
	pd = perfdata_open(argv[i], force, &err);
	if (!pd) {
		fprintf(stderr, "pd-dump: %s\n", err.msg);
		return 1;
	}
	in = perfdata_info(pd);
	printf("# %s, host %s, perf %s, arch %s, cpus %u/%u%s\n",
	       in->pipe ? "pipe" : "file", in->hostname ? in->hostname : "?",
	       in->perf_version ? in->perf_version : "?",
	       in->arch ? in->arch : "?", in->nr_cpus_online,
	       in->nr_cpus_avail, in->compressed ? ", compressed" : "");
	if (in->cmdline)
		printf("# cmdline: %s\n", in->cmdline);
	for (a = 0; a < perfdata_nr_attrs(pd); a++) {
		const struct pd_attr *at = perfdata_attr(pd, a);

		printf("# event %zu: %s type %u config %#" PRIx64
		       " sample_type %#" PRIx64 " ids %zu\n", a, at->name,
		       at->type, at->config, at->sample_type, at->nr_ids);
	}
	while ((rc = perfdata_next(pd, &ev, &err)) > 0)
		if (!quiet)
			dump(&ev);
	st = perfdata_stats(pd);
	printf("# samples %" PRIu64 " mmap2 %" PRIu64 " comm %" PRIu64
	       " lost %" PRIu64 " bad %" PRIu64 " unknown %" PRIu64
	       " out-of-order %" PRIu64 " compressed %" PRIu64 "->%" PRIu64
	       "\n", st->records[PD_SAMPLE], st->records[PD_MMAP2],
	       st->records[PD_COMM], st->lost_events, st->bad_records,
	       st->unknown_records, st->out_of_order, st->compressed_bytes,
	       st->decompressed_bytes);
	if (perfdata_warning(pd))
		printf("# warning: %s\n", perfdata_warning(pd));
	if (rc < 0)
		fprintf(stderr, "pd-dump: %s\n", err.msg);
	perfdata_free(pd);
	return rc < 0;
}
