/*
 * merge.c - elide interpreter plumbing from a symbolized stack.
 * The rules are in merge.h; the name lists below are what CPython 3.12-3.15
 * and glibc put between a process start and the Python frames.
 */
#include "merge.h"

#include <string.h>

/* Eval-loop frames directly leafward of a Python frame: the function's own
 * bytecode execution, not a callee. */
static const char *const eval_frames[] = {
	"_PyEval_EvalFrameDefault", "_PyEval_EvalFrame", "_PyEval_Vector",
	"py_trampoline_evaluator", "_Py_trampoline_func_start",
	"_PyEval_EvalFrameDefault.cold", NULL
};

/* libc process and thread start-up frames, plumbing above the first Python
 * frame. */
static const char *const start_frames[] = {
	"_start", "__libc_start_main", "__libc_start_main_impl",
	"__libc_start_call_main", "start_thread", "clone", "clone3",
	"__clone", "__clone3", "__GI___clone3", "__GI___clone", NULL
};

/* Entry points of CPython's cyclic GC (3.12: gc_collect_main via
 * _Py_RunGC; 3.13: _PyGC_Collect; 3.14+: incremental young/increment/full
 * collections; free-threaded: gc_collect_internal). The outermost one on a
 * stack becomes the "[gc]" frame. */
static const char *const gc_frames[] = {
	"_Py_RunGC", "_PyGC_Collect", "_PyGC_CollectNoFail", "PyGC_Collect",
	"gc_collect_main", "gc_collect_with_callback",
	"gc_collect_generations", "gc_collect_impl", "gc_collect_full",
	"gc_collect_young", "gc_collect_increment", "gc_collect_region",
	"gc_collect_internal", NULL
};

bool merge_is_start_frame(const char *name)
{
	return frame_name_in(name, start_frames);
}

size_t merge_stack(const struct frame *in, size_t n, int truncated,
		   enum merge_mode mode, struct frame *out)
{
	size_t nout = 0, i, innermost_py = n, outermost_py = n;
	size_t leaf_start;

	if (truncated) {
		out[nout].name = FRAME_TRUNCATED;
		out[nout].dso = "";
		out[nout].kind = FRAME_RUNTIME;
		nout++;
	}
	for (i = 0; i < n; i++) {
		if (in[i].kind == FRAME_PYTHON) {
			if (innermost_py == n)
				innermost_py = i;
			outermost_py = i;
		}
	}
	if (mode == MERGE_ALL || innermost_py == n) {
		for (i = n; i-- > 0;)
			out[nout++] = in[i];
		return nout;
	}
	/* Root side down to (and including) the innermost Python frame. */
	for (i = n; i-- > innermost_py;) {
		const struct frame *f = &in[i];

		if (f->kind == FRAME_INTERP)
			continue;
		if (i > outermost_py && f->kind == FRAME_NATIVE &&
		    merge_is_start_frame(f->name))
			continue;
		out[nout++] = *f;
	}
	/* Leaf side: skip the eval-loop frames directly under the innermost
	 * Python frame, keep the rest. in[innermost_py - 1] is its callee. */
	leaf_start = innermost_py;
	while (leaf_start > 0 && in[leaf_start - 1].kind == FRAME_INTERP &&
	       frame_name_in(in[leaf_start - 1].name, eval_frames))
		leaf_start--;
	/* Cyclic GC under this function: "[gc]" in place of the collector's
	 * entry point, interpreter frames between the two elided. */
	for (i = leaf_start; i-- > 0;) {
		if (in[i].kind == FRAME_INTERP && frame_name_in(in[i].name, gc_frames))
			break;
	}
	if (i != (size_t)-1) {
		size_t g = i;

		for (i = leaf_start; i-- > g + 1;)
			if (in[i].kind != FRAME_INTERP)
				out[nout++] = in[i];
		out[nout].name = FRAME_GC;
		out[nout].dso = in[g].dso;
		out[nout].kind = FRAME_RUNTIME;
		nout++;
		leaf_start = g;
	}
	for (i = leaf_start; i-- > 0;)
		out[nout++] = in[i];
	return nout;
}
