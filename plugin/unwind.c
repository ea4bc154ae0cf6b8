/*
 * unwind.c - DWARF unwinding of sampled user stacks, with our own stepper.
 *
 * perf's libdw path builds a Dwfl per sample and lets libdwfl re-derive
 * every frame's rule from the CFI each time; it also cannot step through
 * CPython's trampoline copies (anonymous memory, no CFI), so the stack ends
 * at the first Python frame. Here each step is done by hand
 * (reference/perf-data-libdw-traceevent.md 2.5):
 *
 *   - the pc's map gives the binary (struct dso, shared with symbols.c) and
 *     the ELF vaddr; the binary's .eh_frame (else .debug_frame) rule for
 *     it is compiled once and cached per (binary, vaddr) (cfi.h): samples
 *     repeat the same return addresses, so most steps are a hash lookup
 *     and a few loads from the stack copy;
 *   - a pc inside a "py::" perf-map entry is stepped with the rule decoded
 *     from the interpreter's trampoline template (tramp.h);
 *   - code with neither (vdso without a file, other JIT code) falls back to
 *     the frame-pointer chain, accepted only when it lands in mapped code.
 *
 * Memory reads are served from the sample's stack copy, then from the
 * mapped ELF files; nothing else is readable. Frame 0 uses the pc as-is,
 * callers pc - 1 (the call instruction), except after a signal frame.
 */
#include "unwind.h"

#include <dwarf.h>
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cfi.h"
#include "idmap.h"
#include "stitch.h"
#include "tramp.h"

#define UNWIND_MAX_DEPTH 1024
#define NREGS CFI_MAX_REGS
#define MAX_WARNINGS 32
#define EXPR_STACK 16
#define STACK_SLACK (16u << 20)	/* reads this far above the copy are
				   "stack copy too small" */

#define X86_RBP 6
#define X86_RSP 7
#define X86_RIP 16
#define A64_FP 29
#define A64_LR 30
#define A64_SP 31
#define A64_VA_MASK ((UINT64_C(1) << 48) - 1)

struct unwinder {
	struct symbols *syms;
	int slot;			/* ours in proc->priv[] */
	struct idmap bin_ids;		/* dso pointer -> index in bins */
	struct cfi_bin **bins;
	size_t nr_bins, bins_alloc;
	char **warnings;		/* NULL-terminated */
	size_t nr_warnings, warnings_alloc;
	struct stitcher *stitch;	/* created on first use */
};

/* Per-map resolution, indexed like proc->maps. */
struct mslot {
	struct cfi_bin *cfi;
	uint64_t bias;			/* vaddr = addr - bias */
	bool resolved;
};

/* Per-process state in proc->priv[u->slot]: map slots valid for
 * maps_gen, the rest for code_gen. */
struct uproc {
	unsigned maps_gen, code_gen;
	uint16_t machine;		/* 0 until known */
	struct mslot *mslots;
	size_t mslots_alloc;
	bool tramp_searched, warned_no_tramp;
	const struct tramp_rule *tramp;
};

struct uregs {
	uint64_t v[NREGS];
	uint64_t valid;			/* bit per register */
	uint64_t pc;
};

/* One unwind in progress. */
struct uctx {
	struct unwinder *u;
	struct proc *p;
	struct uproc *up;
	const struct pymap *const *pms;	/* own map, then ancestors' */
	uint16_t machine;
	unsigned sp_reg, nregs;
	uint64_t sp0;
	const uint8_t *stack;
	uint64_t dyn;
	const char *read_why;		/* why the last read failed */
	struct map *last_map;		/* find_map() cache: maps do not
					   change during one unwind */
};

/* proc_find_map() with a one-entry cache: consecutive frames, and the
 * reads of one frame, mostly fall in the same mapping. */
static struct map *find_map(struct uctx *x, uint64_t addr)
{
	struct map *m = x->last_map;

	if (m && addr >= m->start && addr < m->end)
		return m;
	m = proc_find_map(x->p, addr);
	if (m)
		x->last_map = m;
	return m;
}

/* ---- warnings ---- */

