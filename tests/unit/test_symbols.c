/*
 * test_symbols.c - native symbolization against this very binary (built
 * -g -O2), libc and libpython; separate debug files and build-id caches
 * made on the fly; kallsyms from inline fixtures.
 *
 * Set PM_BENCH_N=1000000 to time a million random lookups in libpython.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "symbols.h"

#define LIBPYTHON "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"
#define FP_PYTHON "/root/.cache/pyperf-merge/python3.13-fp/bin/python3.13"
#define FP_LIBPYTHON \
	"/root/.cache/pyperf-merge/python3.13-fp/lib/libpython3.13.so.1.0"

static void *volatile probe_ra;
static volatile int sink;

/* Records where it was called from: inside the inlined helper below. */
__attribute__((noinline, noclone)) static void tst_probe(void)
{
	probe_ra = __builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) int tst_inlined_helper(int x)
{
	tst_probe();
	return x * 3 + sink;
}

__attribute__((noinline, noclone)) int tst_outer_function(int x);
int tst_outer_function(int x)
{
	int r = tst_inlined_helper(x);

	sink = r;
	return r + 7;
}

__attribute__((noinline, noclone)) int tst_noinline_function(int n);
int tst_noinline_function(int n)
{
	int i, s = 0;

	for (i = 0; i < n; i++)
		s += i * sink + (s >> 3);
	return s;
}

/* The file mapping holding addr, from /proc/self/maps. */
static bool find_mapping(uintptr_t addr, char *path, size_t size,
			 uint64_t *off)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, pgoff;
		char perms[8], *p;
		int n = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi,
			   perms, &pgoff, &n) < 4 || !n ||
		    addr < lo || addr >= hi)
			continue;
		p = line + n;
		p[strcspn(p, "\n")] = '\0';
		if (p[0] != '/')
			break;
		snprintf(path, size, "%s", p);
		*off = addr - lo + pgoff;
		found = true;
	}
	if (f)
		fclose(f);
	return found;
}

static int bid_cb(struct dl_phdr_info *info, size_t sz, void *data)
{
	uint8_t *out = data;
	int i;

	(void)sz;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		size_t off = 0;

		if (ph->p_type != PT_NOTE)
			continue;
		while (off + sizeof(ElfW(Nhdr)) <= ph->p_memsz) {
			ElfW(Nhdr) nh;

			memcpy(&nh, p + off, sizeof(nh));
			off += sizeof(nh);
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    nh.n_descsz <= 64 &&
			    !memcmp(p + off, "GNU", 4)) {
				out[0] = (uint8_t)nh.n_descsz;
				memcpy(out + 1, p + off + 4, nh.n_descsz);
				return 1;
			}
			off += ((nh.n_namesz + 3) & ~3u) +
			       ((nh.n_descsz + 3) & ~3u);
		}
	}
	return 1;	/* the first object is the main program */
}

static bool copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	bool ok = in && out;

	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out))
		ok = false;
	return ok;
}

static bool make_dirs(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	return mkdir(tmp, 0755) == 0;
}

static const char *last_name(const struct sym_frame *f, int n)
{
	return n > 0 ? f[n - 1].name : NULL;
}

static char self_path[4096];
static uint64_t fn_off, inl_off;
static uint8_t self_bid[65];	/* [0] = size */
static char tmpdir[] = "/tmp/test_symbols.XXXXXX";

