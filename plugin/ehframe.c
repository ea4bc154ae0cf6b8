/*
 * ehframe.c - a JIT code copy's unwind rule from its .eh_frame.
 *
 * .eh_frame layout (LSB "Exception Frame", DWARF 4 section 6.4): entries
 * of u32 length (0xffffffff = 64-bit DWARF, not used by JITs) then a u32
 * CIE id (0) or CIE pointer (distance back from the field). A CIE holds
 * version (1 or 3), an augmentation string ("zR" ...), code and data
 * alignment factors, the return-address column and the initial CFA
 * program; an FDE holds pc_begin and pc_range encoded as the CIE's 'R'
 * says, augmentation data, and its CFA program.
 *
 * The program is run symbolically into struct tramp_rule rows, tracking
 * the CFA, the return address and the frame pointer; anything a
 * trampoline cannot need (expressions, other saved registers) is refused
 * rather than approximated. CPython's 3.13 jitdump CIE is "zR", code
 * alignment 1, data alignment -8, RA column 16, pcrel|sdata4, def_cfa
 * rsp+8, offset rip at cfa-8; its FDE: advance 4, def_cfa_offset 16,
 * advance 6, def_cfa_offset 8.
 */
#include "ehframe.h"

#include <elf.h>
#include <string.h>

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#define EH_STATE_DEPTH 4

struct ehcur {
	const uint8_t *p, *end;
	bool ok;
};

struct ehstate {
	unsigned cfa_reg;
	int64_t cfa_off;
	struct tramp_loc ra, fp;
};

struct ehctx {
	unsigned ra_col, fp_col, sp_col;
	uint64_t code_align;
	int64_t data_align;
	struct ehstate init, cur, saved[EH_STATE_DEPTH];
	size_t depth;
	uint64_t loc, size;
	struct tramp_rule *rule;
	const char *why;
};

/* LEB128: the value's bits, and in *shift how many were read. */
static uint64_t eh_leb(struct ehcur *c, unsigned *shift, uint8_t *last)
{
	uint64_t v = 0;
	uint8_t b;

	*shift = 0;
	do {
		if (c->p >= c->end || *shift > 63) {
			c->ok = false;
			*last = 0;
			return 0;
		}
		b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << *shift;
		*shift += 7;
	} while (b & 0x80);
	*last = b;
	return v;
}

static uint64_t eh_uleb(struct ehcur *c)
{
	unsigned shift;
	uint8_t last;

	return eh_leb(c, &shift, &last);
}

static int64_t eh_sleb(struct ehcur *c)
{
	unsigned shift;
	uint8_t last;
	uint64_t v = eh_leb(c, &shift, &last);

	if (shift < 64 && (last & 0x40))
		v |= ~UINT64_C(0) << shift;
	return (int64_t)v;
}

/* n (1, 2, 4, 8) bytes in the writer's order, sign-extended if sgn. */
static uint64_t eh_fixed(struct ehcur *c, size_t n, bool sgn)
{
	uint8_t b1;
	uint16_t b2;
	uint32_t b4;
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->ok = false;
		return 0;
	}
	switch (n) {
	case 1:
		b1 = *c->p;
		v = sgn ? (uint64_t)(int64_t)(int8_t)b1 : b1;
		break;
	case 2:
		memcpy(&b2, c->p, 2);
		v = sgn ? (uint64_t)(int64_t)(int16_t)b2 : b2;
		break;
	case 4:
		memcpy(&b4, c->p, 4);
		v = sgn ? (uint64_t)(int64_t)(int32_t)b4 : b4;
		break;
	default:
		memcpy(&v, c->p, 8);
		break;
	}
	c->p += n;
	return v;
}

/* A DW_EH_PE_* encoded value; the application bits (pcrel, ...) are not
 * applied: only sizes and lengths are used here. */
static uint64_t eh_ptr(struct ehcur *c, uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return eh_fixed(c, 8, false);	/* absptr */
	case 0x01: return eh_uleb(c);
	case 0x02: return eh_fixed(c, 2, false);
	case 0x03: return eh_fixed(c, 4, false);
	case 0x04: return eh_fixed(c, 8, false);
	case 0x09: return (uint64_t)eh_sleb(c);
	case 0x0a: return eh_fixed(c, 2, true);
	case 0x0b: return eh_fixed(c, 4, true);
	case 0x0c: return eh_fixed(c, 8, true);
	default:
		c->ok = false;
		return 0;
	}
}

static bool eh_loc_eq(const struct tramp_loc *a, const struct tramp_loc *b)
{
	return a->where == b->where && a->reg == b->reg && a->off == b->off;
}

