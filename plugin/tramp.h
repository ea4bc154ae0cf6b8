/*
 * tramp.h - decode CPython's perf trampoline template
 * (_Py_trampoline_func_start.._Py_trampoline_func_end) into unwind rules.
 *
 * Under -X perf every code object runs through its own copy of the template
 * in anonymous memory. The copies have no CFI, so the unwinder needs the
 * rule for a pc inside a copy; it follows from the template's instructions.
 * tramp_decode() executes the template symbolically, one instruction at a
 * time (x86-64 or aarch64, with the optional endbr64 / BTI / PAC hints that
 * patch releases added), and produces one row per stretch of code with the
 * same frame state. Anything it does not recognize is an error, never a
 * guess.
 *
 * Ownership: plain data. struct tramp_rule is filled in caller storage; no
 * allocation, no cleanup.
 */
#ifndef PM_TRAMP_H
#define PM_TRAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TRAMP_MAX_SIZE 64	/* bytes: real templates are 8..32 */
#define TRAMP_MAX_ROWS 16
#define TRAMP_RET_ANY UINT32_MAX	/* ret_off: any offset */

/* Where a caller's register value is found. */
enum tramp_where {
	TRAMP_SAME,		/* unchanged in this frame (still in the reg) */
	TRAMP_IN_REG,		/* in register .reg (aarch64 LR before stp) */
	TRAMP_AT_CFA,		/* saved in memory at CFA + .off */
};

struct tramp_loc {
	enum tramp_where where;
	unsigned reg;		/* DWARF register, TRAMP_IN_REG */
	int32_t off;		/* TRAMP_AT_CFA */
};

/* Frame state for template offsets [start, end). */
struct tramp_row {
	uint32_t start, end;
	unsigned cfa_reg;	/* DWARF register: rsp = 7 (x86-64), sp = 31 */
	int32_t cfa_off;	/* CFA = cfa_reg + cfa_off = caller's SP */
	struct tramp_loc ra;	/* return address (caller's pc) */
	struct tramp_loc fp;	/* rbp (6) / x29 (29) */
};

struct tramp_rule {
	uint16_t machine;	/* EM_X86_64 or EM_AARCH64 */
	uint32_t size;		/* template bytes */
	uint32_t ret_off;	/* offset of the call's return address: the
				   only offset a caller frame can show;
				   TRAMP_RET_ANY if not known (a rule from
				   a jitdump's CFI, not decoded) */
	bool ra_signed;		/* aarch64 PAC: saved LR carries a signature
				   in its top bits; strip before use */
	size_t nr_rows;		/* rows cover [0, size), in order */
	struct tramp_row rows[TRAMP_MAX_ROWS];
};

/*
 * Decode size bytes of template code for machine (EM_X86_64, EM_AARCH64).
 * Returns 0 with *rule filled, or -PM_EUNSUPPORTED (unknown machine or
 * instruction, stack not balanced, not exactly one indirect call, no
 * final ret) / -PM_ELIMIT (template over TRAMP_MAX_SIZE) with err naming
 * the offset and bytes.
 */
int tramp_decode(uint16_t machine, const uint8_t *code, size_t size,
		 struct tramp_rule *rule, struct pm_error *err);

/* Row covering template offset off, or NULL if off >= rule->size. */
const struct tramp_row *tramp_row_at(const struct tramp_rule *rule,
				     uint64_t off);

/* One-line description ("x86-64 sub/call/add: at +6 CFA=rsp+16 ...") for
 * warnings and tests, written into buf (always NUL-terminated). */
void tramp_describe(const struct tramp_rule *rule, char *buf, size_t size);

#endif
