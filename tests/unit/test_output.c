/* test_output.c - folded text, SVG escaping, well-formedness, pruning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "output.h"
#include "profile.h"

#define NOF(a) (sizeof(a) / sizeof((a)[0]))

struct mem {
	char *buf;
	size_t len;
};

/* Run a writer into memory; returns its result. */
static int render(struct mem *m, const struct profile *p,
		  const struct flamegraph_opts *o, int svg)
{
	FILE *f = open_memstream(&m->buf, &m->len);
	int err;

	if (!f)
		return -PM_ENOMEM;
	err = svg ? flamegraph_write(f, p, o) : folded_write(f, p);
	fclose(f);
	return err;
}

static struct profile *small_profile(void)
{
	static const struct frame s1[] = {
		{ "main (app.py)", "", FRAME_PYTHON },
		{ "a;b", "libx.so", FRAME_NATIVE },
		{ "new\nline", "libx.so", FRAME_NATIVE },
	};
	static const struct frame s2[] = {
		{ "main (app.py)", "", FRAME_PYTHON },
		{ "fib (app.py)", "", FRAME_PYTHON },
	};
	static const struct frame s3[] = {
		{ "main (app.py)", "", FRAME_PYTHON },
		{ "fib", "libc.so.6", FRAME_NATIVE },
	};
	static const struct frame s4[] = {
		{ "main (app.py)", "", FRAME_PYTHON },
		{ "a:b", "liby.so", FRAME_NATIVE },	/* folds like "a;b" */
	};
	static const struct frame s5[] = {
		{ "main (app.py)", "", FRAME_PYTHON },
		{ "a;b", "libx.so", FRAME_NATIVE },
	};
	struct profile *p = profile_new();

	if (!p)
		return NULL;
	if (profile_add(p, s1, NOF(s1), 3) || profile_add(p, s2, NOF(s2), 5) ||
	    profile_add(p, s3, NOF(s3), 2) || profile_add(p, s4, NOF(s4), 4) ||
	    profile_add(p, s5, NOF(s5), 1) || profile_add(p, s2, 1, 7) ||
	    profile_add(p, NULL, 0, 1)) {
		profile_free(p);
		return NULL;
	}
	return p;
}

static void test_folded(void)
{
	struct profile *p = small_profile();
	struct mem m = { 0 };
	FILE *full;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(render(&m, p, NULL, 0) == 0);
	/* bytewise order: "fib (app.py) 5" before "fib 2" ('(' < '2'),
	 * "a;b" and "a:b" merged (1 + 4), the newline escaped */
	CHECK_STR(m.buf,
		  "[unknown] 1\n"
		  "main (app.py) 7\n"
		  "main (app.py);a:b 5\n"
		  "main (app.py);a:b;new?line 3\n"
		  "main (app.py);fib (app.py) 5\n"
		  "main (app.py);fib 2\n");
	free(m.buf);

	full = fopen("/dev/full", "w");
	if (full) {
		CHECK(folded_write(full, p) == -PM_EIO);
		fclose(full);
	}
	profile_free(p);

	p = profile_new();
	CHECK(p && render(&m, p, NULL, 0) == 0 && m.len == 0);
	free(m.buf);
	profile_free(p);
}

/*
 * A small well-formedness check: tags balance, attributes are quoted,
 * '<' and '&' in text start a tag or an entity, CDATA/PI/comments are
 * skipped. Returns NULL or a description of the first problem.
 */