static void warn(struct unwinder *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct unwinder *u, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t i;
	char *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; i < u->nr_warnings; i++)
		if (strcmp(u->warnings[i], buf) == 0)
			return;
	if (u->nr_warnings >= MAX_WARNINGS ||
	    grow_array((void **)&u->warnings, &u->warnings_alloc,
		       u->nr_warnings + 2, sizeof(*u->warnings),
		       MAX_WARNINGS + 1) < 0)
		return;
	s = strdup(buf);
	if (!s)
		return;
	u->warnings[u->nr_warnings++] = s;
	u->warnings[u->nr_warnings] = NULL;
}

const char *const *unwinder_warnings(const struct unwinder *u)
{
	static const char *const none[] = { NULL };

	return u && u->warnings ? (const char *const *)u->warnings : none;
}

/* ---- per-binary CFI ---- */

static struct cfi_bin *bin_get(struct unwinder *u, struct dso *d)
{
	bool added;
	long k = idmap_slot(&u->bin_ids, (uintptr_t)d, (void **)&u->bins,
			    &u->nr_bins, &u->bins_alloc, sizeof(*u->bins),
			    &added);

	if (k < 0)
		return NULL;
	if (!u->bins[k])	/* new, or cfi_bin_new failed before */
		u->bins[k] = cfi_bin_new(d);
	return u->bins[k];
}

/* ---- per-process state ---- */

static void unwinder_proc_free(void *priv)
{
	struct uproc *up = priv;

	if (!up)
		return;
	free(up->mslots);
	free(up);
}

static struct uproc *uproc_get(struct unwinder *u, struct proc *p)
{
	struct uproc *up = p->priv[u->slot];

	if (!up) {
		up = calloc(1, sizeof(*up));
		if (!up)
			return NULL;
		up->maps_gen = p->maps_gen;
		up->code_gen = p->code_gen;
		p->priv[u->slot] = up;
	}
	if (up->code_gen != p->code_gen) {
		/* the trampoline template and the machine only change with
		 * the executable maps (exec frees this state altogether) */
		up->code_gen = p->code_gen;
		up->tramp_searched = up->warned_no_tramp = false;
		up->tramp = NULL;
		up->machine = 0;
	}
	if (up->maps_gen != p->maps_gen) {
		/* Map slots are indexed by map position, so they go on every
		 * change, data maps included (--call-graph dwarf records
		 * [heap] growth and anonymous memory all the time). */
		if (up->mslots)
			memset(up->mslots, 0,
			       up->mslots_alloc * sizeof(*up->mslots));
		up->maps_gen = p->maps_gen;
	}
	return up;
}

static struct mslot *map_slot(struct uctx *x, struct map *m)
{
	struct uproc *up = x->up;
	size_t idx = (size_t)(m - x->p->maps), old = up->mslots_alloc;
	struct mslot *ms;

	if (idx >= up->mslots_alloc) {
		if (grow_array((void **)&up->mslots, &up->mslots_alloc,
			       x->p->nr_maps, sizeof(*up->mslots),
			       SIZE_MAX / sizeof(*up->mslots)) < 0)
			return NULL;
		memset(up->mslots + old, 0,
		       (up->mslots_alloc - old) * sizeof(*up->mslots));
	}
	ms = &up->mslots[idx];
	if (ms->resolved)
		return ms;
	ms->resolved = true;
	if (map_is_file(m)) {
		struct dso *d = symbols_dso(x->u->syms, m->path,
					    m->build_id_size ? m->build_id
							     : NULL,
					    m->build_id_size);

		if (d)
			ms->cfi = bin_get(x->u, d);
	}
	ms->bias = cfi_bin_bias(ms->cfi, m->start, m->pgoff);
	return ms;
}

/* The template rule for this process: from the first mapped binary that
 * defines _Py_trampoline_func_start, trying "python" binaries first. */
