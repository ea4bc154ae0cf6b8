/*
 * render.c - golden-test driver: builds a profile from a text description
 * and writes it with flamegraph_write() (--svg) or folded_write()
 * (--folded) to stdout.
 *
 * Input, one stack per line, root first, the weight last:
 *
 *     KIND[@DSO]:NAME;KIND[@DSO]:NAME;... WEIGHT
 *
 * KIND is py, nat, int, k or rt (python, native, interp, kernel, runtime).
 * In NAME and DSO, "\;" is ';', "\:" is ':', "\@" is '@', "\\" is '\',
 * "\n" a newline, "\t" a tab and "\xHH" any byte, so every name a real
 * profile can hold can be written. A line " WEIGHT" is an empty stack.
 * Lines starting with '#' are comments, except these settings:
 *     #title: TEXT   #subtitle: TEXT   #unit: TEXT
 *     #width: N      #min-width: PX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "output.h"
#include "profile.h"

#define MAX_FRAMES 4096

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescape s[0..n) in place up to an unescaped stop character (or n);
 * returns the number of input bytes consumed (stop not included), -1 on a
 * bad escape. The result is NUL-terminated at *out_end. */
static long unescape(char *s, size_t n, const char *stops, char **out_end)
{
	size_t i = 0;
	char *o = s;

	while (i < n && !strchr(stops, s[i])) {
		if (s[i] != '\\') {
			*o++ = s[i++];
			continue;
		}
		if (i + 1 >= n)
			return -1;
		switch (s[i + 1]) {
		case 'n':
			*o++ = '\n';
			i += 2;
			break;
		case 't':
			*o++ = '\t';
			i += 2;
			break;
		case 'x':
			if (i + 3 >= n || hexval(s[i + 2]) < 0 ||
			    hexval(s[i + 3]) < 0 ||
			    (hexval(s[i + 2]) | hexval(s[i + 3])) == 0)
				return -1;
			*o++ = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 4;
			break;
		default:
			*o++ = s[i + 1];
			i += 2;
		}
	}
	*out_end = o;
	return (long)i;
}

static int parse_kind(const char *s, size_t n, enum frame_kind *k)
{
	static const struct { const char *name; enum frame_kind kind; } t[] = {
		{ "py", FRAME_PYTHON }, { "nat", FRAME_NATIVE },
		{ "int", FRAME_INTERP }, { "k", FRAME_KERNEL },
		{ "rt", FRAME_RUNTIME },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strlen(t[i].name) == n && memcmp(s, t[i].name, n) == 0) {
			*k = t[i].kind;
			return 0;
		}
	}
	return -1;
}

/* Parse one frame "KIND[@DSO]:NAME" in s[0..n); strings are unescaped in
 * place and stay in the line buffer. */
static int parse_frame(char *s, size_t n, struct frame *fr, char *end_nul[2])
{
	size_t k = 0;
	long used;
	char *e;

	while (k < n && s[k] != ':' && s[k] != '@')
		k++;
	if (k == n || parse_kind(s, k, &fr->kind))
		return -1;
	fr->dso = "";
	if (s[k] == '@') {
		used = unescape(s + k + 1, n - k - 1, ":", &e);
		if (used < 0 || (size_t)used + k + 1 >= n)
			return -1;
		fr->dso = s + k + 1;
		end_nul[0] = e;
		k += 1 + (size_t)used;
	}
	used = unescape(s + k + 1, n - k - 1, "", &e);
	if (used < 0)
		return -1;
	fr->name = s + k + 1;
	end_nul[1] = e;
	return 0;
}

/* Split the stack part at unescaped ';' and add it. */
static int add_line(struct profile *p, char *line, size_t len,
		    unsigned long long weight, struct frame *frames)
{
	char *ends[MAX_FRAMES][2];
	size_t n = 0, start = 0, i;

	if (len == 0)
		return profile_add(p, frames, 0, weight);
	for (i = 0; i <= len; i++) {
		if (i < len && line[i] == '\\') {
			i++;
			continue;
		}
		if (i < len && line[i] != ';')
			continue;
		if (n == MAX_FRAMES)
			return -PM_ELIMIT;
		ends[n][0] = ends[n][1] = NULL;
		if (parse_frame(line + start, i - start, &frames[n], ends[n]))
			return -PM_EUSAGE;
		n++;
		start = i + 1;
	}
	/* terminate in place only now: the frames share the buffer */
	for (i = 0; i < n; i++) {
		if (ends[i][0])
			*ends[i][0] = '\0';
		*ends[i][1] = '\0';
	}
	return profile_add(p, frames, n, weight);
}

static int setting(const char *line, const char *key, const char **val)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) != 0)
		return 0;
	*val = line + n;
	return 1;
}

int main(int argc, char **argv)
{
	static struct frame frames[MAX_FRAMES];
	struct flamegraph_opts o = { 0 };
	char *title = NULL, *subtitle = NULL, *unit = NULL;
	struct profile *p = profile_new();
	char *line = NULL, *sp, *end;
	size_t cap = 0, lineno = 0;
	unsigned long long w;
	const char *v;
	ssize_t len;
	int svg, rc = 2, err;

	if (argc != 2 || (strcmp(argv[1], "--svg") && strcmp(argv[1], "--folded"))) {
		fprintf(stderr, "usage: render --svg|--folded < input.txt\n");
		goto out;
	}
	svg = strcmp(argv[1], "--svg") == 0;
	if (!p)
		goto out;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (line[0] == '#') {
			if (setting(line, "#title: ", &v))
				free(title), title = strdup(v);
			else if (setting(line, "#subtitle: ", &v))
				free(subtitle), subtitle = strdup(v);
			else if (setting(line, "#unit: ", &v))
				free(unit), unit = strdup(v);
			else if (setting(line, "#width: ", &v))
				o.width = (unsigned)strtoul(v, NULL, 10);
			else if (setting(line, "#min-width: ", &v))
				o.min_width_px = strtod(v, NULL);
			continue;
		}
		sp = strrchr(line, ' ');
		w = sp ? strtoull(sp + 1, &end, 10) : 0;
		if (!sp || end == sp + 1 || *end) {
			fprintf(stderr, "render: line %zu: no weight\n", lineno);
			goto out;
		}
		err = add_line(p, line, (size_t)(sp - line), w, frames);
		if (err) {
			fprintf(stderr, "render: line %zu: %s\n", lineno,
				pm_strerror(err));
			goto out;
		}
	}
	o.title = title;
	o.subtitle = subtitle;
	o.unit = unit;
	err = svg ? flamegraph_write(stdout, p, &o) : folded_write(stdout, p);
	if (err) {
		fprintf(stderr, "render: %s\n", pm_strerror(err));
		goto out;
	}
	rc = 0;
out:
	free(line);
	free(title);
	free(subtitle);
	free(unit);
	profile_free(p);
	return rc;
}
