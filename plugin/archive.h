/*
 * archive.h - read a pyperf-maps archive (uncompressed ustar tar: perf maps
 * under maps/, binaries and debug files under .build-id/XX/REST/{elf,debug})
 * by extracting it into a private temporary directory.
 *
 * Input is untrusted: only regular files are extracted; names that are
 * absolute, contain "..", or leave maps/ and .build-id/ are refused; sizes
 * are bounded by the archive. The archive object owns the directory and
 * removes it (and only what it created) in archive_free().
 */
#ifndef PM_ARCHIVE_H
#define PM_ARCHIVE_H

#include "error.h"

struct archive;

/* Extract path into a new directory under $TMPDIR (default /tmp). */
struct archive *archive_open(const char *path, struct pm_error *err);
void archive_free(struct archive *a);		/* NULL accepted; removes dir */

const char *archive_dir(const struct archive *a);	/* the root */
const char *archive_maps_dir(const struct archive *a);	/* root/maps */

#endif
