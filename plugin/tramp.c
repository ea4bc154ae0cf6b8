/*
 * tramp.c - symbolic execution of CPython's perf trampoline template.
 *
 * Layouts seen in CPython (Python/asm_trampoline*.S, no .cfi anywhere):
 *   x86-64 3.12, 3.13 <= mid-2025:  [endbr64] sub $8,%rsp; call *%rcx;
 *                                   add $8,%rsp; ret
 *   x86-64 3.13 later, 3.14+:       [endbr64] push %rbp; mov %rsp,%rbp;
 *                                   call *%rcx; pop %rbp; ret
 *   aarch64:                        [bti c|paciasp|pacibsp]
 *                                   stp x29,x30,[sp,#-16]!; mov x29,sp;
 *                                   blr x3; ldp x29,x30,[sp],#16;
 *                                   [autiasp|autibsp] ret
 * Rather than matching these byte strings, each instruction is decoded and
 * its effect on the frame (stack depth, where the return address and the
 * frame pointer live) is tracked, so a new hint or an equivalent encoding
 * does not break the unwinder, and anything that would change the rule
 * in a way we do not model is refused.
 */
#include "tramp.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

#define X86_RSP 7
#define X86_RBP 6
#define X86_RA 16
#define A64_FP 29
#define A64_LR 30
#define A64_SP 31
#define MAX_DEPTH 4096		/* bytes of stack a template may use */

/* Decoder state: the frame between two instructions. */
struct tstate {
	int32_t cfa_off;		/* CFA - SP */
	struct tramp_loc ra, fp;
	bool fp_is_frame;		/* fp = CFA - fp_cfa (mov %rsp,%rbp) */
	int32_t fp_cfa;
	unsigned calls;
	bool done;			/* ret seen */
};

static int bad(struct pm_error *err, const char *what, const uint8_t *code,
	       size_t size, size_t off)
{
	char hex[3 * 8 + 1] = "";
	size_t i, len = 0, n = size - off < 8 ? size - off : 8;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(hex + len, sizeof(hex) - len, "%s%02x",
					i ? " " : "", code[off + i]);
	return pm_error_set(err, PM_EUNSUPPORTED,
			    "trampoline template +%zu: %s (bytes %s)", off,
			    what, hex);
}

/* Append the row for [start, end) in state st, merging with an equal
 * predecessor. */
static int add_row(struct tramp_rule *r, const struct tstate *st,
		   unsigned cfa_reg, uint32_t start, uint32_t end)
{
	struct tramp_row row = {
		.start = start, .end = end, .cfa_reg = cfa_reg,
		.cfa_off = st->cfa_off, .ra = st->ra, .fp = st->fp,
	};
	struct tramp_row *prev = r->nr_rows ? &r->rows[r->nr_rows - 1] : NULL;

	if (prev && prev->cfa_off == row.cfa_off &&
	    memcmp(&prev->ra, &row.ra, sizeof(row.ra)) == 0 &&
	    memcmp(&prev->fp, &row.fp, sizeof(row.fp)) == 0) {
		prev->end = end;
		return 0;
	}
	if (r->nr_rows == TRAMP_MAX_ROWS)
		return -1;
	r->rows[r->nr_rows++] = row;
	return 0;
}

static struct tramp_loc loc_same(void)
{
	return (struct tramp_loc){ .where = TRAMP_SAME };
}

static struct tramp_loc loc_cfa(int32_t off)
{
	return (struct tramp_loc){ .where = TRAMP_AT_CFA, .off = off };
}

static struct tramp_loc loc_reg(unsigned reg)
{
	return (struct tramp_loc){ .where = TRAMP_IN_REG, .reg = reg };
}

static int32_t sext32(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	int32_t s;

	memcpy(&s, &v, sizeof(s));
	return s;
}

/* Length of a ModRM operand (ModRM byte + SIB + displacement), 0 if it
 * does not fit in n bytes. */