static const struct tramp_rule *proc_tramp(struct uctx *x)
{
	struct pm_error err;
	size_t pass, i;
	int rc;

	if (x->up->tramp_searched)
		return x->up->tramp;
	x->up->tramp_searched = true;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < x->p->nr_maps; i++) {
			struct map *m = &x->p->maps[i];
			struct mslot *ms;

			if (!m->exec || !map_is_file(m) ||
			    (pass == 0) != (strstr(m->path, "python") != NULL))
				continue;
			ms = map_slot(x, m);
			if (!ms || !ms->cfi ||
			    cfi_bin_machine(ms->cfi) != x->machine)
				continue;
			rc = cfi_bin_tramp(ms->cfi, &x->up->tramp, &err);
			if (rc < 0)
				warn(x->u, "unknown perf trampoline template: %s; "
				     "Python frames are cut there", err.msg);
			if (rc != 0)
				return x->up->tramp;
		}
	}
	if (!x->up->warned_no_tramp) {
		x->up->warned_no_tramp = true;
		warn(x->u, "pid %u: perf map has Python frames but no mapped "
		     "binary defines _Py_trampoline_func_start; Python frames "
		     "are cut there", x->p->pid);
	}
	return NULL;
}

/* ---- memory and expressions ---- */

static bool mem_read(struct uctx *x, uint64_t addr, uint64_t *val)
{
	struct map *m;
	struct mslot *ms;

	if (addr >= x->sp0 && x->dyn >= 8 && addr - x->sp0 <= x->dyn - 8) {
		memcpy(val, x->stack + (addr - x->sp0), sizeof(*val));
		return true;
	}
	m = find_map(x, addr);
	if (m && m->end - addr >= 8 && (ms = map_slot(x, m)) && ms->cfi &&
	    dso_read(cfi_bin_dso(ms->cfi), addr - ms->bias, val, sizeof(*val)))
		return true;
	if (addr >= x->sp0 && addr - x->sp0 < x->dyn + STACK_SLACK)
		x->read_why = "stack copy too small";
	else
		x->read_why = "read outside the stack copy and mapped files";
	return false;
}

/* Evaluate a CFI expression. cfa is pushed by DW_OP_call_frame_cfa.
 * Returns false on anything unsupported or unreadable. */
static bool eval_ops(struct uctx *x, const Dwarf_Op *ops, size_t nops,
		     const struct uregs *st, uint64_t cfa, uint64_t *out)
{
	uint64_t s[EXPR_STACK], a, b;
	size_t n = 0, i;

	for (i = 0; i < nops; i++) {
		uint8_t op = ops[i].atom;

		if (n == EXPR_STACK)
			return false;
		if (op >= DW_OP_lit0 && op <= DW_OP_lit31) {
			s[n++] = op - DW_OP_lit0;
			continue;
		}
		if (op >= DW_OP_breg0 && op <= DW_OP_breg31) {
			unsigned r = op - DW_OP_breg0;

			if (r >= x->nregs || !(st->valid >> r & 1))
				return false;
			s[n++] = st->v[r] + ops[i].number;
			continue;
		}
		switch (op) {
		case DW_OP_call_frame_cfa:
			s[n++] = cfa;
			continue;
		case DW_OP_bregx:
			if (ops[i].number >= x->nregs ||
			    !(st->valid >> ops[i].number & 1))
				return false;
			s[n++] = st->v[ops[i].number] + ops[i].number2;
			continue;
		case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u:
		case DW_OP_const8u: case DW_OP_constu: case DW_OP_const1s:
		case DW_OP_const2s: case DW_OP_const4s: case DW_OP_const8s:
		case DW_OP_consts:
			s[n++] = ops[i].number;
			continue;
		case DW_OP_dup:
		case DW_OP_over:
			if (n < (op == DW_OP_dup ? 1u : 2u))
				return false;
			s[n] = s[n - (op == DW_OP_dup ? 1 : 2)];
			n++;
			continue;
		case DW_OP_swap:
			if (n < 2)
				return false;
			a = s[n - 1];
			s[n - 1] = s[n - 2];
			s[n - 2] = a;
			continue;
		case DW_OP_nop:
			continue;
		case DW_OP_stack_value:
			i = nops;	/* the caller looks at the last op */
			continue;
		default:
			break;
		}
		if (!n)
			return false;
		a = s[n - 1];
		switch (op) {
		case DW_OP_deref:
			if (!mem_read(x, a, &s[n - 1]))
				return false;
			continue;
		case DW_OP_plus_uconst:
			s[n - 1] = a + ops[i].number;
			continue;
		case DW_OP_neg:
			s[n - 1] = -a;
			continue;
		case DW_OP_not:
			s[n - 1] = ~a;
			continue;
		case DW_OP_drop:
			n--;
			continue;
		default:
			break;
		}
		if (n < 2)
			return false;
		b = s[n - 2];	/* second from top: "b op a" */
		n--;
		switch (op) {
		case DW_OP_plus: s[n - 1] = b + a; break;
		case DW_OP_minus: s[n - 1] = b - a; break;
		case DW_OP_mul: s[n - 1] = b * a; break;
		case DW_OP_and: s[n - 1] = b & a; break;
		case DW_OP_or: s[n - 1] = b | a; break;
		case DW_OP_xor: s[n - 1] = b ^ a; break;
		case DW_OP_shl: s[n - 1] = a < 64 ? b << a : 0; break;
		case DW_OP_shr: s[n - 1] = a < 64 ? b >> a : 0; break;
		case DW_OP_ge: s[n - 1] = (int64_t)b >= (int64_t)a; break;
		case DW_OP_gt: s[n - 1] = (int64_t)b > (int64_t)a; break;
		case DW_OP_le: s[n - 1] = (int64_t)b <= (int64_t)a; break;
		case DW_OP_lt: s[n - 1] = (int64_t)b < (int64_t)a; break;
		case DW_OP_eq: s[n - 1] = b == a; break;
		case DW_OP_ne: s[n - 1] = b != a; break;
		default:
			return false;
		}
	}
	if (!n)
		return false;
	*out = s[n - 1];
	return true;
}