/* Append the row [ctx->loc, to) in the current state, checked. */
static bool eh_emit(struct ehctx *x, uint64_t to)
{
	struct tramp_rule *r = x->rule;
	struct ehstate *s = &x->cur;
	struct tramp_row row, *prev;

	if (to > x->size)
		to = x->size;
	if (to <= x->loc)
		return true;
	if (s->cfa_reg != x->sp_col && s->cfa_reg != x->fp_col) {
		x->why = "CFA not from the stack or frame pointer";
		return false;
	}
	if (s->cfa_off < INT32_MIN || s->cfa_off > INT32_MAX) {
		x->why = "CFA offset out of range";
		return false;
	}
	if (!(s->ra.where == TRAMP_AT_CFA ||
	      (s->ra.where == TRAMP_IN_REG && s->ra.reg == 30 &&
	       r->machine == EM_AARCH64))) {
		x->why = "return address neither saved nor in LR";
		return false;
	}
	if (s->fp.where == TRAMP_IN_REG) {
		x->why = "frame pointer kept in another register";
		return false;
	}
	row = (struct tramp_row){
		.start = (uint32_t)x->loc, .end = (uint32_t)to,
		.cfa_reg = s->cfa_reg, .cfa_off = (int32_t)s->cfa_off,
		.ra = s->ra, .fp = s->fp,
	};
	prev = r->nr_rows ? &r->rows[r->nr_rows - 1] : NULL;
	if (prev && prev->cfa_reg == row.cfa_reg &&
	    prev->cfa_off == row.cfa_off && eh_loc_eq(&prev->ra, &row.ra) &&
	    eh_loc_eq(&prev->fp, &row.fp)) {
		prev->end = row.end;
	} else if (r->nr_rows == TRAMP_MAX_ROWS) {
		x->why = "too many rows";
		return false;
	} else {
		r->rows[r->nr_rows++] = row;
	}
	x->loc = to;
	return true;
}

static bool eh_set(struct ehctx *x, uint64_t reg, struct tramp_loc l)
{
	if (reg == x->ra_col) {
		x->cur.ra = l;
	} else if (reg == x->fp_col) {
		x->cur.fp = l;
	} else if (l.where != TRAMP_SAME) {
		/* the unwinder passes other registers through unchanged */
		x->why = "CFI saves a register a trampoline does not";
		return false;
	}
	return true;
}

static bool eh_cfa_reg(struct ehctx *x, uint64_t reg)
{
	if (reg > 127) {
		x->why = "CFA register out of range";
		return false;
	}
	x->cur.cfa_reg = (unsigned)reg;
	return true;
}

/* a data-aligned (factored) offset */
static bool eh_factored(struct ehctx *x, int64_t factored, int64_t *out)
{
	if (__builtin_mul_overflow(factored, x->data_align, out)) {
		x->why = "offset out of range";
		return false;
	}
	return true;
}

static bool eh_offset(struct ehctx *x, uint64_t reg, int64_t factored)
{
	int64_t off;

	if (__builtin_mul_overflow(factored, x->data_align, &off) ||
	    off < INT32_MIN || off > INT32_MAX) {
		x->why = "register offset out of range";
		return false;
	}
	return eh_set(x, reg, (struct tramp_loc){ .where = TRAMP_AT_CFA,
						  .off = (int32_t)off });
}

static bool eh_restore(struct ehctx *x, uint64_t reg)
{
	if (reg == x->ra_col)
		x->cur.ra = x->init.ra;
	else if (reg == x->fp_col)
		x->cur.fp = x->init.fp;
	return true;
}

static bool eh_advance(struct ehctx *x, uint64_t delta, bool rows)
{
	uint64_t to;

	if (!rows) {
		x->why = "location advance in the CIE";
		return false;
	}
	if (delta > (UINT64_MAX - x->loc) / x->code_align) {
		x->why = "location out of range";
		return false;
	}
	to = x->loc + delta * x->code_align;
	if (!eh_emit(x, to))
		return false;
	x->loc = to;
	return true;
}

