/*
 * jitdump.h - jitdump files (/tmp/jit-PID.dump) as CPython >= 3.13 writes
 * them under -X perf_jit, read directly (no `perf inject --jit` needed)
 * into a struct pymap, so jitted trampolines are looked up and labelled
 * exactly like perf-map entries.
 *
 * Each JIT_CODE_LOAD record names one trampoline copy ("py::QUALNAME:
 * FILENAME") and carries its code bytes. The copy's unwind rule is decoded
 * from those bytes (tramp_decode(): right even where CPython's CFI is not,
 * e.g. its hard-coded 3.13 FDE); where they do not decode, it comes from
 * the JIT_CODE_UNWINDING_INFO record before it (its .eh_frame); failing
 * both, the entry has no rule and the unwinder uses the interpreter's
 * template. Time stamps are ignored, as for perf maps: later records win
 * where addresses overlap.
 *
 * Ownership: the pymap returned is the caller's (pymap_free()); rules live
 * in it. Trust: like perf maps, a dump is only read when owned by the
 * effective user or root (force overrides). The file is untrusted input:
 * every length is checked, memory is bounded by one record plus the
 * entries kept.
 */
#ifndef PM_JITDUMP_H
#define PM_JITDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "pymap.h"
#include "tramp.h"

struct jitdump_stats {
	uint32_t pid;		/* from the header */
	uint32_t elf_mach;	/* from the header; 0 in CPython 3.13 */
	size_t loads, moves, debug_infos, unwinding_infos, unknown;
	size_t decoded;		/* loads with a rule from their own code */
	size_t from_eh_frame;	/* loads with a rule from the dump's CFI */
	size_t no_rule;		/* loads left to the interpreter's template */
	size_t bad;		/* records skipped as malformed */
	bool cut;		/* the data ends inside a record (a process
				   still running, or killed) */
	bool closed;		/* a JIT_CODE_CLOSE record ended the data */
	char note[256];		/* first problem, naming the record and its
				   byte offset; "" if none */
};

/*
 * Read the dump at path. NULL with err set if it cannot be read, is not
 * trusted, is not a jitdump (-PM_EMAGIC), was written on a machine of the
 * other byte order (-PM_EENDIAN), has an unknown version
 * (-PM_EUNSUPPORTED) or on OOM. Damage after the header does not fail:
 * what came before is kept and st->note says where it stopped. st may be
 * NULL.
 */
struct pymap *jitdump_load(const char *path, bool force,
			   struct jitdump_stats *st, struct pm_error *err);

/* The same over a buffer (tests, fuzzing). */
struct pymap *jitdump_parse(const void *data, size_t len,
			    struct jitdump_stats *st, struct pm_error *err);

#endif
