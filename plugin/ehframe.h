/*
 * ehframe.h - the unwind rule of a small piece of JIT code (a CPython
 * trampoline copy) from the .eh_frame a jitdump JIT_CODE_UNWINDING_INFO
 * record carries, in the form the trampoline stepper uses (tramp.h).
 *
 * Ownership: plain data; the rule is filled in caller storage.
 */
#ifndef PM_EHFRAME_H
#define PM_EHFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tramp.h"

/*
 * The rule of a code_size-byte copy described by the first FDE of eh
 * (len bytes). Its pc_begin is not used: the record describes the code
 * load that follows it. machine: EM_X86_64, EM_AARCH64 or 0 (from the
 * return-address column). Only what a trampoline can need is accepted:
 * the CFA from the stack or frame pointer, the return address and frame
 * pointer saved at the CFA or kept in a register; anything else is
 * -PM_EUNSUPPORTED. Rows cover [0, min(code_size, pc_range)); ret_off is
 * TRAMP_RET_ANY. Returns 0, or -PM_E* with err saying why (rule zeroed).
 */
int ehframe_rule(uint16_t machine, const uint8_t *eh, size_t len,
		 uint64_t code_size, struct tramp_rule *rule,
		 struct pm_error *err);

#endif
