/*
 * cfi.c - per-binary unwind rules from libdw's CFI, cached per pc.
 *
 * libdwfl's own stepper redoes dwarf_cfi_addrframe() (FDE search plus the
 * CIE/FDE program up to the pc) for every frame of every sample. Here the
 * result for a pc is compiled once into a struct cfi_rule: the CFA as
 * register + offset (or libdw's interned expression), and only the
 * registers whose rule is not "same value". Samples keep hitting the same
 * return addresses, so most frames cost one hash lookup.
 *
 * dwarf_frame_register() conventions (libdw/dwarf_frame_register.c):
 * nops 0 with ops == NULL is "same value", nops 0 with ops == ops_mem is
 * "undefined"; offset rules come back as [DW_OP_call_frame_cfa,
 * DW_OP_plus_uconst N (two's complement for negative N)] with a trailing
 * DW_OP_stack_value for val_offset; a register rule as [DW_OP_regx R];
 * expressions are interned in the CFI (valid until dwarf_cfi_end).
 */
#include "cfi.h"

#include <dwarf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"

#define MAX_LOADS 16
#define RULES_CAP (1u << 16)	/* cached pcs per binary (~250 B each) */

enum { TRAMP_UNKNOWN, TRAMP_NONE, TRAMP_OK, TRAMP_BAD };

struct rule_slot {
	uint64_t vaddr;
	struct cfi_rule *r;		/* NULL: empty slot */
};

struct cfi_bin {
	struct dso *dso;
	Elf *elf;
	Dwarf *dwarf;
	Dwarf_CFI *eh, *dbg;
	bool dbg_tried;
	uint16_t machine;
	size_t nr_loads;
	struct { uint64_t off, filesz, vaddr; } loads[MAX_LOADS];
	struct arena *arena;		/* compiled rules */
	struct rule_slot *slots;
	size_t nslots, nused;
	int tramp_state;
	struct tramp_rule tramp;
	struct pm_error tramp_err;
};

