/*
 * symbols.c - native symbolization with libelf/libdw.
 *
 * One struct dso per (path, build-id), opened once: the binary (or, when it
 * changed since recording, a copy from a build-id cache), its separate
 * debug file, a symbol vector sorted by address and deduplicated
 * (exported names first), and a lazily built DWARF index. libdwfl's
 * dwfl_module_addrinfo() is linear in the symbol count per call, and
 * dwarf_getscopes() walks a CU's DIE tree per call, both far too slow for
 * millions of samples, so:
 *
 *  - symbols: binary search in the sorted vector;
 *  - inlines: per CU, on first use, one walk of the DIE tree collects the
 *    pc ranges of every subprogram and inlined_subroutine, and a sweep
 *    turns those nested ranges into disjoint pieces that each name their
 *    innermost inline node (a node knows its parent and call site): a
 *    lookup is two binary searches (CU, then piece) and a parent walk;
 *  - results: a per-dso hash of file offset -> frames, since the same
 *    return addresses repeat millions of times.
 *
 * Names are demangled (C++ "_Z") through __cxa_demangle from a lazily
 * dlopen()ed libstdc++, so the library has no C++ link dependency; without
 * libstdc++ the mangled name is kept. All mutable state lives in struct
 * symbols (no globals): a caller may serialize calls with one lock.
 *
 * Files: this one holds the dso cache, ELF files, build-id checks and the
 * debug-file search; symbols_lookup.c the symbol vector, DWARF index,
 * result cache and frame-pointer guess; symbols_kernel.c kallsyms.
 */
#include "symbols.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "strtab.h"
#include "symbols_impl.h"

/* ---- helpers ---- */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

/* Trailing zero bytes are padding (perf.data pads build-ids to 20/24). */
size_t build_id__trim(const uint8_t *id, size_t n)
{
	while (n && !id[n - 1])
		n--;
	return n;
}

bool build_id__equal(const uint8_t *a, size_t an, const uint8_t *b,
		     size_t bn)
{
	an = build_id__trim(a, an);
	bn = build_id__trim(b, bn);
	return an == bn && !memcmp(a, b, an);
}

static void bid_hex(const uint8_t *id, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
	out[2 * n] = '\0';
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : p;
}

const char *symbols__intern(struct symbols *s, const char *raw)
{
	const char *r, *at;
	char *out;
	int status = -1;

	if (!raw)
		return NULL;
	if (raw[0] == '_' && raw[1] == 'Z') {
		if (!s->demangle_tried) {
			s->demangle_tried = true;
			s->cxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
			if (s->cxx)
				*(void **)&s->demangle =
					dlsym(s->cxx, "__cxa_demangle");
		}
		out = s->demangle ? s->demangle(raw, NULL, NULL, &status) : NULL;
		if (out && status == 0) {
			r = strtab_intern(s->names, out);
			free(out);
			return r;
		}
		free(out);
	}
	/* Versioned names from a .symtab ("__libc_start_main@@GLIBC_2.34",
	 * "memcpy@GLIBC_2.2.5") are shown without the version, as perf does. */
	at = strchr(raw, '@');
	if (at && at != raw)
		return strtab_intern_n(s->names, raw, (size_t)(at - raw));
	return strtab_intern(s->names, raw);
}

/* ---- ELF files ---- */

static size_t note_build_id(Elf_Data *data, uint8_t *out)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data || !data->d_buf)
		return 0;
	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((char *)data->d_buf + name_off, "GNU", 4) &&
		    nh.n_descsz && nh.n_descsz <= BUILD_ID_MAX) {
			memcpy(out, (char *)data->d_buf + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
		off = next;
	}
	return 0;
}

/* NT_GNU_BUILD_ID from SHT_NOTE sections, else PT_NOTE segments (a debug
 * file's PT_NOTE offsets point at the original's layout: sections first). */
static size_t elf_build_id(Elf *e, uint8_t *out)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Phdr ph;
	size_t n, i, np;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    (n = note_build_id(elf_getdata(scn, NULL), out)))
			return n;
	if (elf_getphdrnum(e, &np))
		return 0;
	for (i = 0; i < np; i++) {
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(e, (int64_t)ph.p_offset,
					    ph.p_filesz, ELF_T_NHDR);
		if ((n = note_build_id(data, out)))
			return n;
	}
	return 0;
}