static void test_self(struct symbols *s)
{
	struct sym_frame f[16];
	char path[4096];
	struct dso *d;
	uint64_t off, va;
	const char *file;
	int n;

	CHECK(find_mapping((uintptr_t)tst_noinline_function + 5, self_path,
			   sizeof(self_path), &fn_off));
	d = symbols_dso(s, self_path, NULL, 0);
	CHECK(d && !dso_error(d));
	if (!d || dso_error(d))
		return;
	CHECK(symbols_dso(s, self_path, NULL, 0) == d);	/* cached */
	CHECK_STR(dso_path(d), self_path);
	CHECK(!strncmp(dso_name(d), "test_symbols", 12) &&
	      !strchr(dso_name(d), '/'));
	CHECK_STR(dso_file(d), self_path);
	n = dso_lookup(d, fn_off, f, 16);
	CHECK(n >= 1);
	CHECK_STR(last_name(f, n), "tst_noinline_function");
	CHECK(n >= 1 && !f[n - 1].inlined);
	/* repeated: from the cache, same answer */
	CHECK(dso_lookup(d, fn_off, f, 16) == n);
	CHECK_STR(last_name(f, n), "tst_noinline_function");

	CHECK(dso_offset_to_vaddr(d, fn_off, &va));
	CHECK(dso_symbol_addr(d, "tst_noinline_function", &va, NULL) &&
	      dso_offset_to_vaddr(d, fn_off, &off) && off == va + 5);
	CHECK(!dso_offset_to_vaddr(d, UINT64_MAX - 1, &va));
	CHECK(dso_lookup(d, UINT64_MAX - 1, f, 16) == 0);
	CHECK(!dso_symbol_addr(d, "no_such_symbol_anywhere", &va, NULL));

	/* dso_read gives the code bytes of the mapping */
	{
		unsigned char b[8];

		CHECK(dso_symbol_addr(d, "tst_noinline_function", &va, NULL));
		CHECK(dso_read(d, va, b, sizeof(b)) &&
		      !memcmp(b, (const void *)(uintptr_t)tst_noinline_function,
			      sizeof(b)));
		CHECK(!dso_read(d, UINT64_MAX - 4, b, sizeof(b)));
	}

	/* inline: the call to tst_probe sits in tst_inlined_helper's code */
	tst_outer_function(2);
	CHECK(probe_ra != NULL);
	CHECK(find_mapping((uintptr_t)probe_ra - 1, path, sizeof(path),
			   &inl_off));
	n = dso_lookup(d, inl_off, f, 16);
	CHECK(n >= 2);
	if (n >= 2) {
		CHECK_STR(f[0].name, "tst_inlined_helper");
		CHECK(f[0].inlined);
		file = f[0].file ? strrchr(f[0].file, '/') : NULL;
		CHECK_STR(file, "/test_symbols.c");
		CHECK(f[0].line > 0);
		CHECK_STR(f[n - 1].name, "tst_outer_function");
		CHECK(!f[n - 1].inlined);
		CHECK(f[n - 1].line > 0 && f[n - 1].line != f[0].line);
	}
	/* out[] of one slot keeps the containing function */
	CHECK(dso_lookup(d, inl_off, f, 1) == 1);
	CHECK_STR(f[0].name, "tst_outer_function");

	/* this binary is built without -fno-omit-frame-pointer */
	CHECK(!dso_has_frame_pointers(d));
}

static void test_no_inline(void)
{
	struct symbols_opts o = { .inline_frames = false };
	struct symbols *s = symbols_new(&o);
	struct sym_frame f[16];
	struct dso *d;
	int n;

	d = s ? symbols_dso(s, self_path, NULL, 0) : NULL;
	n = d ? dso_lookup(d, inl_off, f, 16) : -1;
	CHECK(n == 1);
	CHECK_STR(last_name(f, n), "tst_outer_function");
	symbols_free(s);
}

static void test_libc(struct symbols *s)
{
	void *w = dlsym(RTLD_DEFAULT, "write");
	struct sym_frame f[16];
	char path[4096];
	uint64_t off, va, sva;
	struct dso *d;
	int n;

	CHECK(w != NULL);
	if (!w || !find_mapping((uintptr_t)w, path, sizeof(path), &off)) {
		CHECK(!"libc mapping");
		return;
	}
	d = symbols_dso(s, path, NULL, 0);
	CHECK(d && !dso_error(d));
	if (!d || dso_error(d))
		return;
	n = dso_lookup(d, off, f, 16);
	CHECK(n >= 1);
	if (n < 1)
		return;
	printf("test_symbols: libc write -> %s (%s)\n", f[n - 1].name,
	       dso_file(d));
	/* one of write's aliases (write, __write, __libc_write ...), at the
	 * very address dlsym gave */
	CHECK(strstr(f[n - 1].name, "write") != NULL);
	CHECK(dso_offset_to_vaddr(d, off, &va));
	CHECK(dso_symbol_addr(d, f[n - 1].name, &sva, NULL) && sva == va);
	CHECK(dso_symbol_addr(d, "write", &sva, NULL) && sva == va);
}

