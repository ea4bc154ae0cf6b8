/*
 * fuzz_perfdata.c - libFuzzer target for the perf.data reader.
 *
 * Opens the input with perfdata_open_mem() and drains perfdata_next(),
 * touching every pointer the reader hands out (so ASan sees a bad one) and
 * checking the contract:
 *   - a failure comes with a negative code and a non-empty message;
 *   - delivered records are at least a header long, and no longer than the
 *     input unless they came out of zstd;
 *   - array lengths in a decoded sample fit inside the record;
 *   - timestamps only go backwards after the reader counted an
 *     out-of-order record (perf's FINISHED_ROUND rule).
 * Build: make fuzz-replay (or build-fuzz/fuzz_perfdata), then
 *   build-fuzz/fuzz_perfdata -max_total_time=300 tests/fuzz/corpus/perfdata
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfdata.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

static volatile uint64_t sink;

static void touch(const uint8_t *p, uint64_t n)
{
	uint64_t s = 0, i;

	if (!n)
		return;
	REQUIRE(p != NULL);
	/* first, last and a stride: cheap but catches bad ranges */
	for (i = 0; i < n; i += 61)
		s += p[i];
	sink += s + p[n - 1];
}

static void touch_str(const char *s)
{
	if (s)
		sink += strlen(s);
}

static bool inside(const struct pd_event *ev, const uint8_t *p, uint64_t n)
{
	const uint8_t *end = ev->data + ev->size;

	if (!n)
		return true;
	return p >= ev->data && p <= end && n <= (uint64_t)(end - p);
}

static void check_sample(const struct pd_event *ev)
{
	const struct pd_sample *s = &ev->u.sample;

	REQUIRE(ev->attr != NULL);
	REQUIRE(inside(ev, s->callchain, (uint64_t)s->nr_callchain * 8));
	REQUIRE(inside(ev, s->raw, s->raw_size));
	REQUIRE(inside(ev, s->branches, (uint64_t)s->nr_branches * 24));
	REQUIRE(inside(ev, s->user_regs, (uint64_t)s->nr_user_regs * 8));
	REQUIRE(inside(ev, s->intr_regs, (uint64_t)s->nr_intr_regs * 8));
	REQUIRE(inside(ev, s->user_stack, s->user_stack_size));
	REQUIRE(s->user_stack_dyn_size <= s->user_stack_size);
	REQUIRE(inside(ev, s->read, s->read_size));
	REQUIRE(inside(ev, s->aux, s->aux_size));
	touch(s->callchain, (uint64_t)s->nr_callchain * 8);
	touch(s->raw, s->raw_size);
	touch(s->user_stack, s->user_stack_size);
	touch(s->read, s->read_size);
	if (s->nr_user_regs && ev->attr) {
		uint64_t v;

		sink += pd_reg(s->user_regs, s->nr_user_regs,
			       ev->attr->sample_regs_user, 7, &v);
	}
}

static void check_info(const struct perfdata *pd)
{
	const struct pd_info *in = perfdata_info(pd);
	size_t i;

	touch_str(in->hostname), touch_str(in->osrelease);
	touch_str(in->perf_version), touch_str(in->arch);
	touch_str(in->cpudesc), touch_str(in->cmdline);
	touch(in->tracing_data, in->tracing_size);
	for (i = 0; i < in->nr_build_ids; i++) {
		REQUIRE(in->build_ids[i].size <= 20);
		touch_str(in->build_ids[i].filename);
	}
	for (i = 0; i < perfdata_nr_attrs(pd); i++) {
		const struct pd_attr *a = perfdata_attr(pd, i);

		REQUIRE(a && a->idx == i && a->name);
		touch_str(a->name);
		if (a->nr_ids)
			sink += a->ids[a->nr_ids - 1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_error err;
	struct perfdata *pd;
	struct pd_event ev;
	const struct pd_stats *st;
	uint64_t last = 0;
	bool have_last = false;
	int rc;

	pd = perfdata_open_mem(data, size, "fuzz", &err);
	if (!pd) {
		REQUIRE(err.code < 0 && err.msg[0]);
		return 0;
	}
	check_info(pd);
	st = perfdata_stats(pd);
	while ((rc = perfdata_next(pd, &ev, &err)) > 0) {
		REQUIRE(ev.size >= 8 && ev.data != NULL);
		REQUIRE(st->decompressed_bytes || ev.size <= size);
		touch(ev.data, ev.size);
		if (ev.sid.has_time) {
			REQUIRE(!have_last || ev.sid.time >= last ||
				st->out_of_order);
			last = ev.sid.time;
			have_last = true;
		}
		switch (ev.type) {
		case PD_SAMPLE:
			check_sample(&ev);
			break;
		case PD_MMAP: case PD_MMAP2:
			touch_str(ev.u.mmap.filename);
			REQUIRE(ev.u.mmap.build_id_size <= 20);
			break;
		case PD_COMM:
			touch_str(ev.u.comm.comm);
			break;
		case PD_KSYMBOL:
			touch_str(ev.u.ksymbol.name);
			break;
		default:
			break;
		}
	}
	REQUIRE(rc == 0 || (rc == err.code && rc < 0 && err.msg[0]));
	/* The end is sticky. */
	REQUIRE(perfdata_next(pd, &ev, &err) == rc);
	check_info(pd);
	if (perfdata_warning(pd))
		touch_str(perfdata_warning(pd));
	perfdata_free(pd);
	return 0;
}
