/*
 * symbols_lookup.c - the lookup half of symbols.c: the sorted symbol vector,
 * the per-CU DWARF inline index, the per-dso result cache and the
 * frame-pointer guess. See symbols.c for the overall design.
 */
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strtab.h"
#include "symbols_impl.h"

/* ---- symbol vector ---- */

int symbols__underscores(const char *n)
{
	int k = 0;

	while (n[k] == '_')
		k++;
	return k;
}

static int bind_rank(unsigned char bind)
{
	return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

/* Among aliases at one address: sized (as perf's choose_best_symbol()),
 * then exported names (global, weak, then local: "write" rather than
 * glibc's "__GI___libc_write"), fewer leading underscores, the shorter. */
static bool sym_better(const struct sym *a, const struct sym *b)
{
	size_t la, lb;
	int ua, ub;

	if (!a->size != !b->size)
		return a->size != 0;
	if (bind_rank(a->bind) != bind_rank(b->bind))
		return bind_rank(a->bind) < bind_rank(b->bind);
	ua = symbols__underscores(a->name);
	ub = symbols__underscores(b->name);
	if (ua != ub)
		return ua < ub;
	la = strlen(a->name);
	lb = strlen(b->name);
	if (la != lb)
		return la < lb;
	return strcmp(a->name, b->name) < 0;
}

static int sym_cmp(const void *pa, const void *pb)
{
	const struct sym *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Append the functions of one symbol table (.symtab or .dynsym). */
static int read_symtab(struct dso *d, Elf *e, const char *secname,
		       size_t *alloc)
{
	GElf_Shdr sh, ssh;
	GElf_Sym sym;
	Elf_Data *data;
	Elf_Scn *scn = symbols__find_section(e, secname, &sh);
	const char *name;
	struct sym *v;
	size_t i, n;
	int type, err;

	if (!scn || sh.sh_type == SHT_NOBITS || !sh.sh_entsize ||
	    !(data = elf_getdata(scn, NULL)))
		return 0;
	n = sh.sh_size / sh.sh_entsize;
	for (i = 1; i < n && i < INT32_MAX; i++) {
		if (!gelf_getsym(data, (int)i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(e, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		err = grow_array((void **)&d->syms, alloc, d->nsyms + 1,
				 sizeof(*d->syms), SYMS_MAX);
		if (err)
			return err;
		v = &d->syms[d->nsyms++];
		v->addr = sym.st_value;
		v->size = sym.st_size;
		v->name = name;
		v->bind = GELF_ST_BIND(sym.st_info);
		v->sec_end = 0;
		if (sym.st_shndx < SHN_LORESERVE &&
		    gelf_getshdr(elf_getscn(e, sym.st_shndx), &ssh) &&
		    sym.st_value >= ssh.sh_addr &&
		    ssh.sh_addr + ssh.sh_size > ssh.sh_addr)
			v->sec_end = ssh.sh_addr + ssh.sh_size;
	}
	return 0;
}

/* Sorted, deduplicated function symbols: .symtab of the binary, else of
 * the debug file (complete), else .dynsym. Zero-size symbols (assembly)
 * extend to the next symbol, within their section. */
void dso__load_syms(struct dso *d)
{
	size_t alloc = 0, i, j;
	uint64_t end;

	if (d->syms_done || !d->elf)
		return;
	d->syms_done = true;
	read_symtab(d, d->elf, ".symtab", &alloc);
	if (!d->nsyms && d->dbg)
		read_symtab(d, d->dbg, ".symtab", &alloc);
	if (!d->nsyms)
		read_symtab(d, d->elf, ".dynsym", &alloc);
	if (!d->nsyms)
		return;
	qsort(d->syms, d->nsyms, sizeof(*d->syms), sym_cmp);
	for (i = 1, j = 1; i < d->nsyms; i++) {
		if (d->syms[j - 1].addr == d->syms[i].addr) {
			if (sym_better(&d->syms[i], &d->syms[j - 1]))
				d->syms[j - 1] = d->syms[i];
			continue;
		}
		d->syms[j++] = d->syms[i];
	}
	d->nsyms = j;
	for (i = 0; i < d->nsyms; i++) {
		struct sym *y = &d->syms[i];

		if (y->size)
			continue;
		end = i + 1 < d->nsyms ? d->syms[i + 1].addr : UINT64_MAX;
		if (y->sec_end > y->addr && y->sec_end < end)
			end = y->sec_end;
		if (end == UINT64_MAX)
			end = y->addr + 4096 > y->addr ? y->addr + 4096 : end;
		y->size = end - y->addr;
	}
}

static const struct sym *sym_find(const struct dso *d, uint64_t va)
{
	size_t lo = 0, hi = d->nsyms, mid, k;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->syms[mid].addr <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* a small symbol may sit inside a bigger one just before it */
	for (k = 0; k < 4 && lo > 0; k++, lo--)
		if (va - d->syms[lo - 1].addr < d->syms[lo - 1].size)
			return &d->syms[lo - 1];
	return NULL;
}

/* ---- DWARF: CU ranges and per-CU inline index ---- */

struct wr {
	uint64_t lo, hi;
	int32_t node;
	uint32_t depth;
};

struct walk {
	struct cuinfo *c;
	Dwarf_Files *files;
	size_t nfiles;
	struct wr *v;
	size_t n, alloc;
	bool failed;
};

static int curange_cmp(const void *pa, const void *pb)
{
	const struct curange *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static void cus_build(struct dso *d)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Addr base, lo, hi;
	uint8_t type;
	size_t acus = 0, acur = 0;
	ptrdiff_t off;

	d->cus_done = true;
	while (dwarf_get_units(d->dw, cu, &cu, NULL, &type, &cudie, NULL) == 0) {
		if (type != DW_UT_compile)
			continue;
		if (grow_array((void **)&d->cus, &acus, d->ncus + 1,
			       sizeof(*d->cus), NODES_MAX))
			break;
		memset(&d->cus[d->ncus], 0, sizeof(*d->cus));
		d->cus[d->ncus].die = cudie;
		for (off = 0; (off = dwarf_ranges(&cudie, off, &base, &lo,
						  &hi)) > 0;) {
			if (hi <= lo)
				continue;
			if (grow_array((void **)&d->cur, &acur, d->ncur + 1,
				       sizeof(*d->cur), NODES_MAX))
				break;
			d->cur[d->ncur++] = (struct curange){ lo, hi, d->ncus };
		}
		d->ncus++;
	}
	if (d->ncur)
		qsort(d->cur, d->ncur, sizeof(*d->cur), curange_cmp);
}

static struct cuinfo *cu_find(struct dso *d, uint64_t va)
{
	size_t lo = 0, hi = d->ncur, mid, k;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->cur[mid].lo <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = 0; k < 4 && lo > 0; k++, lo--)
		if (va < d->cur[lo - 1].hi)
			return &d->cus[d->cur[lo - 1].cu];
	return NULL;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n;

	n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_MIPS_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
	return n;
}

/* A subprogram or inlined_subroutine with pc ranges becomes a node; its
 * ranges go to w->v. Returns the node id, or -1 (no code, or OOM). */
static int32_t add_node(struct walk *w, Dwarf_Die *die, bool inlined,
			int32_t parent, uint32_t depth)
{
	struct cuinfo *c = w->c;
	Dwarf_Addr base, lo, hi;
	Dwarf_Attribute a;
	Dwarf_Word word;
	ptrdiff_t off = 0;
	size_t first = w->n;
	int32_t id = (int32_t)c->nnodes;
	struct node *nd;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		if (grow_array((void **)&w->v, &w->alloc, w->n + 1,
			       sizeof(*w->v), NODES_MAX)) {
			w->failed = true;
			break;
		}
		w->v[w->n++] = (struct wr){ lo, hi, id, depth };
	}
	if (w->n == first)
		return -1;
	if (grow_array((void **)&c->nodes, &c->anodes, c->nnodes + 1,
		       sizeof(*c->nodes), NODES_MAX)) {
		w->failed = true;
		w->n = first;
		return -1;
	}
	nd = &c->nodes[c->nnodes++];
	nd->name = die_name(die);
	nd->inlined = inlined;
	nd->parent = inlined ? parent : -1;
	nd->call_file = NULL;
	nd->call_line = 0;
	if (inlined) {
		if (w->files && dwarf_formudata(dwarf_attr(die, DW_AT_call_file,
							   &a), &word) == 0 &&
		    word < w->nfiles)
			nd->call_file = dwarf_filesrc(w->files, word, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a),
				    &word) == 0)
			nd->call_line = (unsigned)word;
	}
	return id;
}

/* Collect code-bearing scopes; types and abstract instances are skipped. */
static void walk(struct walk *w, Dwarf_Die *parent_die, int32_t parent,
		 uint32_t depth)
{
	Dwarf_Die child;
	int32_t id;
	int tag;

	if (depth > 256 || w->failed || dwarf_child(parent_die, &child) != 0)
		return;
	do {
		tag = dwarf_tag(&child);
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
			id = add_node(w, &child, tag == DW_TAG_inlined_subroutine,
				      parent, depth);
			if (id >= 0)
				walk(w, &child, id, depth + 1);
			break;
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			walk(w, &child, parent, depth + 1);
			break;
		default:
			break;
		}
	} while (!w->failed && dwarf_siblingof(&child, &child) == 0);
}