/* Open the file behind the dso: machine, PT_LOADs, .eh_frame CFI. */
static void bin_open(struct cfi_bin *b)
{
	const char *path = dso_file(b->dso);
	GElf_Ehdr eh;
	size_t i, n;
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	b->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	/* the file stays mapped; no descriptor kept per binary and thread
	 * (hundreds of extension modules times -j would exhaust them) */
	if (!b->elf || elf_kind(b->elf) != ELF_K_ELF ||
	    elf_cntl(b->elf, ELF_C_FDREAD) ||
	    !gelf_getehdr(b->elf, &eh) || elf_getphdrnum(b->elf, &n) != 0)
		goto fail;
	close(fd);
	b->machine = eh.e_machine;
	for (i = 0; i < n && b->nr_loads < MAX_LOADS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(b->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		b->loads[b->nr_loads].off = ph.p_offset;
		b->loads[b->nr_loads].filesz = ph.p_filesz;
		b->loads[b->nr_loads].vaddr = ph.p_vaddr;
		b->nr_loads++;
	}
	b->eh = dwarf_getcfi_elf(b->elf);
	return;
fail:
	if (b->elf)
		elf_end(b->elf);
	b->elf = NULL;
	b->machine = 0;
	close(fd);
}

struct cfi_bin *cfi_bin_new(struct dso *d)
{
	struct cfi_bin *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->dso = d;
	b->arena = arena_new();
	if (!b->arena) {
		free(b);
		return NULL;
	}
	bin_open(b);	/* elf_version() was set by symbols_new() */
	return b;
}

void cfi_bin_free(struct cfi_bin *b)
{
	if (!b)
		return;
	if (b->eh)
		dwarf_cfi_end(b->eh);
	if (b->dwarf)
		dwarf_end(b->dwarf);	/* also ends b->dbg */
	if (b->elf)
		elf_end(b->elf);
	arena_free(b->arena);
	free(b->slots);
	free(b);
}

struct dso *cfi_bin_dso(const struct cfi_bin *b)
{
	return b->dso;
}

uint16_t cfi_bin_machine(const struct cfi_bin *b)
{
	return b->machine;
}

bool cfi_bin_has_cfi(const struct cfi_bin *b)
{
	return b->eh || b->dbg;
}

uint64_t cfi_bin_bias(const struct cfi_bin *b, uint64_t start, uint64_t pgoff)
{
	size_t i;

	for (i = 0; b && i < b->nr_loads; i++) {
		uint64_t off = b->loads[i].off & ~(uint64_t)0xfff;

		if (pgoff >= off && pgoff < b->loads[i].off + b->loads[i].filesz)
			return start - pgoff + b->loads[i].off -
			       b->loads[i].vaddr;
	}
	return start - pgoff;
}

/* Add the rule of register regno to r: nothing for "same value", an undef
 * bit for "undefined" or for anything that cannot be expressed. */
static void compile_reg(struct cfi_rule *r, unsigned regno, Dwarf_Op *ops,
			size_t nops, const Dwarf_Op *ops_mem)
{
	struct cfi_reg_rule rr = { .regno = (uint8_t)regno };
	bool value = nops && ops[nops - 1].atom == DW_OP_stack_value;
	size_t n = value ? nops - 1 : nops;

	if (nops == 0) {
		if (ops != NULL)		/* undefined */
			r->undef |= UINT64_C(1) << regno;
		return;				/* NULL: same value */
	}
	if (n >= 1 && n <= 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	    (n == 1 || ops[1].atom == DW_OP_plus_uconst)) {
		rr.kind = value ? CFI_VAL_CFA : CFI_AT_CFA;
		rr.off = n == 2 ? (int64_t)ops[1].number : 0;
	} else if (nops == 1 && ops[0].atom == DW_OP_regx &&
		   ops[0].number < CFI_MAX_REGS) {
		rr.kind = CFI_REG;
		rr.off = (int64_t)ops[0].number;
	} else if (ops != ops_mem && nops <= UINT16_MAX) {
		rr.kind = value ? CFI_VAL_EXPR : CFI_EXPR;
		rr.ops = ops;
		rr.nops = (uint16_t)nops;
	} else {
		r->undef |= UINT64_C(1) << regno;
		return;
	}
	if (r->nrules == CFI_MAX_RULES) {
		r->undef |= UINT64_C(1) << regno;
		return;
	}
	r->rules[r->nrules++] = rr;
}

/* Look vaddr up in .eh_frame, then .debug_frame, and compile the rule. */
static void compile_rule(struct cfi_bin *b, unsigned nregs, uint64_t vaddr,
			 struct cfi_rule *r)
{
	Dwarf_CFI *cfi;
	Dwarf_Frame *frame = NULL;
	Dwarf_Op ops_mem[3], *ops;
	Dwarf_Addr start, end;
	size_t i, nops;
	bool signal;
	int ra;

	memset(r, 0, offsetof(struct cfi_rule, rules));
	if (nregs > CFI_MAX_REGS)
		return;
	for (i = 0; i < 2 && !frame; i++) {
		if (i == 1 && !b->dbg_tried && b->elf) {
			/* .debug_frame only once .eh_frame lacks a pc */
			b->dbg_tried = true;
			b->dwarf = dwarf_begin_elf(b->elf, DWARF_C_READ, NULL);
			if (b->dwarf)
				b->dbg = dwarf_getcfi(b->dwarf);
		}
		cfi = i == 0 ? b->eh : b->dbg;
		if (cfi && dwarf_cfi_addrframe(cfi, vaddr, &frame) != 0)
			frame = NULL;
	}
	if (!frame)
		return;
	ra = dwarf_frame_info(frame, &start, &end, &signal);
	if (ra < 0 || (unsigned)ra >= nregs ||
	    dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0)
		goto out;
	r->ra_reg = (uint8_t)ra;
	r->signal = signal;
	if (nops == 1 && ops[0].atom == DW_OP_bregx && ops[0].number < nregs) {
		r->cfa_reg = (uint8_t)ops[0].number;
		r->cfa_off = (int64_t)ops[0].number2;
	} else {
		r->cfa_ops = ops;	/* expression: lives in the CFI */
		r->cfa_nops = nops;
	}
	for (i = 0; i < nregs; i++) {
		if (dwarf_frame_register(frame, (int)i, ops_mem, &ops,
					 &nops) != 0) {
			r->undef |= UINT64_C(1) << i;
			continue;
		}
		compile_reg(r, (unsigned)i, ops, nops, ops_mem);
	}
	r->found = true;
out:
	free(frame);
}

static size_t slot_of(uint64_t vaddr, size_t nslots)
{
	return (size_t)((vaddr * UINT64_C(0x9e3779b97f4a7c15)) >> 20) &
	       (nslots - 1);
}

static int rules_grow(struct cfi_bin *b)
{
	size_t nsize = b->nslots ? b->nslots * 2 : 256, i, j;
	struct rule_slot *nt;

	if (nsize > SIZE_MAX / sizeof(*nt))
		return -1;
	nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -1;
	for (i = 0; i < b->nslots; i++) {
		if (!b->slots[i].r)
			continue;
		for (j = slot_of(b->slots[i].vaddr, nsize); nt[j].r;
		     j = (j + 1) & (nsize - 1))
			;
		nt[j] = b->slots[i];
	}
	free(b->slots);
	b->slots = nt;
	b->nslots = nsize;
	return 0;
}

const struct cfi_rule *cfi_bin_rule(struct cfi_bin *b, unsigned nregs,
				    uint64_t vaddr, struct cfi_rule *tmp)
{
	size_t i, bytes;
	struct cfi_rule *r;

	if (b->nslots) {
		for (i = slot_of(vaddr, b->nslots); b->slots[i].r;
		     i = (i + 1) & (b->nslots - 1))
			if (b->slots[i].vaddr == vaddr)
				return b->slots[i].r;
	}
	compile_rule(b, nregs, vaddr, tmp);
	if (b->nused >= RULES_CAP ||
	    ((b->nused + 1) * 4 > b->nslots * 3 && rules_grow(b) < 0))
		return tmp;
	bytes = offsetof(struct cfi_rule, rules) +
		tmp->nrules * sizeof(tmp->rules[0]);
	r = arena_alloc(b->arena, bytes);
	if (!r)
		return tmp;
	memcpy(r, tmp, bytes);
	for (i = slot_of(vaddr, b->nslots); b->slots[i].r;
	     i = (i + 1) & (b->nslots - 1))
		;
	b->slots[i].vaddr = vaddr;
	b->slots[i].r = r;
	b->nused++;
	return r;
}

static int decode_tramp(struct cfi_bin *b)
{
	const char *name = dso_name(b->dso);
	uint64_t start, end, size, ssize;
	uint8_t code[TRAMP_MAX_SIZE];
	struct pm_error *err = &b->tramp_err;
	int rc;

	if (!dso_symbol_addr(b->dso, "_Py_trampoline_func_start", &start,
			     &ssize))
		return TRAMP_NONE;
	if (dso_symbol_addr(b->dso, "_Py_trampoline_func_end", &end, &size) &&
	    end > start)
		size = end - start;
	else
		size = ssize;	/* asm symbols usually have size 0 */
	if (!size || size > TRAMP_MAX_SIZE) {
		pm_error_set(err, PM_EUNSUPPORTED,
			     "%s: cannot size the perf trampoline template (%llu bytes)",
			     name, (unsigned long long)size);
		return TRAMP_BAD;
	}
	if (!dso_read(b->dso, start, code, size)) {
		pm_error_set(err, PM_EIO,
			     "%s: cannot read the perf trampoline template at 0x%llx",
			     name, (unsigned long long)start);
		return TRAMP_BAD;
	}
	rc = tramp_decode(b->machine, code, size, &b->tramp, err);
	if (rc < 0) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		pm_error_set(err, -rc, "%s: %s", name, msg);
		return TRAMP_BAD;
	}
	return TRAMP_OK;
}

int cfi_bin_tramp(struct cfi_bin *b, const struct tramp_rule **rule,
		  struct pm_error *err)
{
	*rule = NULL;
	if (b->tramp_state == TRAMP_UNKNOWN)
		b->tramp_state = decode_tramp(b);
	switch (b->tramp_state) {
	case TRAMP_OK:
		*rule = &b->tramp;
		return 1;
	case TRAMP_BAD:
		if (err)
			*err = b->tramp_err;
		return b->tramp_err.code;
	default:
		return 0;
	}
}