/* ---- steps ---- */

enum { STEP_FAIL = -1, STEP_END = 0, STEP_OK = 1 };

/* Caller state from a compiled CFI rule. */
static int step_cfi(struct uctx *x, const struct cfi_rule *r,
		    const struct uregs *st, struct uregs *nw, const char **why)
{
	uint64_t cfa, val;
	size_t i;

	if (r->cfa_ops) {
		if (!eval_ops(x, r->cfa_ops, r->cfa_nops, st, 0, &cfa))
			goto bad;
	} else {
		if (!(st->valid >> r->cfa_reg & 1))
			goto bad;
		cfa = st->v[r->cfa_reg] + (uint64_t)r->cfa_off;
	}
	if (r->undef >> r->ra_reg & 1)
		return STEP_END;	/* _start, thread start: RA undefined */
	*nw = *st;
	nw->valid &= ~r->undef;
	nw->v[x->sp_reg] = cfa;		/* SP = CFA unless a rule says */
	nw->valid |= UINT64_C(1) << x->sp_reg;
	for (i = 0; i < r->nrules; i++) {
		const struct cfi_reg_rule *rr = &r->rules[i];
		bool ok;

		switch (rr->kind) {
		case CFI_AT_CFA:
			ok = mem_read(x, cfa + (uint64_t)rr->off, &val);
			break;
		case CFI_VAL_CFA:
			val = cfa + (uint64_t)rr->off;
			ok = true;
			break;
		case CFI_REG:
			val = st->v[rr->off];
			ok = st->valid >> rr->off & 1;
			break;
		case CFI_EXPR:
			ok = eval_ops(x, rr->ops, rr->nops, st, cfa, &val) &&
			     mem_read(x, val, &val);
			break;
		default:
			ok = eval_ops(x, rr->ops, rr->nops, st, cfa, &val);
			break;
		}
		if (ok) {
			nw->v[rr->regno] = val;
			nw->valid |= UINT64_C(1) << rr->regno;
		} else {
			nw->valid &= ~(UINT64_C(1) << rr->regno);
			if (rr->regno == r->ra_reg) {
				*why = x->read_why ? x->read_why
						   : "cannot recover the return address";
				return STEP_FAIL;
			}
		}
	}
	if (!(nw->valid >> r->ra_reg & 1)) {
		*why = "return address not available";
		return STEP_FAIL;
	}
	nw->pc = nw->v[r->ra_reg];
	if (x->machine == EM_AARCH64)	/* PAC-signed LR: keep the address */
		nw->pc &= A64_VA_MASK;
	return STEP_OK;
bad:
	*why = x->read_why ? x->read_why : "cannot compute the CFA";
	return STEP_FAIL;
}

