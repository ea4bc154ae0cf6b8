/* test_archive.c - pyperf-maps archive extraction: accepted members land in
 * the private dir, hostile names and links are refused, truncation is an
 * error, and archive_free() removes everything it made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "check.h"

/* Append one ustar member (header + data padded to 512) to f. */
static void member(FILE *f, const char *name, char type, const char *data,
		   size_t size)
{
	unsigned char h[512] = {0};
	unsigned sum = 0;
	size_t i;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 124, 12, "%011zo", size);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	fwrite(h, 1, 512, f);
	if (data)
		fwrite(data, 1, size, f);
	for (i = size; i % 512; i++)
		fputc(0, f);
}

static void end(FILE *f)
{
	static const unsigned char zero[1024];

	fwrite(zero, 1, sizeof(zero), f);
}

static int exists(const char *dir, const char *rel)
{
	char p[4096];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &sb) == 0;
}

int main(void)
{
	char path[] = "/tmp/test-archive-XXXXXX";
	struct pm_error err = {0};
	struct archive *a;
	char root[4096];
	FILE *f;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	f = fdopen(fd, "wb");
	member(f, "manifest.json", '0', "{}", 2);
	member(f, "maps/perf-1.map", '0', "1000 10 py::f:/a.py\n", 20);
	member(f, ".build-id/ab/cdef/elf", '0', "\177ELF", 4);
	member(f, "../evil", '0', "x", 1);		/* refused: .. */
	member(f, "/tmp/abs-evil", '0', "x", 1);	/* refused: absolute */
	member(f, "maps/../../evil2", '0', "x", 1);	/* refused */
	member(f, "maps/link", '2', NULL, 0);		/* refused: symlink */
	member(f, "other/file", '0', "x", 1);		/* refused: outside */
	end(f);
	fclose(f);

	a = archive_open(path, &err);
	CHECK(a != NULL);
	if (a) {
		snprintf(root, sizeof(root), "%s", archive_dir(a));
		CHECK(exists(root, "maps/perf-1.map"));
		CHECK(exists(root, ".build-id/ab/cdef/elf"));
		CHECK(exists(root, "manifest.json"));
		CHECK(!exists(root, "maps/link"));
		CHECK(!exists(root, "other/file"));
		CHECK(!exists(root, "../evil"));
		CHECK(access("/tmp/abs-evil", F_OK) != 0);
		CHECK_STR(archive_maps_dir(a) + strlen(root), "/maps");
		archive_free(a);
		CHECK(access(root, F_OK) != 0);		/* removed */
	}

	/* truncated inside a member's data */
	f = fopen(path, "wb");
	member(f, "maps/perf-2.map", '0', "1000 10 py::f:/a.py\n", 20);
	fclose(f);
	CHECK(truncate(path, 512 + 10) == 0);
	a = archive_open(path, &err);
	CHECK(a == NULL && err.code == -PM_ETRUNCATED);
	CHECK(strstr(err.msg, "truncated") != NULL);

	/* not a tar */
	f = fopen(path, "wb");
	fputs("PERFILE2 and then some bytes that are not a tar header", f);
	for (int i = 0; i < 600; i++)
		fputc('x', f);
	fclose(f);
	a = archive_open(path, &err);
	CHECK(a == NULL && strstr(err.msg, "not a ustar header") != NULL);

	/* missing file */
	a = archive_open("/nonexistent/x.tar", &err);
	CHECK(a == NULL && err.code == -PM_ENOTFOUND);
	unlink(path);
	return check_done();
}