static void test_errors(struct symbols *s)
{
	struct sym_frame f[4];
	uint8_t fake[20];
	char path[4200];
	struct dso *d;
	FILE *t;

	d = symbols_dso(s, "/nonexistent/dir/libfoo.so.1", NULL, 0);
	CHECK(d != NULL);
	if (d) {
		CHECK(dso_lookup(d, 0x1000, f, 4) == -PM_ENOTFOUND);
		CHECK(dso_error(d) && strstr(dso_error(d),
				"/nonexistent/dir/libfoo.so.1: No such file"));
		CHECK_STR(dso_name(d), "libfoo.so.1");
		CHECK(!dso_has_frame_pointers(d));
	}
	snprintf(path, sizeof(path), "%s/not-elf.so", tmpdir);
	t = fopen(path, "w");
	if (t) {
		fputs("this is not an ELF file\n", t);
		fclose(t);
	}
	d = symbols_dso(s, path, NULL, 0);
	CHECK(d && dso_lookup(d, 0, f, 4) < 0);
	CHECK(d && dso_error(d) && strstr(dso_error(d), "not an ELF file"));

	/* the file on disk has another build-id than the recorded one */
	memset(fake, 0xab, sizeof(fake));
	d = symbols_dso(s, self_path, fake, sizeof(fake));
	CHECK(d && d != symbols_dso(s, self_path, NULL, 0));
	CHECK(d && dso_lookup(d, fn_off, f, 4) == -PM_ENOTFOUND);
	snprintf(path, sizeof(path),
		 "%s: build-id mismatch (file changed since recording)",
		 self_path);
	CHECK_STR(d ? dso_error(d) : NULL, path);

	/* the same through the BUILD_ID feature */
	copy_file(self_path, (snprintf(path, sizeof(path), "%s/changed",
				       tmpdir), path));
	CHECK(symbols_add_build_id(s, path, fake, sizeof(fake)) == 0);
	d = symbols_dso(s, path, NULL, 0);
	CHECK(d && dso_error(d) && strstr(dso_error(d), "build-id mismatch"));
	/* the right build-id (zero padding as in perf.data) is accepted */
	{
		uint8_t padded[24] = { 0 };

		memcpy(padded, self_bid + 1, self_bid[0]);
		d = symbols_dso(s, path, padded, sizeof(padded));
		CHECK(d && !dso_error(d) && dso_lookup(d, fn_off, f, 4) >= 1);
		CHECK_STR(d ? last_name(f, 1) : NULL, "tst_noinline_function");
	}
}

/* A binary that changed since recording: copies found by build-id. */
static void test_build_id_caches(void)
{
	const char *dirs[] = { NULL, NULL };
	struct symbols_opts o = { .inline_frames = true, .debug_dirs = dirs };
	char hex[130], ddir[4200], p[4400], changed[4200], home[4200];
	char cmd[10000];
	struct sym_frame f[16];
	struct symbols *s;
	struct dso *d;
	unsigned char b[4];
	uint64_t va;
	int i, n;

	for (i = 0; i < self_bid[0]; i++)
		sprintf(hex + 2 * i, "%02x", self_bid[1 + i]);
	snprintf(changed, sizeof(changed), "%s/bin/prog", tmpdir);
	make_dirs((snprintf(p, sizeof(p), "%s/bin", tmpdir), p));
	CHECK(copy_file("/bin/true", changed));

	/* 1. a debug tree holding the binary as .debug (no code bytes) */
	snprintf(ddir, sizeof(ddir), "%s/debug", tmpdir);
	snprintf(p, sizeof(p), "%s/.build-id/%.2s", ddir, hex);
	make_dirs(p);
	snprintf(p, sizeof(p), "%s/.build-id/%.2s/%s.debug", ddir, hex, hex + 2);
	snprintf(cmd, sizeof(cmd), "objcopy --only-keep-debug '%s' '%s'",
		 self_path, p);
	if (system(cmd) != 0) {
		printf("test_symbols: objcopy failed or missing: using a plain "
		       "copy as the .debug file\n");
		CHECK(copy_file(self_path, p));
	}
	dirs[0] = ddir;
	s = symbols_new(&o);
	d = s ? symbols_dso(s, changed, self_bid + 1, self_bid[0]) : NULL;
	CHECK(d && !dso_error(d));
	CHECK_STR(d ? dso_file(d) : NULL, p);
	n = d ? dso_lookup(d, fn_off, f, 16) : -1;
	CHECK_STR(last_name(f, n), "tst_noinline_function");
	CHECK(d && dso_symbol_addr(d, "tst_noinline_function", &va, NULL) &&
	      !dso_read(d, va, b, sizeof(b)));	/* not the code */
	symbols_free(s);
	unlink(p);

	/* 2. perf's build-id cache under $HOME/.debug: a real copy */
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(p, sizeof(p), "%s/.debug/.build-id/%.2s/%s", home, hex,
		 hex + 2);
	make_dirs(p);
	snprintf(p, sizeof(p), "%s/.debug/.build-id/%.2s/%s/elf", home, hex,
		 hex + 2);
	CHECK(copy_file(self_path, p));
	setenv("HOME", home, 1);
	s = symbols_new(&o);
	d = s ? symbols_dso(s, changed, self_bid + 1, self_bid[0]) : NULL;
	CHECK(d && !dso_error(d));
	CHECK_STR(d ? dso_file(d) : NULL, p);
	n = d ? dso_lookup(d, inl_off, f, 16) : -1;
	CHECK(n >= 2);
	CHECK_STR(last_name(f, n), "tst_outer_function");
	CHECK(d && dso_symbol_addr(d, "tst_noinline_function", &va, NULL) &&
	      dso_read(d, va, b, sizeof(b)) &&
	      !memcmp(b, (const void *)(uintptr_t)tst_noinline_function, 4));
	symbols_free(s);

	/* 3. opts.root prefixes the mapped path */
	{
		struct symbols_opts r = { .inline_frames = true, .root = tmpdir };

		s = symbols_new(&r);
		d = s ? symbols_dso(s, "/bin/prog", NULL, 0) : NULL;
		CHECK(d && !dso_error(d));
		CHECK_STR(d ? dso_file(d) : NULL, changed);
		CHECK_STR(d ? dso_path(d) : NULL, "/bin/prog");
		symbols_free(s);
	}
}

