/*
 * archive.c - ustar extraction for pyperf-maps archives.
 *
 * ustar header (512 bytes, POSIX.1-1988): name[100] @0, mode[8] @100,
 * size[12] @124 (octal), typeflag @156 ('0' or '\0' = regular file,
 * '5' = directory), magic "ustar" @257, prefix[155] @345 (joined to name
 * with '/'), chksum[8] @148. Data follows in 512-byte blocks. Two zero
 * blocks end it. GNU 'L' / pax 'x' long-name headers are not followed:
 * their member is skipped like any other non-regular entry.
 */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"

#define MAX_MEMBERS 100000

struct archive {
	char root[PATH_MAX];
	char maps[PATH_MAX];
	char **created;		/* files and dirs we made, in creation order */
	size_t nr_created, created_alloc;
};

static int remember(struct archive *a, const char *path)
{
	char *copy = strdup(path);
	int err;

	if (!copy)
		return -PM_ENOMEM;
	err = grow_array((void **)&a->created, &a->created_alloc,
			 a->nr_created + 1, sizeof(*a->created), MAX_MEMBERS * 4);
	if (err) {
		free(copy);
		return err;
	}
	a->created[a->nr_created++] = copy;
	return 0;
}

/* Whether name is a member we accept: relative, no "..", no empty or "."
 * components, under maps/ or .build-id/ or manifest.json. */
