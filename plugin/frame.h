/*
 * frame.h - the frame model shared by symbolization, merge, profile and
 * the outputs (DESIGN.md, "Frame model").
 *
 * A struct frame only points at strings owned by someone else (symbols,
 * pymap, the stacker's arena); it is a small value type, copied freely.
 */
#ifndef PM_FRAME_H
#define PM_FRAME_H

#include <stdbool.h>
#include <stdint.h>

enum frame_kind {
	FRAME_PYTHON,		/* "qualname (file.py)" from a trampoline */
	FRAME_NATIVE,		/* symbol of a non-interpreter DSO */
	FRAME_INTERP,		/* symbol in libpython / the python binary */
	FRAME_KERNEL,		/* kernel symbol, text ends in "_[k]" */
	FRAME_RUNTIME,		/* "[unknown]", "[truncated]", "[gc]", ... */
	FRAME_KIND_NR
};

struct frame {
	const char *name;	/* text as shown and folded */
	const char *dso;	/* basename of the DSO, "" for none */
	enum frame_kind kind;
};

/* Whether name is one of list (NULL-terminated): the symbol lists that
 * give CPython's and glibc's frames a meaning (merge.c, offcpu.c). */
bool frame_name_in(const char *name, const char *const *list);

/* Name of a kind: "python", "native", "interp", "kernel", "runtime". */
const char *frame_kind_name(enum frame_kind k);

/* Pseudo-frame names. */
#define FRAME_TRUNCATED	"[truncated]"
#define FRAME_UNKNOWN	"[unknown]"
#define FRAME_GC	"[gc]"

#endif