/* Load a tramp_loc value; *ok false if unavailable. */
static uint64_t tramp_value(struct uctx *x, const struct tramp_loc *l,
			    const struct uregs *st, uint64_t cfa,
			    unsigned reg, bool *ok)
{
	uint64_t v = 0;

	switch (l->where) {
	case TRAMP_AT_CFA:
		*ok = mem_read(x, cfa + (uint64_t)(int64_t)l->off, &v);
		return v;
	case TRAMP_IN_REG:
		reg = l->reg;
		/* fall through */
	default:
		*ok = reg < x->nregs && (st->valid >> reg & 1);
		return *ok ? st->v[reg] : 0;
	}
}

static int step_tramp(struct uctx *x, const struct pymap_entry *e,
		      bool frame0, const struct uregs *st, struct uregs *nw,
		      const char **why)
{
	/* a jitdump gives each copy its own rule (jitdump.h) */
	const struct tramp_rule *t = e->rule && e->rule->machine == x->machine
				     ? e->rule : proc_tramp(x);
	const struct tramp_row *row;
	uint64_t off = st->pc - e->start, cfa, ra, fp;
	unsigned fpreg = x->machine == EM_X86_64 ? X86_RBP : A64_FP;
	bool ok;

	if (!t) {
		*why = "unknown trampoline template";
		return STEP_FAIL;
	}
	if (!frame0 && t->ret_off != TRAMP_RET_ANY && off != t->ret_off) {
		*why = "return address inside a trampoline at an unexpected offset";
		return STEP_FAIL;
	}
	row = tramp_row_at(t, off);
	if (!row || row->cfa_reg >= x->nregs ||
	    !(st->valid >> row->cfa_reg & 1)) {
		*why = "pc outside the trampoline template";
		return STEP_FAIL;
	}
	cfa = st->v[row->cfa_reg] + (uint64_t)(int64_t)row->cfa_off;
	ra = tramp_value(x, &row->ra, st, cfa, 0, &ok);
	if (!ok) {
		*why = x->read_why ? x->read_why : "return address not available";
		return STEP_FAIL;
	}
	fp = tramp_value(x, &row->fp, st, cfa, fpreg, &ok);
	*nw = *st;
	nw->valid = ok ? UINT64_C(1) << fpreg : 0;
	nw->v[fpreg] = fp;
	/* callee-saved registers pass through the template untouched */
	if (x->machine == EM_X86_64)
		nw->valid |= st->valid & (UINT64_C(1) << 3 | UINT64_C(0xf) << 12);
	else
		nw->valid |= st->valid & (UINT64_C(0x3ff) << 19);
	nw->v[x->sp_reg] = cfa;
	nw->valid |= UINT64_C(1) << x->sp_reg;
	if (t->ra_signed)
		ra &= A64_VA_MASK;
	nw->pc = ra;
	if (x->machine == EM_AARCH64) {
		nw->v[A64_LR] = ra;
		nw->valid |= UINT64_C(1) << A64_LR;
	}
	return STEP_OK;
}

/* Frame-pointer step for code without CFI; only trusted if it lands in
 * mapped executable code. */
static int step_fp(struct uctx *x, bool frame0, const struct uregs *st,
		   struct uregs *nw, const char **why)
{
	unsigned fpreg = x->machine == EM_X86_64 ? X86_RBP : A64_FP;
	uint64_t fp = st->v[fpreg], nfp, ra;
	struct map *m;