static int wr_cmp(const void *pa, const void *pb)
{
	const struct wr *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	return a->hi > b->hi ? -1 : a->hi < b->hi;
}

static void seg_add(struct cuinfo *c, uint64_t lo, uint64_t hi, int32_t node)
{
	struct seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;

	if (lo >= hi)
		return;
	if (last && last->hi == lo && last->node == node) {
		last->hi = hi;
		return;
	}
	if (grow_array((void **)&c->segs, &c->asegs, c->nsegs + 1,
		       sizeof(*c->segs), NODES_MAX))
		return;
	c->segs[c->nsegs++] = (struct seg){ lo, hi, node };
}

/*
 * Nested ranges -> disjoint pieces naming the innermost node. Sorted by
 * start (outer first on ties), a stack holds the open ranges; a range
 * reaching past its parent is clipped to it, so the stack stays nested
 * even on odd DWARF.
 */
static void cu_index(struct cuinfo *c)
{
	struct walk w = { .c = c };
	struct wr *stack = NULL, r;
	size_t sp = 0, astack = 0, i;
	uint64_t pos = 0;

	c->built = true;
	if (dwarf_getsrcfiles(&c->die, &w.files, &w.nfiles) != 0)
		w.files = NULL;
	walk(&w, &c->die, -1, 0);
	if (w.n)
		qsort(w.v, w.n, sizeof(*w.v), wr_cmp);
	for (i = 0; i < w.n; i++) {
		r = w.v[i];
		while (sp && stack[sp - 1].hi <= r.lo) {
			seg_add(c, pos, stack[sp - 1].hi, stack[sp - 1].node);
			if (pos < stack[sp - 1].hi)
				pos = stack[sp - 1].hi;
			sp--;
		}
		if (sp) {
			seg_add(c, pos, r.lo, stack[sp - 1].node);
			if (r.hi > stack[sp - 1].hi)
				r.hi = stack[sp - 1].hi;
		}
		if (pos < r.lo)
			pos = r.lo;
		if (r.hi <= pos)
			continue;
		if (grow_array((void **)&stack, &astack, sp + 1, sizeof(*stack),
			       NODES_MAX))
			break;
		stack[sp++] = r;
	}
	while (sp) {
		seg_add(c, pos, stack[sp - 1].hi, stack[sp - 1].node);
		if (pos < stack[sp - 1].hi)
			pos = stack[sp - 1].hi;
		sp--;
	}
	free(stack);
	free(w.v);
}

