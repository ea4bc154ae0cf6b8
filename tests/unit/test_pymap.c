/* test_pymap.c - perf map parsing, overlap rules, labels, ownership. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "pymap.h"

static struct pymap *parse(const char *text)
{
	return pymap_parse(text, strlen(text));
}

static const char *label_at(const struct pymap *m, uint64_t addr)
{
	const struct pymap_entry *e = pymap_lookup(m, addr);

	return e ? e->label : NULL;
}

static void test_basic(void)
{
	/* as CPython 3.12 writes it: hex without 0x, 11-byte trampolines */
	static const char text[] =
		"7f3a1c2e4000 b py::<module>:/src/app.py\n"
		"7f3a1c2e400b b py::Matrix.multiply:/src/lib/matrix.py\n"
		"7f3a1c2e4016 b py::f.<locals>.g:/usr/lib/python3.12/pkg/__init__.py\n"
		"7f3a1c2e4021 b py::main:/srv/tool/__main__.py\n"
		"7f3a1c2e402c b py::<lambda>:<string>\n"
		"7f3a1c2e4037 b py::_find_and_load:<frozen importlib._bootstrap>\n"
		"7f3a1c2e4042 b py::top:__init__.py\n"
		"7f3a1c2f0000 20 some_native_jit_stub\n";
	struct pymap *m = parse(text);
	const struct pymap_entry *e;

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(pymap_count(m) == 8);
	CHECK(pymap_bad_lines(m) == 0);

	/* boundaries: [start, start + size) */
	CHECK(pymap_lookup(m, 0x7f3a1c2e3fff) == NULL);
	e = pymap_lookup(m, 0x7f3a1c2e4000);
	CHECK(e && e->start == 0x7f3a1c2e4000 && e->size == 0xb);
	CHECK_STR(e ? e->qualname : NULL, "<module>");
	CHECK_STR(e ? e->filename : NULL, "/src/app.py");
	CHECK_STR(e ? e->name : NULL, "py::<module>:/src/app.py");
	CHECK_STR(label_at(m, 0x7f3a1c2e400a), "<module> (app.py)");
	CHECK_STR(label_at(m, 0x7f3a1c2e400b), "Matrix.multiply (matrix.py)");
	CHECK_STR(label_at(m, 0x7f3a1c2e4016),
		  "f.<locals>.g (pkg/__init__.py)");
	CHECK_STR(label_at(m, 0x7f3a1c2e4021), "main (tool/__main__.py)");
	CHECK_STR(label_at(m, 0x7f3a1c2e402c), "<lambda> (<string>)");
	CHECK_STR(label_at(m, 0x7f3a1c2e4037),
		  "_find_and_load (<frozen importlib._bootstrap>)");
	CHECK_STR(label_at(m, 0x7f3a1c2e4042), "top (__init__.py)");
	CHECK(pymap_lookup(m, 0x7f3a1c2e404d) == NULL);	/* gap */
	e = pymap_lookup(m, 0x7f3a1c2f001f);
	CHECK(e && e->qualname == NULL && e->filename == NULL);
	CHECK_STR(e ? e->label : NULL, "some_native_jit_stub");
	CHECK(pymap_lookup(m, 0x7f3a1c2f0020) == NULL);
	CHECK(pymap_lookup(m, 0) == NULL);
	CHECK(pymap_lookup(m, UINT64_MAX) == NULL);
	pymap_free(m);
}

static void test_malformed(void)
{
	/* 0x prefixes accepted; CRLF; tabs; blank lines not counted */
	static const char text[] =
		"0x1000 0x10 py::a:/x/a.py\n"
		"\n"
		"2000\t10\tpy::b:/x/b.py\r\n"
		"garbage line\n"			/* bad: no hex */
		"3000 10\n"				/* bad: no name */
		"3000 zz name\n"			/* bad: size not hex */
		"3000 0 zero_size\n"			/* bad: empty */
		"12345678901234567 10 too_many_digits\n"	/* bad */
		"ffffffffffffff00 200 wraps\n"		/* bad: start+size */
		"ffffffffffffff00 100\n"		/* bad */
		"4000x 10 junk_after_start\n"		/* bad */
		"ffffffffffffffe0 10 top_of_space\n"	/* ok */
		"5000 10 nul\0inside\n"			/* bad: NUL */
		"6000 8 last_without_newline";
	struct pymap *m = pymap_parse(text, sizeof(text) - 1);

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(pymap_count(m) == 4);
	CHECK(pymap_bad_lines(m) == 9);
	CHECK_STR(label_at(m, 0x100f), "a (a.py)");
	CHECK_STR(label_at(m, 0x2000), "b (b.py)");
	CHECK_STR(label_at(m, 0xffffffffffffffef), "top_of_space");
	CHECK(pymap_lookup(m, 0xfffffffffffffff0) == NULL);
	CHECK_STR(label_at(m, 0x6007), "last_without_newline");
	CHECK(pymap_lookup(m, 0x5000) == NULL);
	pymap_free(m);

	m = pymap_parse("", 0);
	CHECK(m && pymap_count(m) == 0 && pymap_lookup(m, 0) == NULL);
	pymap_free(m);
}