static const char *xml_check(const char *s)
{
	static char why[160];
	const char *stack[256];
	size_t lens[256], depth = 0, n;
	const char *p = s, *e;

	while (*p) {
		if (*p == '&') {
			n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz#0123456789");
			if (n == 0 || p[1 + n] != ';')
				return "bare '&' in text";
			p += n + 2;
			continue;
		}
		if (*p == '>')
			return "bare '>' in text";
		if (*p != '<') {
			p++;
			continue;
		}
		if (strncmp(p, "<![CDATA[", 9) == 0) {
			e = strstr(p, "]]>");
			if (!e)
				return "unterminated CDATA";
			p = e + 3;
		} else if (strncmp(p, "<?", 2) == 0 || strncmp(p, "<!--", 4) == 0) {
			e = strstr(p, p[1] == '?' ? "?>" : "-->");
			if (!e)
				return "unterminated PI or comment";
			p = e + 2;
		} else if (p[1] == '/') {
			n = strcspn(p + 2, ">");
			if (!depth || lens[depth - 1] != n ||
			    strncmp(stack[depth - 1], p + 2, n) != 0) {
				snprintf(why, sizeof(why), "unbalanced </%.*s>",
					 (int)n, p + 2);
				return why;
			}
			depth--;
			p += n + 3;
		} else {
			const char *name = p + 1;

			n = strcspn(name, " />");
			/* attributes: name="value" with no '<' in the value */
			for (p = name + n; *p == ' ';) {
				p += strspn(p, " ");
				p += strcspn(p, "=/> ");
				if (*p != '=')
					break;
				if (p[1] != '"')
					return "unquoted attribute";
				e = strchr(p + 2, '"');
				if (!e || memchr(p + 2, '<', (size_t)(e - p - 2)))
					return "bad attribute value";
				p = e + 1;
			}
			if (*p == '/' && p[1] == '>') {
				p += 2;
			} else if (*p == '>') {
				if (depth == NOF(stack))
					return "too deep";
				stack[depth] = name;
				lens[depth++] = n;
				p++;
			} else {
				return "bad tag";
			}
		}
	}
	return depth ? "unclosed element" : NULL;
}

