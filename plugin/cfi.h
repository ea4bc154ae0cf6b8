/*
 * cfi.h - unwind rules of one binary, compiled from its .eh_frame (else
 * .debug_frame) with libdw and cached per pc, plus the binary's CPython
 * perf trampoline template, decoded once. Used by the unwinder's stepper.
 *
 * Ownership: a cfi_bin keeps its own read-only handle on the dso's file
 * (dso_file()) and owns every rule it returns; rules stay valid until
 * cfi_bin_free(). The dso must outlive the cfi_bin (struct symbols owns
 * it). Not thread-safe.
 *
 * Addresses are ELF virtual addresses of the binary; cfi_bin_bias() turns
 * a mapping into the bias to subtract from runtime addresses.
 */
#ifndef PM_CFI_H
#define PM_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

#include "error.h"
#include "symbols.h"
#include "tramp.h"

#define CFI_MAX_REGS 33		/* aarch64 x0..x30, sp; x86-64 uses 17 */
#define CFI_MAX_RULES 16	/* registers with a non-trivial rule per pc */

enum cfi_kind {
	CFI_AT_CFA,		/* saved at CFA + off */
	CFI_VAL_CFA,		/* value is CFA + off */
	CFI_REG,		/* value is in register off */
	CFI_EXPR,		/* saved at the address ops compute */
	CFI_VAL_EXPR,		/* value is what ops compute */
};

struct cfi_reg_rule {
	uint8_t regno, kind;
	uint16_t nops;
	int64_t off;
	const Dwarf_Op *ops;	/* CFI_*EXPR; owned by libdw's CFI. The
				   expression expects the CFA pushed first
				   (DW_OP_call_frame_cfa) */
};

/*
 * Rule for one pc. Registers not listed keep their value ("same value"),
 * except those in undef. A rule from the cache is allocated with only
 * nrules entries of rules[]: never copy it by value.
 */
struct cfi_rule {
	bool found;		/* false: no CFI covers the pc */
	bool signal;		/* signal frame (augmentation "S") */
	uint8_t ra_reg;		/* return-address column: 16 / 30 */
	uint8_t cfa_reg;	/* CFA = cfa_reg + cfa_off, unless cfa_ops */
	uint8_t nrules;
	int64_t cfa_off;
	const Dwarf_Op *cfa_ops;	/* CFA expression (value, no deref) */
	size_t cfa_nops;
	uint64_t undef;		/* bit per register with rule "undefined" */
	struct cfi_reg_rule rules[CFI_MAX_RULES];
};

struct cfi_bin;

/* Open d's file. NULL only on OOM; a file that cannot be read gives a
 * cfi_bin with machine 0 and no rules. */
struct cfi_bin *cfi_bin_new(struct dso *d);
void cfi_bin_free(struct cfi_bin *b);		/* NULL accepted */

struct dso *cfi_bin_dso(const struct cfi_bin *b);
uint16_t cfi_bin_machine(const struct cfi_bin *b);	/* e_machine, 0 */
bool cfi_bin_has_cfi(const struct cfi_bin *b);	/* .eh_frame or
						   .debug_frame seen */

/* Bias of a mapping [start, ...) at file offset pgoff: runtime address -
 * bias = ELF vaddr. Uses the PT_LOAD that holds pgoff (layouts where
 * p_vaddr != p_offset), else start - pgoff. */
uint64_t cfi_bin_bias(const struct cfi_bin *b, uint64_t start, uint64_t pgoff);

/* The rule at vaddr for a machine with nregs DWARF registers (17 x86-64,
 * 32 aarch64): cached, or compiled into *tmp when the cache is full or
 * memory is short. Never NULL; ->found says whether CFI covers vaddr. */
const struct cfi_rule *cfi_bin_rule(struct cfi_bin *b, unsigned nregs,
				    uint64_t vaddr, struct cfi_rule *tmp);

/* The binary's perf trampoline template (_Py_trampoline_func_start ..
 * _Py_trampoline_func_end), decoded on first call. Returns 1 with *rule
 * set, 0 if the binary defines no template, or -PM_E* with err saying why
 * the template is unusable (same answer on every call). */
int cfi_bin_tramp(struct cfi_bin *b, const struct tramp_rule **rule,
		  struct pm_error *err);

#endif