static void test_names(void)
{
	/* split at the first ':' after py::; spaces kept in names */
	static const char text[] =
		"1000 10 py::run:C:/weird:dir/my app.py\n"
		"2000 10 py::nofilename\n"
		"3000 10 py:::/x/empty_qual.py\n"
		"4000 10 py::q:\n"
		"5000 10 [stub] with spaces\n"
		"6000 10 py::Klass.meth:/a/b/c/__main__.py.bak\n";
	struct pymap *m = parse(text);
	const struct pymap_entry *e;

	CHECK(m && pymap_count(m) == 6);
	if (!m)
		return;
	e = pymap_lookup(m, 0x1000);
	CHECK_STR(e ? e->qualname : NULL, "run");
	CHECK_STR(e ? e->filename : NULL, "C:/weird:dir/my app.py");
	CHECK_STR(e ? e->label : NULL, "run (my app.py)");
	e = pymap_lookup(m, 0x2000);
	CHECK(e && !e->qualname && !e->filename);
	CHECK_STR(e ? e->label : NULL, "py::nofilename");
	e = pymap_lookup(m, 0x3000);
	CHECK_STR(e ? e->qualname : NULL, "");
	CHECK_STR(e ? e->label : NULL, " (empty_qual.py)");
	CHECK_STR(label_at(m, 0x4000), "q");
	CHECK_STR(label_at(m, 0x5000), "[stub] with spaces");
	CHECK_STR(label_at(m, 0x6000), "Klass.meth (__main__.py.bak)");
	pymap_free(m);
}

static void test_overlaps(void)
{
	/* same start: the later line wins; overlaps: the later wins where
	 * they overlap and the earlier keeps the rest */
	static const char text[] =
		"1000 10 py::old:/a.py\n"
		"1000 10 py::new:/a.py\n"
		"2000 100 py::big:/b.py\n"
		"2040 10 py::inner:/b.py\n"
		"3000 20 py::first:/c.py\n"
		"3010 20 py::second:/c.py\n"
		"4010 10 py::later_low:/d.py\n"
		"4000 40 py::latest_wide:/d.py\n"
		"5000 10 dup\n"
		"5000 10 dup\n";
	struct pymap *m = parse(text);
	const struct pymap_entry *e;

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(pymap_bad_lines(m) == 0);
	CHECK_STR(label_at(m, 0x1000), "new (a.py)");
	CHECK_STR(label_at(m, 0x100f), "new (a.py)");
	CHECK_STR(label_at(m, 0x203f), "big (b.py)");
	CHECK_STR(label_at(m, 0x2040), "inner (b.py)");
	CHECK_STR(label_at(m, 0x204f), "inner (b.py)");
	CHECK_STR(label_at(m, 0x2050), "big (b.py)");
	CHECK_STR(label_at(m, 0x20ff), "big (b.py)");
	e = pymap_lookup(m, 0x2050);
	CHECK(e && e->start == 0x2050 && e->size == 0xb0);
	CHECK_STR(label_at(m, 0x300f), "first (c.py)");
	CHECK_STR(label_at(m, 0x3010), "second (c.py)");
	CHECK_STR(label_at(m, 0x302f), "second (c.py)");
	CHECK(pymap_lookup(m, 0x3030) == NULL);
	CHECK_STR(label_at(m, 0x4015), "latest_wide (d.py)");
	CHECK_STR(label_at(m, 0x403f), "latest_wide (d.py)");
	e = pymap_lookup(m, 0x4000);
	CHECK(e && e->start == 0x4000 && e->size == 0x40);
	CHECK_STR(label_at(m, 0x5000), "dup");
	/* 1000 new, 2000 big/inner/big, 3000 first/second, 4000, 5000 */
	CHECK(pymap_count(m) == 8);
	pymap_free(m);
}