/* Well-formed UTF-8? */
static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int n = *u < 0x80 ? 0 : (*u & 0xe0) == 0xc0 && *u >= 0xc2 ? 1 :
			(*u & 0xf0) == 0xe0 ? 2 : (*u & 0xf8) == 0xf0 && *u <= 0xf4 ? 3 : -1;

		if (n < 0)
			return 0;
		for (u++; n > 0; n--, u++)
			if ((*u & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void xmllint(const char *svg)
{
	char path[] = "/tmp/test_output_XXXXXX";
	char cmd[128];
	int fd, rc;
	FILE *f;

	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		printf("test_output: xmllint not installed, skipping that part\n");
		return;
	}
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	CHECK(f && fputs(svg, f) >= 0);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	rc = system(cmd);
	CHECK(rc == 0);
	unlink(path);
}

static void test_svg_escaping(void)
{
	static const struct frame nasty[] = {
		{ "<module> (x.py)", "", FRAME_PYTHON },
		{ "<script>alert(1)</script>", "lib\"&'<>.so", FRAME_NATIVE },
		{ "a&b \"q\" 'q' ]]> \x01\x7f bad\xff\xc3 caf\xc3\xa9", "",
		  FRAME_RUNTIME },
	};
	struct flamegraph_opts o = { "<b>title & \"more\"</b>",
				     "sub <i>&</i>", "bytes", 0, 0 };
	struct profile *p = profile_new();
	struct mem m = { 0 }, m2 = { 0 };
	const char *why, *frames;

	CHECK(p && profile_add(p, nasty, 2, 10) == 0);
	CHECK(p && profile_add(p, nasty, 3, 5) == 0);
	if (!p)
		return;
	CHECK(render(&m, p, &o, 1) == 0);
	why = xml_check(m.buf);
	CHECK(why == NULL);
	if (why)
		fprintf(stderr, "xml_check: %s\n", why);
	CHECK(utf8_ok(m.buf));
	xmllint(m.buf);
	frames = strstr(m.buf, "<g id=\"frames\">");
	CHECK(frames != NULL);
	if (!frames)
		goto out;
	/* names only escaped, never raw markup from a name */
	CHECK(strstr(m.buf, "<script>alert") == NULL);
	CHECK(strstr(m.buf, "<b>") == NULL && strstr(m.buf, "<i>") == NULL);
	CHECK(count(frames, "&lt;script&gt;alert(1)&lt;/script&gt;") >= 2);
	CHECK(strstr(m.buf, "&lt;b&gt;title &amp; &quot;more&quot;&lt;/b&gt;"));
	CHECK(strstr(frames, "lib&quot;&amp;&#39;&lt;&gt;.so"));
	CHECK(strstr(frames, "a&amp;b &quot;q&quot; &#39;q&#39; ]]&gt; ?? "
			     "bad\xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9"));
	/* exactly one CDATA end per CDATA section (style and script) */
	CHECK(count(m.buf, "]]>") == 2);
	/* tooltip: name (N unit, P%), kind, dso */
	CHECK(strstr(frames, "&lt;module&gt; (x.py) (15 bytes, 100.00%)\n"
			     "python</title>"));
	CHECK(strstr(frames, "(15 bytes, 100.00%)\nnative, lib&quot;"));
	CHECK(strstr(frames, "(5 bytes, 33.33%)\nruntime</title>"));
	CHECK(strstr(m.buf, "pruned") == NULL);
	CHECK(strstr(m.buf, "Reset Zoom") && strstr(m.buf, "Search") &&
	      strstr(m.buf, "function pm_search(") &&
	      strstr(m.buf, "Matched: "));
	/* deterministic */
	CHECK(render(&m2, p, &o, 1) == 0);
	CHECK(m.len == m2.len && memcmp(m.buf, m2.buf, m.len) == 0);
out:
	free(m.buf);
	free(m2.buf);
	profile_free(p);
}

static void test_svg_pruning(void)
{
	struct frame st[3] = { { "main", "", FRAME_PYTHON },
			       { "big", "", FRAME_PYTHON },
			       { NULL, "", FRAME_NATIVE } };
	char names[50][16];
	struct profile *p = profile_new();
	struct mem m = { 0 };
	struct flamegraph_opts o = { "t", "event x", NULL, 0, 0 };
	size_t i;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(profile_add(p, st, 2, 1000000) == 0);
	for (i = 0; i < 50; i++) {	/* 1 of 1e6 at 1180 px: 0.001 px */
		snprintf(names[i], sizeof(names[i]), "tiny%zu", i);
		st[1].name = names[i];
		st[2].name = "leaf";
		CHECK(profile_add(p, st, 3, 1) == 0);
	}
	CHECK(render(&m, p, &o, 1) == 0);
	CHECK(xml_check(m.buf) == NULL);
	/* 50 tiny frames + their 50 leaves; 50 / 1000050 < 0.1% */
	CHECK(strstr(m.buf, ">event x; 100 frames (&lt;0.1%) narrower than "
			    "0.1 px pruned</text>") != NULL);
	CHECK(strstr(m.buf, "tiny") == NULL);
	CHECK(strstr(m.buf, ">big</text>") != NULL);
	CHECK(strstr(m.buf, "1,000,050 samples, 100.00%") != NULL);
	free(m.buf);

	/* a wider image and a coarser threshold */
	o.width = 4000;
	o.min_width_px = 2.5;
	o.subtitle = NULL;
	CHECK(render(&m, p, &o, 1) == 0);
	CHECK(strstr(m.buf, ">100 frames (&lt;0.1%) narrower than 2.5 px "
			    "pruned</text>") != NULL);
	CHECK(strstr(m.buf, "width=\"4000\"") != NULL);
	free(m.buf);
	profile_free(p);

	/* empty profile: still a valid document */
	p = profile_new();
	CHECK(p && render(&m, p, NULL, 1) == 0);
	CHECK(m.buf && xml_check(m.buf) == NULL);
	CHECK(m.buf && strstr(m.buf, "No samples") != NULL);
	free(m.buf);
	profile_free(p);
}

static void test_svg_deep(void)
{
	static struct frame st[3000];
	struct profile *p = profile_new();
	struct mem m = { 0 };
	size_t i;

	CHECK(p != NULL);
	if (!p)
		return;
	for (i = 0; i < NOF(st); i++) {
		st[i].name = i % 2 ? "a (r.py)" : "b (r.py)";
		st[i].dso = "";
		st[i].kind = FRAME_PYTHON;
	}
	CHECK(profile_add(p, st, NOF(st), 1) == 0);
	CHECK(render(&m, p, NULL, 1) == 0);
	CHECK(xml_check(m.buf) == NULL);
	CHECK(count(m.buf, "<g data-x=") == NOF(st) + 1);
	free(m.buf);
	CHECK(render(&m, p, NULL, 0) == 0);
	CHECK(m.len > 3000 * 9 && m.buf[m.len - 1] == '\n' &&
	      strcmp(m.buf + m.len - 3, " 1\n") == 0);
	free(m.buf);
	profile_free(p);
}

int main(void)
{
	test_folded();
	test_svg_escaping();
	test_svg_pruning();
	test_svg_deep();
	return check_done();
}