	*why = "no unwind information for the pc";
	*nw = *st;
	nw->valid = 0;
	if (x->machine == EM_AARCH64 && frame0 && (st->valid >> A64_LR & 1)) {
		/* a leaf without a frame: LR still holds the return */
		ra = st->v[A64_LR];
		nw->v[A64_SP] = st->v[A64_SP];
		nw->v[A64_FP] = fp;
		nw->valid = st->valid & (UINT64_C(1) << A64_SP |
					 UINT64_C(1) << A64_FP);
		goto check;
	}
	if (!(st->valid >> fpreg & 1) || fp < st->v[x->sp_reg] ||
	    !mem_read(x, fp, &nfp) || !mem_read(x, fp + 8, &ra))
		return STEP_FAIL;
	nw->v[fpreg] = nfp;
	nw->v[x->sp_reg] = fp + 16;
	nw->valid = UINT64_C(1) << fpreg | UINT64_C(1) << x->sp_reg;
check:
	if (x->machine == EM_AARCH64)
		ra &= A64_VA_MASK;
	m = find_map(x, ra - 1);
	if (!m || !m->exec || (!map_is_file(m) && !pymap_lookup_list(x->pms, ra)))
		return STEP_FAIL;
	nw->pc = ra;
	if (x->machine == EM_AARCH64) {
		nw->v[A64_LR] = ra;
		nw->valid |= UINT64_C(1) << A64_LR;
	}
	return STEP_OK;
}

static int step(struct uctx *x, bool frame0, bool after_signal,
		const struct uregs *st, struct uregs *nw, bool *signal,
		const char **why)
{
	uint64_t look = frame0 || after_signal ? st->pc : st->pc - 1;
	struct map *m = find_map(x, look);
	struct mslot *ms = m ? map_slot(x, m) : NULL;
	const struct pymap_entry *e;
	struct cfi_rule tmp;
	const struct cfi_rule *r;

	*signal = false;
	if (m && map_is_file(m)) {
		if (ms && ms->cfi && cfi_bin_machine(ms->cfi) == x->machine) {
			r = cfi_bin_rule(ms->cfi, x->nregs, look - ms->bias,
					 &tmp);
			if (r->found) {
				*signal = r->signal;
				return step_cfi(x, r, st, nw, why);
			}
			/* A binary with CFI but none for this pc: entry
			 * points like ld.so's _start have no FDE, which is
			 * how libdw ends a normal unwind there too. */
			if (step_fp(x, frame0, st, nw, why) == STEP_OK)
				return STEP_OK;
			return cfi_bin_has_cfi(ms->cfi) ? STEP_END : STEP_FAIL;
		}
		return step_fp(x, frame0, st, nw, why);
	}
	e = pymap_lookup_list(x->pms, look);
	if (e && (e->qualname || e->rule))
		return step_tramp(x, e, frame0, st, nw, why);
	if (!m && !e) {
		*why = "pc outside every known mapping";
		return STEP_FAIL;
	}
	return step_fp(x, frame0, st, nw, why);
}

/* ---- driver ---- */

/* perf register numbers for DWARF 0..16 on x86-64 (section 1.9). */
static const uint8_t x86_perf_of_dwarf[17] = {
	0, 3, 2, 1, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8
};

static uint64_t perf_reg(const struct pd_sample *s, uint64_t mask,
			 unsigned reg, bool *ok)
{
	uint64_t v = 0;

	*ok = pd_reg(s->user_regs, s->nr_user_regs, mask, reg, &v);
	return v;
}

static bool load_regs(struct uctx *x, const struct pd_attr *attr,
		      const struct pd_sample *s, struct uregs *st)
{
	uint64_t mask = attr->sample_regs_user;
	unsigned i;
	bool ok;

	memset(st, 0, sizeof(*st));
	if (x->machine == EM_X86_64) {
		for (i = 0; i < 17; i++) {
			st->v[i] = perf_reg(s, mask, x86_perf_of_dwarf[i], &ok);
			st->valid |= (uint64_t)ok << i;
		}
		st->pc = st->v[X86_RIP];
		return (st->valid >> X86_RIP & 1) && (st->valid >> X86_RSP & 1);
	}
	for (i = 0; i <= A64_SP; i++) {
		st->v[i] = perf_reg(s, mask, i, &ok);
		st->valid |= (uint64_t)ok << i;
	}
	st->pc = perf_reg(s, mask, 32, &ok);
	return ok && (st->valid >> A64_SP & 1);
}