static int32_t cu_node(const struct cuinfo *c, uint64_t va)
{
	size_t lo = 0, hi = c->nsegs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c->segs[mid].lo <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && va < c->segs[lo - 1].hi ? c->segs[lo - 1].node : -1;
}

/* ---- lookup ---- */

bool dso_offset_to_vaddr(struct dso *d, uint64_t off, uint64_t *vaddr)
{
	const GElf_Phdr *p;
	size_t i;

	for (i = 0; i < d->nloads; i++) {
		p = &d->loads[i];
		if (off >= p->p_offset && off - p->p_offset < p->p_filesz) {
			*vaddr = p->p_vaddr + (off - p->p_offset);
			return true;
		}
	}
	return false;
}

static int resolve(struct dso *d, uint64_t off, struct sym_frame *f)
{
	struct symbols *s = d->s;
	const struct sym *sym;
	struct cuinfo *c = NULL;
	const char *file = NULL, *outer = NULL;
	unsigned line = 0;
	int32_t k = -1;
	Dwarf_Line *l;
	uint64_t va;
	int n = 0, ln;

	if (!dso_offset_to_vaddr(d, off, &va))
		return 0;
	dso__load_syms(d);
	sym = sym_find(d, va);
	if (d->dw && !d->cus_done)
		cus_build(d);
	if (d->dw && (c = cu_find(d, va))) {
		if (!c->built)
			cu_index(c);
		k = cu_node(c, va);
		if ((l = dwarf_getsrc_die(&c->die, va))) {
			file = dwarf_linesrc(l, NULL, NULL);
			if (dwarf_lineno(l, &ln) == 0 && ln > 0)
				line = (unsigned)ln;
		}
	}
	/* innermost inline first; each frame's location is the line table
	 * (innermost) or the call site recorded in the frame inside it */
	for (; k >= 0 && c->nodes[k].inlined; k = c->nodes[k].parent) {
		if (s->inline_frames && n < DEPTH_MAX - 1) {
			f[n].name = symbols__intern(s, c->nodes[k].name ?
						    c->nodes[k].name : "??");
			f[n].file = file ? strtab_intern(s->names, file) : NULL;
			f[n].line = line;
			f[n].inlined = true;
			n += f[n].name != NULL;		/* NULL: OOM */
		}
		file = c->nodes[k].call_file;
		line = c->nodes[k].call_line;
	}
	if (sym)
		outer = sym->name;
	else if (k >= 0)
		outer = c->nodes[k].name;
	if (!outer)
		return 0;
	f[n].name = symbols__intern(s, outer);
	f[n].file = file ? strtab_intern(s->names, file) : NULL;
	f[n].line = line;
	f[n].inlined = false;
	return f[n].name ? n + 1 : 0;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct cached *cache_get(struct dso *d, uint64_t key)
{
	size_t mask, i;

	if (!d->cache)
		return NULL;
	mask = d->cache_size - 1;
	for (i = mix64(key) & mask; d->cache[i].key; i = (i + 1) & mask)
		if (d->cache[i].key == key)
			return &d->cache[i];
	return NULL;
}

/* Remember a result; past CACHE_MAX slots, new offsets are not cached. */
static void cache_put(struct dso *d, uint64_t key, const struct sym_frame *f,
		      int n)
{
	struct cached *nt, *slot;
	size_t nsize, i, j;

	if ((d->cache_used + 1) * 2 > d->cache_size) {
		nsize = d->cache_size ? d->cache_size * 2 : 1024;
		if (nsize > CACHE_MAX || !(nt = calloc(nsize, sizeof(*nt))))
			return;
		for (i = 0; i < d->cache_size; i++) {
			if (!d->cache[i].key)
				continue;
			for (j = mix64(d->cache[i].key) & (nsize - 1); nt[j].key;
			     j = (j + 1) & (nsize - 1))
				;
			nt[j] = d->cache[i];
		}
		free(d->cache);
		d->cache = nt;
		d->cache_size = nsize;
	}
	for (i = mix64(key) & (d->cache_size - 1); d->cache[i].key;
	     i = (i + 1) & (d->cache_size - 1))
		;
	slot = &d->cache[i];
	slot->frames = n ? arena_alloc(d->s->arena, (size_t)n * sizeof(*f))
			 : NULL;
	if (n && !slot->frames)
		return;
	if (n)
		memcpy(slot->frames, f, (size_t)n * sizeof(*f));
	slot->n = (uint32_t)n;
	slot->key = key;
	d->cache_used++;
}

/* Copy out; when out[] is short, keep the innermost and the function. */
static int copy_frames(const struct sym_frame *f, int n, struct sym_frame *out,
		       size_t max)
{
	if ((size_t)n <= max) {
		if (n)
			memcpy(out, f, (size_t)n * sizeof(*f));
		return n;
	}
	memcpy(out, f, (max - 1) * sizeof(*f));
	out[max - 1] = f[n - 1];
	return (int)max;
}

static int lookup(struct dso *d, uint64_t file_offset, struct sym_frame *out,
		  size_t max)
{
	struct sym_frame tmp[DEPTH_MAX];
	struct cached *c;
	int n;

	if (d->errcode)
		return d->errcode;
	if (!max)
		return -PM_EUSAGE;
	if (file_offset != UINT64_MAX &&
	    (c = cache_get(d, file_offset + 1)))
		return copy_frames(c->frames, (int)c->n, out, max);
	n = resolve(d, file_offset, tmp);
	if (file_offset != UINT64_MAX)
		cache_put(d, file_offset + 1, tmp, n);
	return copy_frames(tmp, n, out, max);
}

/* ---- frame pointers ---- */

static const char *last_strstr(const char *h, const char *n)
{
	const char *r = NULL, *p;

	while ((p = strstr(h, n))) {
		r = p;
		h = p + 1;
	}
	return r;
}

/* GCC records its switches in DW_AT_producer (-grecord-gcc-switches, on by
 * default): an explicit -f[no-]omit-frame-pointer decides, the last one on
 * a CU's line winning, by majority over the first 512 CUs. */
static int fp_from_producer(struct dso *d)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Attribute a;
	const char *p, *yes, *no;
	int ny = 0, nn = 0, i = 0;

	while (d->dw && i++ < 512 &&
	       dwarf_get_units(d->dw, cu, &cu, NULL, NULL, &cudie, NULL) == 0) {
		p = dwarf_formstring(dwarf_attr(&cudie, DW_AT_producer, &a));
		if (!p)
			continue;
		yes = last_strstr(p, "-fno-omit-frame-pointer");
		no = last_strstr(p, "-fomit-frame-pointer");
		if (yes && (!no || yes > no))
			ny++;
		else if (no)
			nn++;
	}
	if (!ny && !nn)
		return -1;
	return ny > nn;
}