/* A stripped binary whose symbols and DWARF are in a separate file. */
static void test_stripped(void)
{
	const char *dirs[] = { NULL, NULL };
	struct symbols_opts o = { .inline_frames = true, .debug_dirs = dirs };
	char hex[130], ddir[4200], dbg[4400], bin[4200], cmd[20000];
	struct sym_frame f[16];
	struct symbols *s;
	struct dso *d;
	int i, n;

	for (i = 0; i < self_bid[0]; i++)
		sprintf(hex + 2 * i, "%02x", self_bid[1 + i]);
	snprintf(ddir, sizeof(ddir), "%s/dbg2", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s", ddir, hex);
	make_dirs(dbg);
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s/%s.debug", ddir, hex,
		 hex + 2);
	snprintf(bin, sizeof(bin), "%s/stripped", tmpdir);
	snprintf(cmd, sizeof(cmd), "objcopy --only-keep-debug '%s' '%s' && "
		 "objcopy --strip-all '%s' '%s'", self_path, dbg, self_path,
		 bin);
	if (system(cmd) != 0) {
		printf("test_symbols: skipping stripped-binary test: objcopy "
		       "failed or missing\n");
		return;
	}
	dirs[0] = ddir;
	s = symbols_new(&o);
	d = s ? symbols_dso(s, bin, NULL, 0) : NULL;
	CHECK(d && !dso_error(d));
	CHECK_STR(d ? dso_file(d) : NULL, bin);
	n = d ? dso_lookup(d, fn_off, f, 16) : -1;
	CHECK_STR(last_name(f, n), "tst_noinline_function");
	n = d ? dso_lookup(d, inl_off, f, 16) : -1;
	CHECK(n >= 2);
	CHECK_STR(n >= 2 ? f[0].name : NULL, "tst_inlined_helper");
	CHECK_STR(last_name(f, n), "tst_outer_function");
	symbols_free(s);

	/* without the debug dir: .dynsym only, no tst_ functions there */
	s = symbols_new(NULL);
	d = s ? symbols_dso(s, bin, NULL, 0) : NULL;
	n = d ? dso_lookup(d, fn_off, f, 16) : -1;
	CHECK(n >= 0 && !(n > 0 && !strcmp(f[n - 1].name,
					   "tst_noinline_function")));
	symbols_free(s);
}