Elf_Scn *symbols__find_section(Elf *e, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *n;

	if (!e || elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(e, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static bool has_section(Elf *e, const char *name, bool need_bits)
{
	GElf_Shdr sh;

	return symbols__find_section(e, name, &sh) &&
	       (!need_bits || sh.sh_type != SHT_NOBITS);
}

/*
 * Open an ELF file read-only (mmap), whole file in memory afterwards so the
 * descriptor can be closed (ELF_C_FDREAD): one dso per binary in a
 * system-wide profile would otherwise run out of descriptors. want (if
 * non-NULL) must equal the file's build-id.
 */
static Elf *elf_open(const char *path, const uint8_t *want, size_t want_n,
		     int *err_no, bool *mismatch)
{
	uint8_t id[BUILD_ID_MAX];
	struct stat st;
	Elf *e = NULL;
	size_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err_no = errno;
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		*err_no = ENOEXEC;
		goto out;
	}
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_cntl(e, ELF_C_FDREAD)) {
		*err_no = ENOEXEC;
		goto fail;
	}
	if (want && want_n && (n = elf_build_id(e, id)) &&
	    !build_id__equal(id, n, want, want_n)) {
		*mismatch = true;
		*err_no = ESTALE;
		goto fail;
	}
	goto out;
fail:
	elf_end(e);
	e = NULL;
out:
	close(fd);
	return e;
}

/* ---- opening a dso ---- */

static bool try_main(struct dso *d, const char *path, bool code,
		     int *err_no, bool *mismatch)
{
	Elf *e = elf_open(path, d->bid, d->bid_size, err_no, mismatch);

	if (!e)
		return false;
	d->elf = e;
	d->code = code;
	d->file = strdup(path);
	return true;
}

static bool try_debug(struct dso *d, const char *path)
{
	int err_no;
	bool mismatch = false;
	Elf *e;

	if (!path || (d->file && !strcmp(path, d->file)))
		return false;
	e = elf_open(path, d->bid, d->bid_size, &err_no, &mismatch);
	if (!e)
		return false;
	if (!has_section(e, ".symtab", false) &&
	    !has_section(e, ".debug_info", true)) {
		elf_end(e);
		return false;
	}
	d->dbg = e;
	return true;
}

/* Separate debug info: build-id trees, perf's cache, .gnu_debuglink. */
static void find_debug(struct dso *d, const char *hex)
{
	struct symbols *s = d->s;
	char *p, *dir = NULL, *slash;
	const char *link;
	GElf_Shdr sh;
	Elf_Scn *scn;
	Elf_Data *data;
	size_t i;

	/* each debug dir in both layouts: /usr/lib/debug's xx/rest.debug
	 * and perf's cache (and pyperf-maps archives) xx/rest/debug */
	for (i = 0; hex[0] && s->debug_dirs[i] && !d->dbg; i++) {
		p = xasprintf("%s/.build-id/%.2s/%s.debug", s->debug_dirs[i],
			      hex, hex + 2);
		try_debug(d, p);
		free(p);
		if (d->dbg)
			break;
		p = xasprintf("%s/.build-id/%.2s/%s/debug", s->debug_dirs[i],
			      hex, hex + 2);
		try_debug(d, p);
		free(p);
	}
	if (hex[0] && s->home_debug && !d->dbg) {
		p = xasprintf("%s/.build-id/%.2s/%s/debug", s->home_debug,
			      hex, hex + 2);
		try_debug(d, p);
		free(p);
	}
	scn = symbols__find_section(d->elf, ".gnu_debuglink", &sh);
	data = scn && sh.sh_type != SHT_NOBITS ? elf_getdata(scn, NULL) : NULL;
	if (d->dbg || !data || !data->d_buf || !data->d_size ||
	    !memchr(data->d_buf, '\0', data->d_size))
		return;
	link = data->d_buf;
	if (strchr(link, '/') || !(dir = strdup(d->file)))
		return;
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	p = xasprintf("%s%s", dir, link);
	try_debug(d, p);
	free(p);
	p = d->dbg ? NULL : xasprintf("%s.debug/%s", dir, link);
	try_debug(d, p);
	free(p);
	/* the global tree holds the binary's own path (without root) */
	free(dir);
	if (!(dir = strdup(d->path)))
		return;
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	for (i = 0; s->debug_dirs[i] && !d->dbg; i++) {
		p = xasprintf("%s%s%s", s->debug_dirs[i], dir, link);
		try_debug(d, p);
		free(p);
	}
	free(dir);
}

static void dso_open(struct dso *d)
{
	struct symbols *s = d->s;
	char hex[2 * BUILD_ID_MAX + 1] = "", *p;
	int err_no = 0, e2;
	bool mismatch = false, m2 = false;
	GElf_Phdr ph;
	size_t i, np;

	p = xasprintf("%s%s", s->root ? s->root : "", d->path);
	if (p && !try_main(d, p, true, &err_no, &mismatch) && d->bid_size) {
		/* The file changed since recording, or is gone: a copy with
		 * the recorded build-id may be in perf's cache or a debug tree
		 * (a .debug file has headers and symbols but no code). */
		bid_hex(d->bid, d->bid_size, hex);
		free(p);
		p = s->home_debug ? xasprintf("%s/.build-id/%.2s/%s/elf",
					      s->home_debug, hex, hex + 2) : NULL;
		if (!p || !try_main(d, p, true, &e2, &m2)) {
			for (i = 0; s->debug_dirs[i] && !d->elf; i++) {
				free(p);
				p = xasprintf("%s/.build-id/%.2s/%s/elf",
					      s->debug_dirs[i], hex, hex + 2);
				if (p && try_main(d, p, true, &e2, &m2))
					break;
				free(p);
				p = xasprintf("%s/.build-id/%.2s/%s.debug",
					      s->debug_dirs[i], hex, hex + 2);
				if (p)
					try_main(d, p, false, &e2, &m2);
			}
		}
	}
	free(p);
	if (!d->elf) {
		d->errcode = mismatch ? -PM_ENOTFOUND :
			     err_no == ENOENT ? -PM_ENOTFOUND :
			     err_no == EACCES ? -PM_EPERM :
			     err_no == ENOEXEC ? -PM_EUNSUPPORTED : -PM_EIO;
		d->error = mismatch ?
			xasprintf("%s: build-id mismatch (file changed since "
				  "recording)", d->path) :
			err_no == ENOEXEC ?
			xasprintf("%s: not an ELF file", d->path) :
			xasprintf("%s: %s", d->path, strerror(err_no));
		if (!d->errcode)
			d->errcode = -PM_EIO;
		return;
	}
	if (!d->bid_size)
		d->bid_size = elf_build_id(d->elf, d->bid);
	bid_hex(d->bid, d->bid_size, hex);
	if (d->code && !(has_section(d->elf, ".symtab", false) &&
			 has_section(d->elf, ".debug_info", true)))
		find_debug(d, hex);
	if (!elf_getphdrnum(d->elf, &np) &&
	    (d->loads = calloc(np ? np : 1, sizeof(*d->loads)))) {
		for (i = 0; i < np; i++)
			if (gelf_getphdr(d->elf, (int)i, &ph) &&
			    ph.p_type == PT_LOAD)
				d->loads[d->nloads++] = ph;
	}
	/* A .debug stand-in keeps the PT_LOAD addresses but zeroes their file
	 * offsets and sizes (objcopy --only-keep-debug). Assume the layout of
	 * GNU ld and gold, file offset = vaddr - first vaddr, which holds for
	 * their code segments; lld-linked files may be off here. */
	for (i = 0; !d->code && i < d->nloads; i++) {
		if (d->loads[i].p_vaddr < d->loads[0].p_vaddr)
			break;
		d->loads[i].p_offset = d->loads[i].p_vaddr - d->loads[0].p_vaddr;
		d->loads[i].p_filesz = d->loads[i].p_memsz;
	}
	/* DWARF also gives line numbers and the producer (frame pointers) */
	if (d->dbg && has_section(d->dbg, ".debug_info", true))
		d->dw = dwarf_begin_elf(d->dbg, DWARF_C_READ, NULL);
	if (!d->dw && has_section(d->elf, ".debug_info", true))
		d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
}

const char *dso_path(const struct dso *d)
{
	return d->path;
}

const char *dso_name(const struct dso *d)
{
	return d->name;
}

const char *dso_error(const struct dso *d)
{
	return d->error;
}

const char *dso_file(struct dso *d)
{
	return d->file;
}

static bool symbol_addr(struct dso *d, const char *name, uint64_t *vaddr,
			uint64_t *size)
{
	Elf *tabs[3] = { d->elf, d->dbg, d->elf };
	static const char *const secs[3] = { ".symtab", ".symtab", ".dynsym" };
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *data;
	Elf_Scn *scn;
	const char *n;
	size_t t, i, cnt;

	for (t = 0; t < 3; t++) {
		scn = tabs[t] ? symbols__find_section(tabs[t], secs[t], &sh)
			      : NULL;
		if (!scn || sh.sh_type == SHT_NOBITS || !sh.sh_entsize ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		cnt = sh.sh_size / sh.sh_entsize;
		for (i = 1; i < cnt && i < INT32_MAX; i++) {
			if (!gelf_getsym(data, (int)i, &sym) ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			n = elf_strptr(tabs[t], sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name)) {
				*vaddr = sym.st_value;
				if (size)
					*size = sym.st_size;
				return true;
			}
		}
	}
	return false;
}

static bool read_code(struct dso *d, uint64_t vaddr, void *buf, size_t size)
{
	const GElf_Phdr *p;
	const char *raw;
	size_t rawsize, i;
	uint64_t off;

	if (!d->code || !(raw = elf_rawfile(d->elf, &rawsize)))
		return false;
	for (i = 0; i < d->nloads; i++) {
		p = &d->loads[i];
		if (vaddr < p->p_vaddr || vaddr - p->p_vaddr > p->p_filesz ||
		    size > p->p_filesz - (vaddr - p->p_vaddr))
			continue;
		off = p->p_offset + (vaddr - p->p_vaddr);
		if (off > rawsize || size > rawsize - off)
			return false;
		memcpy(buf, raw + off, size);
		return true;
	}
	return false;
}

bool dso_symbol_addr(struct dso *d, const char *name, uint64_t *vaddr,
		     uint64_t *size)
{
	SYMBOLS_LOCKED(d->s, bool, symbol_addr(d, name, vaddr, size));
}

bool dso_read(struct dso *d, uint64_t vaddr, void *buf, size_t size)
{
	SYMBOLS_LOCKED(d->s, bool, read_code(d, vaddr, buf, size));
}

/* ---- the symbols object ---- */

static char *arena_concat(struct arena *a, const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y);
	char *p = arena_alloc(a, lx + ly + 1);

	if (p) {
		memcpy(p, x, lx);
		memcpy(p + lx, y, ly + 1);
	}
	return p;
}

struct symbols *symbols_new(const struct symbols_opts *opts)
{
	struct symbols *s = calloc(1, sizeof(*s));
	const char *home = getenv("HOME");
	size_t n = 0, i;
	char *root;

	pthread_mutexattr_t ma;

	if (!s)
		return NULL;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (!(s->arena = arena_new()) || !(s->names = strtab_new()))
		goto fail;
	elf_version(EV_CURRENT);
	s->inline_frames = opts ? opts->inline_frames : true;
	if (opts && opts->root && *opts->root) {
		if (!(root = arena_strdup(s->arena, opts->root)))
			goto fail;
		for (i = strlen(root); i > 0 && root[i - 1] == '/'; i--)
			root[i - 1] = '\0';
		s->root = *root ? root : NULL;
	}
	if (opts && opts->kallsyms &&
	    !(s->kallsyms = arena_strdup(s->arena, opts->kallsyms)))
		goto fail;
	while (opts && opts->debug_dirs && opts->debug_dirs[n])
		n++;
	if (!(s->debug_dirs = arena_zalloc(s->arena, (n + 2) * sizeof(char *))))
		goto fail;
	for (i = 0; i < n; i++)
		if (!(s->debug_dirs[i] = arena_strdup(s->arena,
						      opts->debug_dirs[i])))
			goto fail;
	if (!(s->debug_dirs[n] = arena_concat(s->arena, s->root ? s->root : "",
					      "/usr/lib/debug")))
		goto fail;
	if (home && home[0] == '/' &&
	    !(s->home_debug = arena_concat(s->arena, home, "/.debug")))
		goto fail;
	return s;
fail:
	symbols_free(s);
	return NULL;
}

static void dso_free(struct dso *d)
{
	size_t i;

	for (i = 0; i < d->ncus; i++) {
		free(d->cus[i].nodes);
		free(d->cus[i].segs);
	}
	free(d->cus);
	free(d->cur);
	if (d->dw)
		dwarf_end(d->dw);
	elf_end(d->dbg);
	elf_end(d->elf);
	free(d->loads);
	free(d->syms);
	free(d->cache);
	free(d->path);
	free(d->file);
	free(d->error);
	free(d);
}

void symbols_free(struct symbols *s)
{
	struct dso *d, *dn;
	struct bid_ent *b, *bn;
	size_t i;

	if (!s)
		return;
	symbols_kernel_wait(s, NULL);
	for (i = 0; i < DSO_BUCKETS; i++)
		for (d = s->dsos[i]; d; d = dn) {
			dn = d->next;
			dso_free(d);
		}
	for (i = 0; i < BID_BUCKETS; i++)
		for (b = s->bids[i]; b; b = bn) {
			bn = b->next;
			free(b->path);
			free(b);
		}
	free(s->ksyms);
	arena_free(s->karena);
	strtab_free(s->names);
	arena_free(s->arena);
	if (s->cxx)
		dlclose(s->cxx);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct bid_ent **bid_slot(struct symbols *s, const char *path)
{
	struct bid_ent **p = &s->bids[hash_bytes(1469598103934665603ull, path,
						 strlen(path)) % BID_BUCKETS];

	while (*p && strcmp((*p)->path, path))
		p = &(*p)->next;
	return p;
}

static int add_build_id(struct symbols *s, const char *path,
			const uint8_t *build_id, size_t size)
{
	struct bid_ent **p = bid_slot(s, path), *b = *p;

	size = build_id__trim(build_id, size);
	if (!size || size > BUILD_ID_MAX)
		return -PM_ECORRUPT;
	if (!b) {
		if (!(b = calloc(1, sizeof(*b))) || !(b->path = strdup(path))) {
			free(b);
			return -PM_ENOMEM;
		}
		*p = b;
	}
	memcpy(b->id, build_id, size);
	b->size = size;
	return 0;
}

static struct dso *dso_get(struct symbols *s, const char *path,
			   const uint8_t *build_id, size_t build_id_size)
{
	struct bid_ent *b;
	struct dso *d;
	const char *base;
	uint64_t h;

	if (build_id)
		build_id_size = build_id__trim(build_id, build_id_size);
	if (!build_id || !build_id_size) {
		b = *bid_slot(s, path);
		build_id = b ? b->id : NULL;
		build_id_size = b ? b->size : 0;
	}
	if (!build_id || build_id_size > BUILD_ID_MAX) {
		build_id = (const uint8_t *)"";	/* none, or not a build-id */
		build_id_size = 0;
	}
	h = hash_bytes(1469598103934665603ull, path, strlen(path));
	h = hash_bytes(h, build_id, build_id_size) % DSO_BUCKETS;
	for (d = s->dsos[h]; d; d = d->next)
		if (!strcmp(d->path, path) && d->key_bid_size == build_id_size &&
		    !memcmp(d->key_bid, build_id, build_id_size))
			return d;
	if (!(d = calloc(1, sizeof(*d))) || !(d->path = strdup(path))) {
		free(d);
		return NULL;
	}
	d->s = s;
	d->fp = -1;
	base = strrchr(d->path, '/');
	d->name = base ? base + 1 : d->path;
	if (build_id_size) {
		memcpy(d->key_bid, build_id, build_id_size);
		memcpy(d->bid, build_id, build_id_size);
	}
	d->key_bid_size = d->bid_size = build_id_size;
	dso_open(d);
	if (!d->error && !d->elf) {	/* OOM while opening */
		dso_free(d);
		return NULL;
	}
	d->next = s->dsos[h];
	s->dsos[h] = d;
	return d;
}


int symbols_add_build_id(struct symbols *s, const char *path,
			 const uint8_t *build_id, size_t size)
{
	SYMBOLS_LOCKED(s, int, add_build_id(s, path, build_id, size));
}

struct dso *symbols_dso(struct symbols *s, const char *path,
			const uint8_t *build_id, size_t build_id_size)
{
	SYMBOLS_LOCKED(s, struct dso *,
		       dso_get(s, path, build_id, build_id_size));
}