static bool x86_fp_prologue(const unsigned char *b)
{
	if (b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
		b += 4;					/* endbr64 */
	return b[0] == 0x55 && b[1] == 0x48 &&		/* push %rbp */
	       ((b[2] == 0x89 && b[3] == 0xe5) ||	/* mov %rsp,%rbp */
		(b[2] == 0x8b && b[3] == 0xec));
}

static bool a64_fp_prologue(const unsigned char *b)
{
	uint32_t insn;
	int i;

	for (i = 0; i < 4; i++) {
		insn = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		       (uint32_t)b[4 * i + 2] << 16 |
		       (uint32_t)b[4 * i + 3] << 24;
		/* stp x29, x30, [sp, #imm]! or [sp, #imm] */
		if ((insn & 0xffc07fffu) == 0xa9807bfdu ||
		    (insn & 0xffc07fffu) == 0xa9007bfdu)
			return true;
	}
	return false;
}

static int size_desc(const void *pa, const void *pb)
{
	const struct sym *a = *(const struct sym *const *)pa;
	const struct sym *b = *(const struct sym *const *)pb;

	return a->size > b->size ? -1 : a->size < b->size;
}

/*
 * Without an explicit producer switch, look at the code: of the 64 largest
 * functions (>= 64 bytes), do at least half set up a frame record first
 * thing? x86-64: [endbr64] push %rbp; mov %rsp,%rbp. aarch64: stp x29, x30
 * within the first four instructions (after paciasp/bti or a sub sp).
 * Large functions, because small leaf functions skip the frame even under
 * -fno-omit-frame-pointer (-momit-leaf-frame-pointer), and because code
 * without frame pointers pushes %rbp as a plain callee-saved register but
 * never follows it with mov %rsp,%rbp.
 */
static int fp_from_code(struct dso *d)
{
	const struct sym **v;
	unsigned char b[16];
	GElf_Ehdr eh;
	size_t i, nv = 0, tried = 0, hits = 0;

	if (!d->code || !gelf_getehdr(d->elf, &eh) ||
	    (eh.e_machine != EM_X86_64 && eh.e_machine != EM_AARCH64))
		return -1;
	dso__load_syms(d);
	if (!d->nsyms || !(v = malloc(d->nsyms * sizeof(*v))))
		return -1;
	for (i = 0; i < d->nsyms; i++)
		if (d->syms[i].size >= 64)
			v[nv++] = &d->syms[i];
	qsort(v, nv, sizeof(*v), size_desc);
	for (i = 0; i < nv && tried < 64; i++) {
		if (!dso_read(d, v[i]->addr, b, sizeof(b)))
			continue;
		tried++;
		hits += eh.e_machine == EM_X86_64 ? x86_fp_prologue(b)
						  : a64_fp_prologue(b);
	}
	free(v);
	return tried ? hits * 2 >= tried : -1;
}

static bool has_frame_pointers(struct dso *d)
{
	if (d->fp < 0 && !d->errcode) {
		d->fp = fp_from_producer(d);
		if (d->fp < 0)
			d->fp = fp_from_code(d);
		if (d->fp < 0)
			d->fp = 0;
	}
	return d->fp > 0;
}


int dso_lookup(struct dso *d, uint64_t file_offset, struct sym_frame *out,
	       size_t max)
{
	SYMBOLS_LOCKED(d->s, int, lookup(d, file_offset, out, max));
}

bool dso_has_frame_pointers(struct dso *d)
{
	SYMBOLS_LOCKED(d->s, bool, has_frame_pointers(d));
}