/* Run a CFA program; rows only for an FDE's. */
static bool eh_run(struct ehctx *x, struct ehcur *c, bool rows,
		   uint16_t machine)
{
	uint64_t reg, v;
	uint8_t op;
	bool ok = true;

	while (ok && c->ok && c->p < c->end && x->loc < x->size) {
		op = *c->p++;
		switch (op & 0xc0) {
		case 0x40:
			ok = eh_advance(x, op & 0x3f, rows);
			continue;
		case 0x80:
			v = eh_uleb(c);
			ok = v <= INT64_MAX && eh_offset(x, op & 0x3f, (int64_t)v);
			continue;
		case 0xc0:
			ok = eh_restore(x, op & 0x3f);
			continue;
		default:
			break;
		}
		switch (op) {
		case 0x00:			/* nop */
			break;
		case 0x02: case 0x03: case 0x04:	/* advance_loc1/2/4 */
			v = eh_fixed(c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4,
				     false);
			ok = c->ok && eh_advance(x, v, rows);
			break;
		case 0x05:			/* offset_extended */
			reg = eh_uleb(c);
			v = eh_uleb(c);
			ok = v <= INT64_MAX && eh_offset(x, reg, (int64_t)v);
			break;
		case 0x2f:			/* GNU_negative_offset_extended */
			reg = eh_uleb(c);
			v = eh_uleb(c);
			ok = v <= INT64_MAX && eh_offset(x, reg, -(int64_t)v);
			break;
		case 0x11:			/* offset_extended_sf */
			reg = eh_uleb(c);
			ok = eh_offset(x, reg, eh_sleb(c));
			break;
		case 0x06:			/* restore_extended */
			ok = eh_restore(x, eh_uleb(c));
			break;
		case 0x07:			/* undefined */
			reg = eh_uleb(c);
			if (reg == x->ra_col || reg == x->fp_col) {
				x->why = "return address or frame pointer "
					 "undefined";
				ok = false;
			}
			break;
		case 0x08:			/* same_value */
			ok = eh_set(x, eh_uleb(c),
				    (struct tramp_loc){ .where = TRAMP_SAME });
			break;
		case 0x09:			/* register */
			reg = eh_uleb(c);
			v = eh_uleb(c);
			ok = v < 64 && eh_set(x, reg, (struct tramp_loc){
				.where = TRAMP_IN_REG, .reg = (unsigned)v });
			break;
		case 0x0a:			/* remember_state */
			if (x->depth == EH_STATE_DEPTH) {
				x->why = "remember_state nested too deep";
				ok = false;
				break;
			}
			x->saved[x->depth++] = x->cur;
			break;
		case 0x0b:			/* restore_state */
			if (!x->depth) {
				x->why = "restore_state without remember_state";
				ok = false;
				break;
			}
			x->cur = x->saved[--x->depth];
			break;
		case 0x0c:			/* def_cfa */
			ok = eh_cfa_reg(x, eh_uleb(c));
			x->cur.cfa_off = (int64_t)eh_uleb(c);
			break;
		case 0x12:			/* def_cfa_sf */
			ok = eh_cfa_reg(x, eh_uleb(c)) &&
			     eh_factored(x, eh_sleb(c), &x->cur.cfa_off);
			break;
		case 0x0d:			/* def_cfa_register */
			ok = eh_cfa_reg(x, eh_uleb(c));
			break;
		case 0x0e:			/* def_cfa_offset */
			x->cur.cfa_off = (int64_t)eh_uleb(c);
			break;
		case 0x13:			/* def_cfa_offset_sf */
			ok = eh_factored(x, eh_sleb(c), &x->cur.cfa_off);
			break;
		case 0x2e:			/* GNU_args_size */
			(void)eh_uleb(c);
			break;
		case 0x2d:			/* aarch64 negate_ra_state */
			if (machine != EM_AARCH64) {
				x->why = "unsupported CFA instruction 0x2d";
				ok = false;
				break;
			}
			x->rule->ra_signed = true;
			break;
		default:
			/* set_loc, expressions, val_offset: not trampolines */
			x->why = "unsupported CFA instruction";
			ok = false;
			break;
		}
	}
	if (ok && !c->ok) {
		x->why = "CFA program runs past its entry";
		ok = false;
	}
	return ok;
}

/* Bounds of the .eh_frame entry at pos: *body just after the length,
 * *end after the entry. false if it does not fit or is 64-bit DWARF. */
static bool eh_entry(const uint8_t *eh, size_t len, size_t pos,
		     const uint8_t **body, const uint8_t **end, uint32_t *elen)
{
	if (len < 4 || pos > len - 4)
		return false;
	*elen = get32(eh + pos);
	if (*elen == 0xffffffffu || *elen > len - pos - 4 || *elen < 4)
		return false;
	*body = eh + pos + 4;
	*end = *body + *elen;
	return true;
}

int ehframe_rule(uint16_t machine, const uint8_t *eh, size_t len,
			  uint64_t code_size, struct tramp_rule *rule,
			  struct pm_error *err)
{
	struct ehctx x = { .rule = rule };
	struct ehcur c, cie;
	const uint8_t *body, *end, *cbody, *cend, *aug;
	uint32_t elen, id;
	uint8_t fde_enc = 0, version;
	uint64_t range, auglen;
	size_t pos = 0;
	bool zaug;

