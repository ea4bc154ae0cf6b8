/*
 * fuzz_jitdump.c - libFuzzer target for the jitdump reader and the
 * .eh_frame rule builder.
 *
 * Parses the input with jitdump_parse() and checks the contract:
 *   - a failure comes with a negative code and a non-empty message;
 *   - every entry found at an address the input mentions (each 8-byte
 *     window read as an address, and that address + 1) contains it, is
 *     named and labelled, and its rule (if any) has rows that tile
 *     [0, size) in order with a known CFA register;
 *   - the counts in the stats add up.
 * Then runs ehframe_rule() over the input itself with the same row
 * checks.
 * Build: make fuzz-replay (or build-fuzz/fuzz_jitdump), then
 *   build-fuzz/fuzz_jitdump -max_total_time=300 tests/fuzz/corpus/jitdump
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ehframe.h"
#include "jitdump.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rule(const struct tramp_rule *r)
{
	uint32_t at = 0;
	size_t i;

	REQUIRE(r->machine == EM_X86_64 || r->machine == EM_AARCH64);
	REQUIRE(r->nr_rows >= 1 && r->nr_rows <= TRAMP_MAX_ROWS);
	for (i = 0; i < r->nr_rows; i++) {
		const struct tramp_row *row = &r->rows[i];

		REQUIRE(row->start == at && row->end > row->start);
		REQUIRE(row->cfa_reg == 6 || row->cfa_reg == 7 ||
			row->cfa_reg == 29 || row->cfa_reg == 31);
		at = row->end;
	}
	REQUIRE(at == r->size);
	REQUIRE(r->ret_off == TRAMP_RET_ANY || r->ret_off < r->size);
}

static void check_entry(const struct pymap *m, uint64_t addr)
{
	const struct pymap_entry *e = pymap_lookup(m, addr);

	if (!e)
		return;
	REQUIRE(addr >= e->start && addr - e->start < e->size);
	REQUIRE(e->name && e->name[0] && e->label);
	REQUIRE(!e->qualname == !e->filename);
	if (e->rule)
		check_rule(e->rule);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jitdump_stats st;
	struct pm_error err = {0};
	struct tramp_rule rule;
	struct pymap *m;
	uint64_t a;
	size_t i;

	m = jitdump_parse(data, size, &st, &err);
	if (!m) {
		REQUIRE(err.code < 0 && err.msg[0]);
	} else {
		REQUIRE(st.decoded + st.from_eh_frame + st.no_rule <= st.loads);
		REQUIRE(pymap_count(m) <= 2 * (st.loads + st.moves) + 1);
		for (i = 0; i + 8 <= size; i++) {
			memcpy(&a, data + i, sizeof(a));
			check_entry(m, a);
			check_entry(m, a + 1);
		}
		pymap_free(m);
	}
	if (ehframe_rule(0, data, size, 64, &rule, &err) == 0)
		check_rule(&rule);
	else
		REQUIRE(err.code < 0 && err.msg[0]);
	return 0;
}