/* The process's machine: its first ELF we can open; else a guess from the
 * register mask (arm64 samples x0..pc, bits 0..32; x86 uses bits < 24). */
static uint16_t proc_machine(struct uctx *x, uint64_t mask)
{
	size_t i;

	if (x->up->machine)
		return x->up->machine;
	for (i = 0; i < x->p->nr_maps; i++) {
		struct map *m = &x->p->maps[i];
		struct mslot *ms;

		if (!m->exec || !map_is_file(m))
			continue;
		ms = map_slot(x, m);
		if (ms && ms->cfi &&
		    (cfi_bin_machine(ms->cfi) == EM_X86_64 ||
		     cfi_bin_machine(ms->cfi) == EM_AARCH64)) {
			x->up->machine = cfi_bin_machine(ms->cfi);
			return x->up->machine;
		}
	}
	x->up->machine = (mask >> 24 & 0xff) ? EM_AARCH64 : EM_X86_64;
	return x->up->machine;
}

static const char why_depth[] = "depth limit";

/* Bytes of the sample's stack copy that hold data. */
static uint64_t stack_len(const struct pd_sample *s)
{
	if (!s->user_stack)
		return 0;
	return s->user_stack_dyn_size < s->user_stack_size ?
	       s->user_stack_dyn_size : s->user_stack_size;
}

/* A frame: its pc and its sp (stitching compares frames by both). */
static int push_frame(struct unwind_result *res, uint64_t ip, uint64_t sp)
{
	size_t alloc = res->alloc;
	int err = grow_array((void **)&res->ips, &alloc, res->nr + 1,
			     sizeof(*res->ips), UNWIND_MAX_DEPTH + 1);

	if (!err && alloc != res->alloc) {
		uint64_t *sps = realloc(res->sps, alloc * sizeof(*sps));

		if (!sps)
			return -PM_ENOMEM;
		res->sps = sps;
		res->alloc = alloc;
	}
	if (err)
		return err;
	res->ips[res->nr] = ip;
	res->sps[res->nr++] = sp;
	return 0;
}

int unwinder_unwind(struct unwinder *u, struct proc *p,
		    const struct pd_attr *attr, const struct pd_sample *s,
		    const struct pymap *const *pms, struct unwind_result *res)
{
	struct uctx x = { .u = u, .p = p, .pms = pms };
	struct uregs st, nw;
	bool signal = false, after_signal = false;
	const char *why = NULL;
	int err = 0, rc;
	size_t depth;

	res->nr = 0;
	res->truncated = false;
	res->why = NULL;
	res->stitched = false;
	res->nr_stitched = 0;
	if (!u || !p || !attr || !s->user_abi || !s->nr_user_regs ||
	    !s->user_regs)
		return 0;
	x.up = uproc_get(u, p);
	if (!x.up)
		return -PM_ENOMEM;
	x.machine = proc_machine(&x, attr->sample_regs_user);
	x.sp_reg = x.machine == EM_X86_64 ? X86_RSP : A64_SP;
	x.nregs = x.machine == EM_X86_64 ? 17 : 32;
	if (!load_regs(&x, attr, s, &st))
		return 0;
	x.sp0 = st.v[x.sp_reg];
	x.stack = s->user_stack;
	x.dyn = stack_len(s);
	if (s->user_abi == 1) {
		/* PERF_SAMPLE_REGS_ABI_32: i386/arm32 register numbering and
		 * CFI differ; keep the ip only */
		err = push_frame(res, st.pc, 0);
		res->truncated = true;
		res->why = "32-bit process";
		return err;
	}
	for (depth = 0;; depth++) {
		if (depth && st.pc == 0)
			break;
		err = push_frame(res, st.pc, st.v[x.sp_reg]);
		if (err == -PM_ELIMIT || depth >= UNWIND_MAX_DEPTH) {
			why = why_depth;
			err = 0;
			goto cut;
		}
		if (err)
			return err;
		x.read_why = NULL;
		rc = step(&x, depth == 0, after_signal, &st, &nw, &signal, &why);
		if (rc == STEP_END)
			break;
		if (rc == STEP_FAIL)
			goto cut;
		if (!signal && !after_signal &&
		    (nw.v[x.sp_reg] < st.v[x.sp_reg] ||
		     (nw.v[x.sp_reg] == st.v[x.sp_reg] && nw.pc == st.pc))) {
			why = "CFA not increasing";
			goto cut;
		}
		after_signal = signal;
		if (x.machine == EM_X86_64) {
			nw.v[X86_RIP] = nw.pc;
			nw.valid |= UINT64_C(1) << X86_RIP;
		}
		st = nw;
	}
	return 0;
cut:
	res->truncated = true;
	res->why = why ? why : "unwind failed";
	return 0;
}

