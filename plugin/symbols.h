/*
 * symbols.h - native symbolization with libdw/libelf, one cached entry per
 * binary (path + build-id), shared across processes and samples.
 *
 * Ownership: struct symbols owns every dso and every string it returns;
 * they live until symbols_free().
 *
 * Threads: the dso functions below and symbols_dso() may be called from
 * several threads at once (they take the symbols' lock: each binary is
 * loaded once, whoever needs it first). Callers on a hot path keep their
 * own cache of results (stack.c). symbols_add_build_id() and
 * symbols_load_kernel() are setup, before other threads use it; the
 * kernel functions may be called from any thread (a lookup waits for an
 * asynchronous load, then only reads).
 *
 * Address convention: dso_lookup() takes a *file offset* in the binary
 * (ip - map->start + map->pgoff); the dso converts it to an ELF virtual
 * address through its PT_LOAD headers, so load bias never matters here.
 *
 * Debug info: .symtab/.dynsym of the binary, then separate debug info found
 * by build-id in (in order) each of opts->debug_dirs, /usr/lib/debug and
 * perf's build-id cache ~/.debug/.build-id/xx/yyyy/{debug,elf}; DWARF
 * inline frames where debug info exists.
 */
#ifndef PM_SYMBOLS_H
#define PM_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct symbols_opts {
	const char *root;		/* prefix for binary paths (archives), or NULL */
	const char *const *debug_dirs;	/* extra dirs, NULL-terminated, or NULL */
	const char *kallsyms;		/* kallsyms path, default /proc/kallsyms */
	bool inline_frames;		/* expand DWARF inlines (default on) */
};

/* One resolved native frame. Names are interned; file may be NULL. */
struct sym_frame {
	const char *name;		/* demangled where possible; NULL when
					   no symbol covers the address */
	const char *file;		/* source file (inline frames), or NULL */
	unsigned line;
	bool inlined;			/* an inline frame (not the outermost) */
};

struct symbols;
struct dso;

struct symbols *symbols_new(const struct symbols_opts *opts);
void symbols_free(struct symbols *s);	/* NULL accepted */

/*
 * The dso for a mapped file. Cached by (path, build-id); never NULL except
 * on OOM. A file that cannot be opened still gives a dso whose lookups fail
 * (dso_error() says why, once). build_id may be NULL (then the BUILD_ID
 * feature or the file itself is trusted); a file whose build-id differs from
 * the recorded one is not used (its debug dir copies are tried instead).
 */
struct dso *symbols_dso(struct symbols *s, const char *path,
			const uint8_t *build_id, size_t build_id_size);

/* Register a recorded build-id for a path (from the BUILD_ID feature). */
int symbols_add_build_id(struct symbols *s, const char *path,
			 const uint8_t *build_id, size_t size);

/*
 * Resolve a file offset: fills out[] innermost first (inline frames, then
 * the containing function last), returns the number filled (>= 1 when a
 * symbol covers the address, 0 when none does), or -PM_E* when the dso is
 * unusable. max >= 1.
 */
int dso_lookup(struct dso *d, uint64_t file_offset, struct sym_frame *out,
	       size_t max);

/* The ELF virtual address for a file offset; false if not in a PT_LOAD. */
bool dso_offset_to_vaddr(struct dso *d, uint64_t file_offset, uint64_t *vaddr);

const char *dso_path(const struct dso *d);	/* as mapped */
const char *dso_name(const struct dso *d);	/* basename */
const char *dso_error(const struct dso *d);	/* why unusable, or NULL */
bool dso_has_frame_pointers(struct dso *d);	/* best guess from DWARF
						   producer / code; see .c */

/* Address of a symbol in the dso (ELF vaddr), e.g. the trampoline template
 * _Py_trampoline_func_start; false if absent. */
bool dso_symbol_addr(struct dso *d, const char *name, uint64_t *vaddr,
		     uint64_t *size);

/* Read size bytes at ELF vaddr from the file; false if not file-backed. */
bool dso_read(struct dso *d, uint64_t vaddr, void *buf, size_t size);

/* The file actually opened (the binary, or its build-id cache copy). */
const char *dso_file(struct dso *d);

/*
 * Kernel symbols from kallsyms (only when the recording was made on this
 * running kernel: osrelease matches uname -r, and the kernel build-id, if
 * recorded, matches /sys/kernel/notes). 0, or -PM_E* with err saying why
 * kernel frames stay unsymbolized; symbols_kernel_lookup() then gives the
 * name containing addr, or NULL.
 */
int symbols_load_kernel(struct symbols *s, const char *osrelease,
			const uint8_t *kernel_build_id, size_t size,
			struct pm_error *err);
const char *symbols_kernel_lookup(struct symbols *s, uint64_t addr);
bool symbols_kernel_usable(struct symbols *s);

/*
 * The same load on a thread of its own (reading kallsyms takes ~0.1 s,
 * better spent beside the first samples). symbols_kernel_wait() ends it:
 * the load's result, err saying why kernel frames stay unsymbolized.
 * symbols_kernel_lookup() and symbols_kernel_usable() wait for it
 * themselves. If no thread can be started, the load happens here and now.
 */
void symbols_load_kernel_async(struct symbols *s, const char *osrelease,
			       const uint8_t *kernel_build_id, size_t size);
int symbols_kernel_wait(struct symbols *s, struct pm_error *err);

#endif
