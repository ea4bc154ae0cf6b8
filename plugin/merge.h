/*
 * merge.h - turn a symbolized stack (leaf first, as unwound) into the stack
 * shown to the user (root first), eliding interpreter plumbing.
 *
 * Rules (default mode):
 *  - Python frames are kept.
 *  - Interpreter frames (FRAME_INTERP) rootward of the innermost Python frame
 *    are elided (they are CPython's call plumbing). Leafward of the innermost
 *    Python frame they are the function's own work and are kept, except the
 *    eval-loop frames directly under the Python frame (_PyEval_EvalFrame*,
 *    py_trampoline_evaluator, ...), which are the function itself.
 *  - Native frames of other DSOs are kept, except process/thread start-up
 *    frames of libc (_start, __libc_start_*, start_thread, clone*) rootward
 *    of the first Python frame.
 *  - CPython's cyclic GC leafward of the innermost Python frame: its
 *    outermost entry point becomes a "[gc]" runtime frame right under that
 *    Python frame (interpreter frames in between elided), the collector's
 *    own frames stay under it.
 *  - A stack with no Python frame is kept whole.
 *  - truncated: a FRAME_RUNTIME "[truncated]" is put at the root end.
 * MERGE_ALL keeps every frame (--native=all), still adding "[truncated]".
 */
#ifndef PM_MERGE_H
#define PM_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"

enum merge_mode { MERGE_DEFAULT, MERGE_ALL };

/* Whether a native symbol starts a process or thread (_start, clone3, ...):
 * a user stack that reaches one is complete. */
bool merge_is_start_frame(const char *name);

/*
 * in: n frames, leaf first. out: room for n + 1 frames. Returns the number
 * of frames written to out, root first.
 */

size_t merge_stack(const struct frame *in, size_t n, int truncated,
		   enum merge_mode mode, struct frame *out);

#endif