static void test_many(void)
{
	/* 10000 sorted-in-reverse entries: lookups stay exact */
	size_t n = 10000, i, len = 0, ok = 0;
	char *text = malloc(n * 48);
	struct pymap *m;

	if (!text)
		return;
	for (i = n; i-- > 0;)
		len += (size_t)sprintf(text + len, "%zx b py::f%zu:/m.py\n",
				       0x7f0000000000 + i * 16, i);
	m = pymap_parse(text, len);
	CHECK(m && pymap_count(m) == n);
	for (i = 0; m && i < n; i++) {
		const struct pymap_entry *e =
			pymap_lookup(m, 0x7f0000000000 + i * 16 + 10);
		char want[32];

		snprintf(want, sizeof(want), "f%zu", i);
		ok += e && !strcmp(e->qualname, want) &&
		      !pymap_lookup(m, 0x7f0000000000 + i * 16 + 11);
	}
	CHECK(ok == n);
	pymap_free(m);
	free(text);
}

static void test_load(void)
{
	char dir[] = "/tmp/test_pymap.XXXXXX", path[64], link[80];
	static const char text[] = "1000 10 py::f:/x/y.py\nbad\n";
	struct pm_error err = { 0 };
	struct pymap *m;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/perf-123.map", dir);
	snprintf(link, sizeof(link), "%s/perf-124.map", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);

	m = pymap_load(path, false, &err);
	CHECK(m && pymap_count(m) == 1 && pymap_bad_lines(m) == 1);
	CHECK_STR(m ? label_at(m, 0x1000) : NULL, "f (y.py)");
	pymap_free(m);

	/* symlinks are never followed */
	CHECK(symlink(path, link) == 0);
	m = pymap_load(link, true, &err);
	CHECK(m == NULL && err.code == -PM_EPERM);
	CHECK(strstr(err.msg, "symbolic link") != NULL);
	unlink(link);

	m = pymap_load("/nonexistent/perf-1.map", false, &err);
	CHECK(m == NULL && err.code == -PM_ENOTFOUND);
	m = pymap_load(dir, false, &err);
	CHECK(m == NULL && err.code == -PM_EUNSUPPORTED);

	if (geteuid() != 0) {
		printf("test_pymap: skipping ownership check: needs root to "
		       "chown a file to uid 65534\n");
	} else if (chown(path, 65534, 65534) != 0) {
		CHECK(!"chown");
	} else {
		pm_error_clear(&err);
		m = pymap_load(path, false, &err);
		CHECK(m == NULL && err.code == -PM_EPERM);
		CHECK(strstr(err.msg, path) != NULL);
		CHECK(strstr(err.msg, "not owned by current user or root, "
				      "ignoring it (use --force to override)"));
		m = pymap_load(path, true, &err);
		CHECK(m && pymap_count(m) == 1);
		pymap_free(m);
	}
	unlink(path);
	rmdir(dir);
}

/* pyperf-maps lines sidecar: "LINE QUALNAME:FILENAME" relabels entries. */
static void test_lines(void)
{
	static const char map[] =
		"1000 10 py::fib:/src/app.py\n"
		"2000 10 py::Matrix.mul:/src/app.py\n"
		"3000 10 py::other:/src/b.py\n"
		"4000 10 native_thing\n";
	static const char lines[] =
		"12 fib:/src/app.py\n"
		"40 Matrix.mul:/src/app.py\n"
		"0 other:/src/b.py\n"			/* line 0: ignored */
		"junk\n"
		"7 nosuch:/src/app.py\n"
		"99 other:/src/b.py";			/* no newline: ignored */
	char path[] = "/tmp/test-pymap-lines-XXXXXX";
	struct pm_error err = {0};
	struct pymap *m = pymap_parse(map, sizeof(map) - 1);
	int fd = mkstemp(path);

	CHECK(m && fd >= 0);
	if (!m || fd < 0)
		return;
	CHECK(write(fd, lines, sizeof(lines) - 1) == (ssize_t)sizeof(lines) - 1);
	close(fd);
	CHECK(pymap_apply_lines(m, path, false, &err) == 2);
	CHECK_STR(pymap_lookup(m, 0x1000)->label, "fib (app.py:12)");
	CHECK_STR(pymap_lookup(m, 0x2005)->label, "Matrix.mul (app.py:40)");
	CHECK_STR(pymap_lookup(m, 0x3000)->label, "other (b.py)");
	CHECK_STR(pymap_lookup(m, 0x4000)->label, "native_thing");
	unlink(path);
	CHECK(pymap_apply_lines(m, path, false, &err) == -PM_ENOTFOUND);
	pymap_free(m);
}

int main(void)
{
	test_basic();
	test_malformed();
	test_names();
	test_overlaps();
	test_many();
	test_load();
	test_lines();
	return check_done();
}