void unwind_result_release(struct unwind_result *res)
{
	if (!res)
		return;
	free(res->ips);
	free(res->sps);
	res->ips = res->sps = NULL;
	res->nr = res->alloc = 0;
}

struct unwinder *unwinder_new(struct symbols *syms, struct session *sess)
{
	struct unwinder *u;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->syms = syms;
	u->slot = session_priv_slot(sess, unwinder_proc_free);
	if (u->slot < 0) {
		free(u);
		return NULL;
	}
	return u;
}

void unwinder_free(struct unwinder *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->nr_bins; i++)
		cfi_bin_free(u->bins[i]);
	free(u->bins);
	idmap_release(&u->bin_ids);
	for (i = 0; i < u->nr_warnings; i++)
		free(u->warnings[i]);
	free(u->warnings);
	stitcher_free(u->stitch);
	free(u);
}

/* ---- stitching (stitch.h) ---- */

_Static_assert(STITCH_MAX_FRAMES <= UNWIND_MAX_DEPTH + 1,
	       "a stitched stack must fit in unwind_result");

int unwinder_stitch(struct unwinder *u, struct proc *p, uint32_t tid,
		    const struct pd_sample *s, struct unwind_result *res)
{
	struct stitch_key key;
	struct stitch_sample smp;
	struct stitch_tail tail;
	size_t i;
	int err;

	/* a 32-bit sample has only its ip */
	if (!u || !p || !res->nr || s->user_abi != 2)
		return 0;
	if (!u->stitch && !(u->stitch = stitcher_new()))
		return -PM_ENOMEM;
	key.pid = p->pid;
	key.tid = tid;
	key.generation = p->generation;
	key.code_gen = p->code_gen;
	smp.ips = res->ips;
	smp.sps = res->sps;
	smp.nr = res->nr;
	smp.stack = s->user_stack;
	smp.stack_addr = res->sps[0];	/* the copy starts at the sampled sp */
	smp.stack_len = stack_len(s);
	/* past the depth limit a stitched stack would only be longer */
	if (res->truncated && res->why != why_depth &&
	    stitcher_find(u->stitch, &key, &smp, &tail)) {
		for (i = 0; i < tail.nr; i++) {
			err = push_frame(res, tail.ips[i], tail.sps[i]);
			if (err)
				return err;	/* ENOMEM: find bounds the depth */
		}
		res->truncated = false;
		res->why = NULL;
		res->stitched = true;
		res->nr_stitched = tail.nr;
		smp.ips = res->ips;
		smp.sps = res->sps;
		smp.nr = res->nr;
	}
	return stitcher_record(u->stitch, &key, &smp, !res->truncated);
}

int unwinder_unwind_thread(struct unwinder *u, struct proc *p, uint32_t tid,
			   const struct pd_attr *attr,
			   const struct pd_sample *s,
			   const struct pymap *const *pms,
			   struct unwind_result *res)
{
	int err = unwinder_unwind(u, p, attr, s, pms, res);

	return err ? err : unwinder_stitch(u, p, tid, s, res);
}

void unwinder_thread_exit(struct unwinder *u, uint32_t pid, uint32_t tid)
{
	if (u)
		stitcher_forget(u->stitch, pid, tid);
}