static void test_libpython(struct symbols *s)
{
	struct dso *d;
	uint64_t start, size, end;
	unsigned char b[16];
	char cmd[8300];
	static const unsigned char tmpl[] = { 0x48, 0x83, 0xec, 0x08 };

	if (access(LIBPYTHON, R_OK)) {
		printf("test_symbols: skipping libpython checks: %s absent\n",
		       LIBPYTHON);
		return;
	}
	d = symbols_dso(s, LIBPYTHON, NULL, 0);
	CHECK(d && !dso_error(d));
	if (!d || dso_error(d))
		return;
	CHECK(dso_symbol_addr(d, "_Py_trampoline_func_start", &start, &size));
	CHECK(dso_symbol_addr(d, "_Py_trampoline_func_end", &end, NULL));
	CHECK(end - start == 11);	/* 3.12: sub; call *%rcx; add; ret */
	CHECK(dso_read(d, start, b, 11) && !memcmp(b, tmpl, sizeof(tmpl)) &&
	      b[10] == 0xc3);
	CHECK(!dso_has_frame_pointers(d));
	if (access(FP_PYTHON, R_OK) || access(FP_LIBPYTHON, R_OK)) {
		printf("test_symbols: skipping frame-pointer python: %s "
		       "absent\n", FP_LIBPYTHON);
		return;
	}
	/* decided by DW_AT_producer (-fno-omit-frame-pointer) */
	d = symbols_dso(s, FP_PYTHON, NULL, 0);
	CHECK(d && dso_has_frame_pointers(d));
	d = symbols_dso(s, FP_LIBPYTHON, NULL, 0);
	CHECK(d && dso_has_frame_pointers(d));
	/* without DWARF: decided by the prologues of its largest functions */
	snprintf(cmd, sizeof(cmd), "objcopy --strip-debug '%s' '%s/fp.so'",
		 FP_LIBPYTHON, tmpdir);
	if (system(cmd) != 0) {
		printf("test_symbols: skipping prologue heuristic: objcopy "
		       "failed or missing\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s/fp.so", tmpdir);
	d = symbols_dso(s, cmd, NULL, 0);
	CHECK(d && !dso_error(d) && dso_has_frame_pointers(d));
}

/* C++ names come back demangled (libstdc++ is dlopen()ed for that). */
static void test_demangle(struct symbols *s)
{
	const char *lib = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
	struct sym_frame f[4];
	struct dso *d;
	uint64_t va, v2;
	int n;

	if (access(lib, R_OK)) {
		printf("test_symbols: skipping demangling: %s absent\n", lib);
		return;
	}
	d = symbols_dso(s, lib, NULL, 0);
	CHECK(d && dso_symbol_addr(d, "_ZNSt9exceptionD0Ev", &va, NULL));
	/* GNU ld maps its text at file offset == vaddr; check, then use */
	CHECK(d && dso_offset_to_vaddr(d, va + 1, &v2) && v2 == va + 1);
	n = d ? dso_lookup(d, va + 1, f, 4) : -1;
	CHECK_STR(last_name(f, n), "std::exception::~exception()");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Random offsets in libpython's text: first pass (cold) and repeated. */
static void bench(void)
{
	const char *env = getenv("PM_BENCH_N");
	long count = env ? atol(env) : 100000, i, hit = 0;
	struct symbols *s;
	struct sym_frame f[32];
	struct dso *d;
	uint64_t lo, hi, x = 88172645463325252ull, *offs;
	double t0, t1, t2;

	if (access(LIBPYTHON, R_OK) || count <= 0)
		return;
	s = symbols_new(NULL);
	d = s ? symbols_dso(s, LIBPYTHON, NULL, 0) : NULL;
	offs = malloc((size_t)count * sizeof(*offs));
	if (!d || !offs || !dso_symbol_addr(d, "_PyEval_EvalFrameDefault",
					    &lo, NULL)) {
		CHECK(!"bench setup");
		goto out;
	}
	/* .text of 3.12.1 spans about 0x10ba10..0x2e0000: offsets == vaddrs */
	lo = 0x10ba10;
	hi = 0x2e0000;
	for (i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		offs[i] = lo + x % (hi - lo);
	}
	t0 = now();
	for (i = 0; i < count; i++)
		hit += dso_lookup(d, offs[i], f, 32) > 0;
	t1 = now();
	for (i = 0; i < count; i++)
		dso_lookup(d, offs[i % 4096], f, 32);
	t2 = now();
	printf("test_symbols: libpython %ld random lookups: %.3f s CPU (%.2f us "
	       "each, %ld resolved); %ld repeated: %.3f s (%.3f us each)\n",
	       count, t1 - t0, (t1 - t0) * 1e6 / (double)count, hit, count,
	       t2 - t1, (t2 - t1) * 1e6 / (double)count);
	CHECK(hit > count * 9 / 10);
out:
	free(offs);
	symbols_free(s);
}

static const char kallsyms_fixture[] =
	"0000000000000000 A fixed_percpu_data\n"
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81001000 T do_one_initcall\n"
	"ffffffff81001200 t helper_local\n"
	"ffffffff81002000 D some_data\n"
	"ffffffff81003000 W weak_fn\n"
	"not a line\n"
	"ffffffffc0a01000 t mod_fn\t[mymod]\n"
	"ffffffffc0a01100 T mod_fn2\t[mymod]\n";

static const char kallsyms_zero[] =
	"0000000000000000 T _text\n"
	"0000000000000000 T do_one_initcall\n";

static struct symbols *kallsyms_from(const char *text, const char *name)
{
	struct symbols_opts o = { .inline_frames = true };
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	o.kallsyms = path;
	return symbols_new(&o);	/* copies the path */
}

static void test_kallsyms(void)
{
	struct pm_error err = { 0 };
	struct utsname u;
	struct symbols *s;
	uint8_t fake[20];

	CHECK(uname(&u) == 0);
	s = kallsyms_from(kallsyms_fixture, "kallsyms");
	CHECK(s && !symbols_kernel_usable(s));
	CHECK(s && symbols_kernel_lookup(s, 0xffffffff81001000) == NULL);
	CHECK(s && symbols_load_kernel(s, u.release, NULL, 0, &err) == 0);
	CHECK(s && symbols_kernel_usable(s));
	if (s && symbols_kernel_usable(s)) {
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffff81000010), "_stext");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffff81001000),
			  "do_one_initcall");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffff810011ff),
			  "do_one_initcall");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffff81001200),
			  "helper_local");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffff81003001),
			  "weak_fn");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffffc0a01050),
			  "mod_fn");
		CHECK_STR(symbols_kernel_lookup(s, 0xffffffffc0a01100),
			  "mod_fn2");
		CHECK(symbols_kernel_lookup(s, 0xffffffff80ffffff) == NULL);
		CHECK(symbols_kernel_lookup(s, 0xffffffffc0b01100) == NULL);
	}
	/* recorded on another kernel */
	CHECK(s && symbols_load_kernel(s, "0.0.1-elsewhere", NULL, 0,
				       &err) < 0);
	CHECK(s && !symbols_kernel_usable(s) &&
	      !symbols_kernel_lookup(s, 0xffffffff81001000));
	CHECK(strstr(err.msg, "0.0.1-elsewhere") && strstr(err.msg, u.release));
	/* another build-id than /sys/kernel/notes says */
	memset(fake, 0x5a, sizeof(fake));
	if (access("/sys/kernel/notes", R_OK) == 0) {
		CHECK(s && symbols_load_kernel(s, u.release, fake, sizeof(fake),
					       &err) < 0);
		CHECK(strstr(err.msg, "build-id") != NULL);
	}
	symbols_free(s);

	/* kptr_restrict / not root: every address reads as zero */
	s = kallsyms_from(kallsyms_zero, "kallsyms0");
	CHECK(s && symbols_load_kernel(s, u.release, NULL, 0, &err) < 0);
	CHECK(s && !symbols_kernel_usable(s));
	CHECK(strstr(err.msg, "all addresses are zero") != NULL);
	symbols_free(s);

	s = kallsyms_from("", "kallsyms-empty");
	CHECK(s && symbols_load_kernel(s, NULL, NULL, 0, &err) < 0);
	symbols_free(s);
}

int main(void)
{
	struct symbols *s;
	char cmd[100];

	unsetenv("DEBUGINFOD_URLS");
	dl_iterate_phdr(bid_cb, self_bid);
	CHECK(self_bid[0] > 0);
	if (!mkdtemp(tmpdir)) {
		CHECK(!"mkdtemp");
		return check_done();
	}
	s = symbols_new(NULL);
	CHECK(s != NULL);
	if (s) {
		test_self(s);
		test_libc(s);
		test_errors(s);
		test_libpython(s);
		test_demangle(s);
	}
	symbols_free(s);
	test_no_inline();
	test_stripped();
	test_kallsyms();
	bench();
	test_build_id_caches();		/* changes $HOME: last */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("test_symbols: could not remove %s\n", tmpdir);
	return check_done();
}