	memset(rule, 0, sizeof(*rule));
	/* the first FDE */
	for (;;) {
		if (!eh_entry(eh, len, pos, &body, &end, &elen))
			return pm_error_set(err, PM_EUNSUPPORTED, ".eh_frame "
					    "+%zu: no FDE", pos);
		id = get32(body);
		if (id != 0)
			break;
		pos += 4 + (size_t)elen;
	}
	if (id > pos + 4 || !eh_entry(eh, len, pos + 4 - id, &cbody, &cend,
				       &elen) || get32(cbody) != 0)
		return pm_error_set(err, PM_ECORRUPT, ".eh_frame +%zu: FDE "
				    "without a CIE", pos);
	/* CIE: id, version, augmentation, alignments, RA column, data */
	cie = (struct ehcur){ .p = cbody + 4, .end = cend, .ok = true };
	version = (uint8_t)eh_fixed(&cie, 1, false);
	aug = cie.p;
	while (cie.p < cie.end && *cie.p)
		cie.p++;
	if (!cie.ok || cie.p == cie.end || (version != 1 && version != 3))
		goto bad_cie;
	cie.p++;
	zaug = aug[0] == 'z';
	if (aug[0] && !zaug)
		goto bad_cie;
	x.code_align = eh_uleb(&cie);
	x.data_align = eh_sleb(&cie);
	x.ra_col = version == 1 ? (unsigned)eh_fixed(&cie, 1, false)
				: (unsigned)eh_uleb(&cie);
	if (zaug) {
		const uint8_t *data;
		const char *a;

		auglen = eh_uleb(&cie);
		if (!cie.ok || auglen > (uint64_t)(cie.end - cie.p))
			goto bad_cie;
		data = cie.p;
		for (a = (const char *)aug + 1; *a && cie.ok; a++) {
			if (*a == 'R') {
				fde_enc = (uint8_t)eh_fixed(&cie, 1, false);
			} else if (*a == 'L') {
				(void)eh_fixed(&cie, 1, false);
			} else if (*a == 'P') {
				uint8_t enc = (uint8_t)eh_fixed(&cie, 1, false);

				(void)eh_ptr(&cie, enc);
			} else if (*a != 'S' && *a != 'B' && *a != 'G') {
				goto bad_cie;
			}
		}
		cie.p = data + auglen;
	}
	if (!cie.ok || x.code_align == 0 || x.code_align > 64)
		goto bad_cie;
	if (!machine)
		machine = x.ra_col == 16 ? EM_X86_64 :
			  x.ra_col == 30 ? EM_AARCH64 : 0;
	if (machine == EM_X86_64 && x.ra_col == 16) {
		x.fp_col = 6;
		x.sp_col = 7;
	} else if (machine == EM_AARCH64 && x.ra_col == 30) {
		x.fp_col = 29;
		x.sp_col = 31;
	} else {
		return pm_error_set(err, PM_EUNSUPPORTED, ".eh_frame: return "
				    "address column %u for machine %u",
				    x.ra_col, machine);
	}
	rule->machine = machine;
	/* FDE: CIE pointer, pc_begin (unused), pc_range, augmentation */
	c = (struct ehcur){ .p = body + 4, .end = end, .ok = true };
	(void)eh_ptr(&c, fde_enc);
	range = eh_ptr(&c, fde_enc & 0x0f);
	if (zaug) {
		auglen = eh_uleb(&c);
		if (c.ok && auglen <= (uint64_t)(c.end - c.p))
			c.p += auglen;
		else
			c.ok = false;
	}
	if (!c.ok || range == 0)
		return pm_error_set(err, PM_ECORRUPT, ".eh_frame +%zu: bad FDE",
				    pos);
	x.size = range < code_size ? range : code_size;
	if (x.size == 0 || x.size > TRAMP_MAX_SIZE * 64)
		return pm_error_set(err, PM_EUNSUPPORTED, ".eh_frame +%zu: "
				    "FDE for %llu bytes", pos,
				    (unsigned long long)x.size);
	/* the CIE's initial rules, then the FDE's rows */
	x.cur.ra.where = TRAMP_SAME;
	x.cur.fp.where = TRAMP_SAME;
	if (!eh_run(&x, &cie, false, machine))
		goto bad_prog;
	if (x.cur.ra.where == TRAMP_SAME && machine == EM_AARCH64)
		x.cur.ra = (struct tramp_loc){ .where = TRAMP_IN_REG,
					       .reg = 30 };
	x.init = x.cur;
	if (!eh_run(&x, &c, true, machine) || !eh_emit(&x, x.size))
		goto bad_prog;
	rule->size = (uint32_t)x.size;
	rule->ret_off = TRAMP_RET_ANY;
	return 0;
bad_cie:
	return pm_error_set(err, PM_EUNSUPPORTED, ".eh_frame +%zu: CIE not "
			    "understood", (size_t)(cbody - 4 - eh));
bad_prog:
	memset(rule, 0, sizeof(*rule));
	return pm_error_set(err, PM_EUNSUPPORTED, ".eh_frame +%zu: %s", pos,
			    x.why ? x.why : "bad CFA program");
}
