/*
 * stitch.h - completing stacks cut by the size of the stack copy from
 * earlier samples of the same thread.
 *
 * perf copies at most 64 KiB of user stack per sample; a deeper stack is
 * unwound until the copy ends and is truncated there. If an earlier sample
 * of the same thread was unwound past that point, its outer frames are the
 * missing part, provided the frame where the truncated unwind stopped is
 * the same frame (same activation) in both samples. The evidence asked for
 * (stitch.c has the details):
 *
 *   - same process instance (pid, generation), same code mapped (no exec,
 *     dlopen, dlclose in between), same thread;
 *   - the outermost recovered frame has the same stack pointer (CFA of its
 *     callee) and pc in the earlier sample;
 *   - the stack bytes both copies hold at and above that frame's stack
 *     pointer (its locals and saved registers, extended down over the
 *     frames the two samples share if that is too few bytes) are identical;
 *   - no sample of the thread in between had its stack pointer above that
 *     frame's, which would mean the frame returned and may have been
 *     called again.
 *
 * What no copy can show (the callers beyond both copies' common part being
 * different activations laid out byte for byte alike) is not checked: the
 * result is marked stitched so the summary can say how many stacks rest on
 * this evidence.
 *
 * Samples must be given in time order per thread. Memory is bounded: a
 * ring of STITCH_HISTORY complete samples per thread (each keeping the
 * bytes of its own copy up to its outermost frame, <= 64 KiB, and its
 * frames, <= 16 KiB), at most STITCH_MAX_THREADS threads, the least
 * recently sampled evicted first: ~20 MiB at worst, usually far less.
 *
 * Ownership: the stitcher owns the history; tails returned by
 * stitcher_find() point into it and stay valid until the next call.
 */
#ifndef PM_STITCH_H
#define PM_STITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STITCH_HISTORY 8		/* complete samples kept per thread */
#define STITCH_MAX_THREADS 32
#define STITCH_MAX_FRAMES 1025		/* frames of one stitched stack */

/* Identity of a sample's thread and of the address space it ran in. */
struct stitch_key {
	uint32_t pid, tid;
	unsigned generation;		/* proc->generation (PID reuse) */
	unsigned code_gen;		/* changes whenever executable maps
					   do (exec, dlopen, JIT arenas);
					   data maps do not matter */
};

/* One unwound sample. */
struct stitch_sample {
	const uint64_t *ips;		/* pcs, leaf first (unwind_result) */
	const uint64_t *sps;		/* stack pointer of each frame: the
					   sampled sp, then each callee's CFA */
	size_t nr;
	const uint8_t *stack;		/* the sample's stack copy ... */
	uint64_t stack_addr;		/* ... starting at this address */
	uint64_t stack_len;		/* valid bytes (dyn_size) */
};

/* The earlier sample's frames beyond the truncated sample's outermost
 * frame, leaf first, to append to it. */
struct stitch_tail {
	const uint64_t *ips, *sps;
	size_t nr;
};

struct stitcher;

struct stitcher *stitcher_new(void);		/* NULL on OOM */
void stitcher_free(struct stitcher *st);	/* NULL accepted */

/*
 * For a truncated sample t of thread k: look for an earlier complete
 * sample of the thread with the evidence above for t's outermost frame.
 * Returns 1 with *tail filled, or 0 (no such sample, or the stitched stack
 * would exceed STITCH_MAX_FRAMES).
 */
int stitcher_find(struct stitcher *st, const struct stitch_key *k,
		  const struct stitch_sample *t, struct stitch_tail *tail);

/*
 * Note every unwound sample of thread k, in time order (its stack pointer
 * is what tells that a frame has returned); complete ones (unwound to the
 * root, or stitched to such a sample) are kept in the history. 0 or
 * -PM_ENOMEM (the history is then left without this sample).
 */
int stitcher_record(struct stitcher *st, const struct stitch_key *k,
		    const struct stitch_sample *s, bool complete);

/* Drop what is kept for a thread (it exited); pid, tid as in the key. */
void stitcher_forget(struct stitcher *st, uint32_t pid, uint32_t tid);

/* Bytes held by the history (for tests and diagnostics). */
size_t stitcher_bytes(const struct stitcher *st);

#endif