static bool name_ok(const char *name)
{
	const char *p = name, *slash;

	if (!*name || name[0] == '/')
		return false;
	if (strcmp(name, "manifest.json") && strncmp(name, "maps/", 5) &&
	    strncmp(name, ".build-id/", 10))
		return false;
	for (;;) {
		size_t len;

		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* Create the directories leading to root/name. */
static int make_parents(struct archive *a, const char *name)
{
	char path[PATH_MAX];
	size_t rootlen = strlen(a->root), i;
	int n = snprintf(path, sizeof(path), "%s/%s", a->root, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -PM_ELIMIT;
	for (i = rootlen + 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == 0) {
			if (remember(a, path))
				return -PM_ENOMEM;
		} else if (errno != EEXIST) {
			return -PM_EIO;
		}
		path[i] = '/';
	}
	return 0;
}

static bool parse_octal(const unsigned char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	if (i == n)
		return false;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return false;
	*out = v;
	return true;
}

/* chksum[8] @148: octal sum of all header bytes, the field read as
 * spaces. */
static bool checksum_ok(const unsigned char *hdr)
{
	uint64_t want, sum = 0;
	size_t i;

	if (!parse_octal(hdr + 148, 8, &want))
		return false;
	for (i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : hdr[i];
	return sum == want;
}

static int extract(struct archive *a, FILE *in, const char *path,
		   struct pm_error *err)
{
	unsigned char hdr[512], buf[65536];
	uint64_t off = 0, size, left;
	size_t members = 0;
	int zeros = 0;
	bool long_name = false;

	for (;;) {
		char name[256 + 2], out[PATH_MAX];
		size_t plen;
		int fd, n;
		bool keep;

		if (fread(hdr, 1, 512, in) != 512)
			return pm_error_set(err, PM_ETRUNCATED, "%s: offset %llu: "
					    "archive ends inside a header",
					    path, (unsigned long long)off);
		if (!memcmp(hdr, (unsigned char[512]){0}, 512)) {
			if (++zeros == 2)
				return 0;
			off += 512;
			continue;
		}
		zeros = 0;
		if (memcmp(hdr + 257, "ustar", 5) ||
		    !parse_octal(hdr + 124, 12, &size) || !checksum_ok(hdr))
			return pm_error_set(err, PM_ECORRUPT, "%s: offset %llu: "
					    "not a ustar header", path,
					    (unsigned long long)off);
		if (++members > MAX_MEMBERS)
			return pm_error_set(err, PM_ELIMIT, "%s: more than %d "
					    "members", path, MAX_MEMBERS);
		plen = strnlen((const char *)hdr + 345, 155);
		if (plen)
			snprintf(name, sizeof(name), "%.*s/%.*s", (int)plen,
				 (const char *)hdr + 345,
				 (int)strnlen((const char *)hdr, 100),
				 (const char *)hdr);
		else
			snprintf(name, sizeof(name), "%.*s",
				 (int)strnlen((const char *)hdr, 100),
				 (const char *)hdr);
		keep = (hdr[156] == '0' || hdr[156] == '\0') && name_ok(name) &&
		       !long_name;
		/* the member after a long-name header has a cut-off name */
		long_name = hdr[156] == 'L' || hdr[156] == 'K' || hdr[156] == 'x';
		off += 512;
		fd = -1;
		if (keep) {
			if (make_parents(a, name))
				return pm_error_set(err, PM_EIO, "%s: %s: cannot "
						    "create directories", path,
						    name);
			n = snprintf(out, sizeof(out), "%s/%s", a->root, name);
			if (n < 0 || (size_t)n >= sizeof(out))
				return pm_error_set(err, PM_ELIMIT, "%s: member "
						    "name too long", path);
			/* a later copy of a member wins, as with tar; only
			 * regular files are ever made here, so no link can
			 * be followed */
			fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
				  O_CLOEXEC, 0600);
			if (fd < 0)
				return pm_error_set(err, PM_EIO, "%s: %s: %s",
						    path, name, strerror(errno));
			if (remember(a, out)) {
				close(fd);
				return pm_error_set(err, PM_ENOMEM, "out of memory");
			}
		}
		/* data, padded to 512 */
		left = (size + 511) & ~(uint64_t)511;
		while (left) {
			size_t chunk = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			if (fread(buf, 1, chunk, in) != chunk) {
				if (fd >= 0)
					close(fd);
				return pm_error_set(err, PM_ETRUNCATED,
						    "%s: offset %llu: member %s "
						    "is truncated", path,
						    (unsigned long long)off, name);
			}
			if (fd >= 0 && size) {
				size_t w = chunk < size ? chunk : (size_t)size;

				if (write(fd, buf, w) != (ssize_t)w) {
					close(fd);
					return pm_error_set(err, PM_EIO, "%s: %s: "
							    "write failed", path,
							    name);
				}
			}
			size -= size < chunk ? size : chunk;
			left -= chunk;
			off += chunk;
		}
		if (fd >= 0 && close(fd))
			return pm_error_set(err, PM_EIO, "%s: %s: write failed",
					    path, name);
	}
}

struct archive *archive_open(const char *path, struct pm_error *err)
{
	struct archive *a = calloc(1, sizeof(*a));
	const char *tmp = getenv("TMPDIR");
	FILE *in = NULL;
	int rc;

	if (!a) {
		pm_error_set(err, PM_ENOMEM, "out of memory");
		return NULL;
	}
	in = fopen(path, "rb");
	if (!in) {
		pm_error_set(err, errno == ENOENT ? PM_ENOTFOUND : PM_EIO,
			     "%s: %s", path, strerror(errno));
		goto fail;
	}
	snprintf(a->root, sizeof(a->root), "%s/pyperf-archive-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(a->root)) {
		pm_error_set(err, PM_EIO, "%s: cannot create a temporary "
			     "directory: %s", path, strerror(errno));
		a->root[0] = '\0';
		goto fail;
	}
	if ((size_t)snprintf(a->maps, sizeof(a->maps), "%.*s/maps",
			     (int)sizeof(a->maps) - 8, a->root) >= sizeof(a->maps))
		a->maps[0] = '\0';	/* cannot happen: root is short */
	rc = extract(a, in, path, err);
	if (rc)
		goto fail;
	fclose(in);
	return a;
fail:
	if (in)
		fclose(in);
	archive_free(a);
	return NULL;
}

void archive_free(struct archive *a)
{
	size_t i;

	if (!a)
		return;
	/* newest first: files before the directories holding them */
	for (i = a->nr_created; i-- > 0;) {
		if (unlink(a->created[i]) != 0)
			rmdir(a->created[i]);
		free(a->created[i]);
	}
	free(a->created);
	if (a->root[0])
		rmdir(a->root);
	free(a);
}

const char *archive_dir(const struct archive *a)
{
	return a->root;
}

const char *archive_maps_dir(const struct archive *a)
{
	return a->maps;
}