static size_t x86_modrm_len(const uint8_t *p, size_t n)
{
	unsigned mod, rm;
	size_t len = 1;

	if (n < 1)
		return 0;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	if (mod != 3 && rm == 4) {
		if (n < 2)
			return 0;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4;
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len <= n ? len : 0;
}

/*
 * One x86-64 instruction at code[off]; sets *len and updates st. Returns
 * NULL or the reason it is not understood.
 */
static const char *x86_step(const uint8_t *p, size_t n, struct tstate *st,
			    size_t *len)
{
	size_t pre = 0;
	int32_t imm;

	if (n >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e &&
	    p[3] == 0xfa) {				/* endbr64 */
		*len = 4;
		return NULL;
	}
	if (p[0] == 0x90 || (p[0] == 0xcc && st->done)) {	/* nop, pad */
		*len = 1;
		return NULL;
	}
	while (pre < n && (p[pre] == 0x66 || p[pre] == 0x2e))
		pre++;
	if (n - pre >= 3 && p[pre] == 0x0f && p[pre + 1] == 0x1f &&
	    ((p[pre + 2] >> 3) & 7) == 0) {		/* nopw/nopl */
		size_t m = x86_modrm_len(p + pre + 2, n - pre - 2);

		if (!m)
			return "truncated nop";
		*len = pre + 2 + m;
		return NULL;
	}
	if (st->done)
		return "code after ret";
	if (pre)
		return "unknown prefix";
	if (n >= 4 && p[0] == 0x48 && p[1] == 0x83 &&
	    (p[2] == 0xec || p[2] == 0xc4)) {		/* sub/add $i8,%rsp */
		imm = (int8_t)p[3];
		*len = 4;
		goto adjust;
	}
	if (n >= 7 && p[0] == 0x48 && p[1] == 0x81 &&
	    (p[2] == 0xec || p[2] == 0xc4)) {		/* sub/add $i32,%rsp */
		imm = sext32(p + 3);
		*len = 7;
		goto adjust;
	}
	if (p[0] == 0x55) {				/* push %rbp */
		if (st->fp.where != TRAMP_SAME)
			return "rbp pushed twice";
		st->cfa_off += 8;
		st->fp = loc_cfa(-st->cfa_off);
		*len = 1;
		return st->cfa_off > MAX_DEPTH ? "stack too deep" : NULL;
	}
	if (n >= 3 && p[0] == 0x48 &&
	    ((p[1] == 0x89 && p[2] == 0xe5) ||
	     (p[1] == 0x8b && p[2] == 0xec))) {		/* mov %rsp,%rbp */
		st->fp_is_frame = true;
		st->fp_cfa = st->cfa_off;
		*len = 3;
		return NULL;
	}
	if (p[0] == 0x5d) {				/* pop %rbp */
		if (st->fp.where != TRAMP_AT_CFA || st->fp.off != -st->cfa_off)
			return "pop %rbp does not match its push";
		st->cfa_off -= 8;
		st->fp = loc_same();
		st->fp_is_frame = false;
		*len = 1;
		return NULL;
	}
	if (p[0] == 0xc9) {				/* leave */
		if (!st->fp_is_frame || st->fp.where != TRAMP_AT_CFA ||
		    st->fp.off != -st->fp_cfa)
			return "leave without a frame";
		st->cfa_off = st->fp_cfa - 8;
		st->fp = loc_same();
		st->fp_is_frame = false;
		*len = 1;
		return NULL;
	}
	if ((n >= 2 && p[0] == 0xff && p[1] >= 0xd0 && p[1] <= 0xd7) ||
	    (n >= 3 && p[0] == 0x41 && p[1] == 0xff && p[2] >= 0xd0 &&
	     p[2] <= 0xd7)) {				/* call *%reg */
		if (p[0] == 0xff && p[1] == 0xd4)
			return "call *%rsp";
		st->calls++;
		*len = p[0] == 0x41 ? 3 : 2;
		return NULL;
	}
	if (p[0] == 0xc3) {				/* ret */
		if (st->cfa_off != 8 || st->fp.where != TRAMP_SAME)
			return "ret with an unbalanced stack";
		st->done = true;
		*len = 1;
		return NULL;
	}
	return "unknown instruction";
adjust:
	if (p[2] == 0xc4)
		imm = -imm;
	if (imm == INT32_MIN)
		return "bad stack adjustment";
	st->cfa_off += imm;
	if (st->cfa_off < 8 || st->cfa_off > MAX_DEPTH)
		return "stack pointer moves above the return address";
	if (st->fp.where == TRAMP_AT_CFA && -st->fp.off > st->cfa_off)
		return "stack released over the saved rbp";
	return NULL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* imm7 of an LDP/STP, scaled for 64-bit registers. */
static int32_t a64_pair_imm(uint32_t insn)
{
	int32_t imm = (int32_t)((insn >> 15) & 0x7f);

	if (imm & 0x40)
		imm -= 0x80;
	return imm * 8;
}

static const char *a64_step(uint32_t insn, struct tstate *st,
			    struct tramp_rule *r)
{
	unsigned rt = insn & 31, rn = (insn >> 5) & 31,
		 rt2 = (insn >> 10) & 31;
	int32_t imm;

	if ((insn & 0xfffff01f) == 0xd503201f) {	/* hint #n */
		switch ((insn >> 5) & 0x7f) {
		case 0:				/* nop */
		case 32: case 34: case 36: case 38:	/* bti [c|j|jc] */
		case 29: case 31:		/* autiasp, autibsp */
			return NULL;
		case 25: case 27:		/* paciasp, pacibsp */
			r->ra_signed = true;
			return NULL;
		default:
			return "unknown hint";
		}
	}
	if (st->done)
		return "code after ret";
	if ((insn & 0xffc00000) == 0xa9800000) {	/* stp ..,[sp,#-n]! */
		imm = a64_pair_imm(insn);
		if (rn != A64_SP || rt != A64_FP || rt2 != A64_LR || imm >= 0)
			return "unknown stp";
		if (st->fp.where != TRAMP_SAME)
			return "x29 saved twice";
		st->cfa_off -= imm;
		st->fp = loc_cfa(-st->cfa_off);
		st->ra = loc_cfa(-st->cfa_off + 8);
		return st->cfa_off > MAX_DEPTH ? "stack too deep" : NULL;
	}
	if ((insn & 0xffc00000) == 0xa8c00000) {	/* ldp ..,[sp],#n */
		imm = a64_pair_imm(insn);
		if (rn != A64_SP || rt != A64_FP || rt2 != A64_LR ||
		    imm != st->cfa_off || st->fp.where != TRAMP_AT_CFA ||
		    st->fp.off != -st->cfa_off)
			return "ldp does not match its stp";
		st->cfa_off = 0;
		st->fp = loc_same();
		st->ra = loc_reg(A64_LR);
		return NULL;
	}
	if (insn == 0x910003fd)				/* mov x29, sp */
		return NULL;
	if ((insn & 0xff8003ff) == 0xd10003ff ||	/* sub sp, sp, #n */
	    (insn & 0xff8003ff) == 0x910003ff) {	/* add sp, sp, #n */
		imm = (int32_t)((insn >> 10) & 0xfff);
		if (insn & (1u << 22))
			imm <<= 12;
		st->cfa_off += (insn & 0x40000000) ? imm : -imm;
		if (st->cfa_off < 0 || st->cfa_off > MAX_DEPTH)
			return "bad stack adjustment";
		if (st->fp.where == TRAMP_AT_CFA && -st->fp.off > st->cfa_off)
			return "stack released over the saved x29";
		return NULL;
	}
	if ((insn & 0xfffffc1f) == 0xd63f0000) {	/* blr xN */
		if (rn == A64_LR || st->ra.where != TRAMP_AT_CFA)
			return "blr before the link register is saved";
		st->calls++;
		return NULL;
	}
	if (insn == 0xd65f03c0 || insn == 0xd65f0bff ||
	    insn == 0xd65f0fff) {			/* ret, retaa, retab */
		if (st->cfa_off != 0 || st->fp.where != TRAMP_SAME ||
		    st->ra.where != TRAMP_IN_REG)
			return "ret with an unbalanced stack";
		if (insn != 0xd65f03c0)
			r->ra_signed = true;
		st->done = true;
		return NULL;
	}
	return "unknown instruction";
}

int tramp_decode(uint16_t machine, const uint8_t *code, size_t size,
		 struct tramp_rule *rule, struct pm_error *err)
{
	struct tstate st = { 0 };
	unsigned cfa_reg;
	size_t off = 0, len = 0;
	const char *why = NULL;

	memset(rule, 0, sizeof(*rule));
	rule->machine = machine;
	if (size > TRAMP_MAX_SIZE)
		return pm_error_set(err, PM_ELIMIT,
				    "trampoline template of %zu bytes (at most %d expected)",
				    size, TRAMP_MAX_SIZE);
	if (machine == EM_X86_64) {
		cfa_reg = X86_RSP;
		st.cfa_off = 8;
		st.ra = loc_cfa(-8);
	} else if (machine == EM_AARCH64) {
		cfa_reg = A64_SP;
		st.ra = loc_reg(A64_LR);
		if (size % 4)
			return pm_error_set(err, PM_EUNSUPPORTED,
					    "aarch64 trampoline template of %zu bytes, not a multiple of 4",
					    size);
	} else {
		return pm_error_set(err, PM_EUNSUPPORTED,
				    "trampoline template for ELF machine %u",
				    machine);
	}
	st.fp = loc_same();
	while (off < size) {
		struct tstate before = st;

		if (machine == EM_X86_64) {
			why = x86_step(code + off, size - off, &st, &len);
		} else {
			why = a64_step(le32(code + off), &st, rule);
			len = 4;
		}
		if (why)
			return bad(err, why, code, size, off);
		if (st.calls > 1)
			return bad(err, "more than one call", code, size, off);
		if (st.calls == 1 && before.calls == 0)
			rule->ret_off = (uint32_t)(off + len);
		/* The state before an instruction holds for its bytes. */
		if (add_row(rule, &before, cfa_reg, (uint32_t)off,
			    (uint32_t)(off + len)) < 0)
			return bad(err, "too many instructions", code, size,
				   off);
		off += len;
	}
	if (!st.done)
		return pm_error_set(err, PM_EUNSUPPORTED,
				    "trampoline template of %zu bytes has no final ret",
				    size);
	if (st.calls != 1)
		return pm_error_set(err, PM_EUNSUPPORTED,
				    "trampoline template of %zu bytes has no indirect call",
				    size);
	rule->size = (uint32_t)size;
	return 0;
}

const struct tramp_row *tramp_row_at(const struct tramp_rule *rule,
				     uint64_t off)
{
	size_t i;

	for (i = 0; i < rule->nr_rows; i++)
		if (off >= rule->rows[i].start && off < rule->rows[i].end)
			return &rule->rows[i];
	return NULL;
}

static int loc_text(const struct tramp_loc *l, const char *same, char *buf,
		    size_t size)
{
	switch (l->where) {
	case TRAMP_AT_CFA:
		return snprintf(buf, size, "[CFA%+d]", (int)l->off);
	case TRAMP_IN_REG:
		return snprintf(buf, size, "r%u", l->reg);
	default:
		return snprintf(buf, size, "%s", same);
	}
}

void tramp_describe(const struct tramp_rule *rule, char *buf, size_t size)
{
	const struct tramp_row *row = tramp_row_at(rule, rule->ret_off);
	char ra[24], fp[24];

	if (!size)
		return;
	if (!row) {
		snprintf(buf, size, "(no rule)");
		return;
	}
	loc_text(&row->ra, "same", ra, sizeof(ra));
	loc_text(&row->fp, "same", fp, sizeof(fp));
	snprintf(buf, size, "%s, %u bytes, at return +%u: CFA=%s%+d RA=%s %s=%s%s",
		 rule->machine == EM_X86_64 ? "x86-64" : "aarch64",
		 rule->size, rule->ret_off,
		 rule->machine == EM_X86_64 ? "rsp" : "sp", (int)row->cfa_off,
		 ra, rule->machine == EM_X86_64 ? "rbp" : "x29", fp,
		 rule->ra_signed ? " (PAC)" : "");
}
