/*
 * pipeline.h - samples to stacks on several threads, delivered in order.
 *
 * On a DWARF recording most of the time goes into unwinding and
 * symbolizing samples, and samples are independent once the session state
 * at their time is fixed. The pipeline gathers submitted samples into a
 * batch; a full batch is handed to the worker threads while the caller
 * goes on reading the next one. Each thread runs stacker_collect() on its
 * own stacker (stacker_new_sibling: own perf maps, unwinder and caches;
 * the symbols are shared under their lock), taking samples in increasing
 * order;
 * the caller's thread helps with the batch, then runs stacker_finish()
 * (stitching, which needs every sample of a thread in order) and the sink
 * on each sample, in submission order. Outputs are the same as those of a
 * single-threaded run, warnings included (merged in sample order).
 *
 * The session is read by the workers while a batch is out: the caller must
 * call pipeline_flush() before changing it (session_process(), or
 * session_thread() for a thread session_thread_peek() does not know), and
 * before anything that must see all earlier samples sunk.
 *
 * Ownership: the pipeline owns the sibling stackers and its threads;
 * frames handed to the sink point into the stackers (the caller's or a
 * sibling's) and stay valid until pipeline_free(). Events are kept with
 * perfdata_event_keep() until sunk.
 */
#ifndef PM_PIPELINE_H
#define PM_PIPELINE_H

#include <stddef.h>

#include "perfdata.h"
#include "session.h"
#include "stack.h"

#define PIPELINE_MAX_THREADS 8
#define PIPELINE_BATCH 256		/* samples per batch */

/* Called on the caller's thread for each sample, in submission order:
 * res is its finished stack. A non-zero return stops the pipeline: the
 * pending samples are dropped, and that error is returned by the
 * pipeline_submit()/pipeline_flush() that ran the sink and every later
 * call (nothing more is sunk). */
typedef int (*pipeline_sink)(void *arg, const struct pd_event *ev,
			     struct stack_result *res);

struct pipeline;

/*
 * A pipeline of `threads` threads (the caller's included; 0 = the online
 * CPUs; at most PIPELINE_MAX_THREADS) over st, the caller's stacker, which
 * also does the finishing. threads == 1 starts no thread. NULL on OOM or
 * when no thread can be started with threads > 1 (then one thread is
 * tried: NULL only on OOM).
 */
struct pipeline *pipeline_new(struct stacker *st, unsigned threads,
			      pipeline_sink sink, void *arg);
void pipeline_free(struct pipeline *pl);	/* NULL accepted; joins */

/* Threads it runs (fewer than asked when some could not be started). */
unsigned pipeline_threads(const struct pipeline *pl);

/* Queue sample ev of thread t (its session thread). May run the sink on
 * earlier samples (with one thread, on ev at once). 0, -PM_ENOMEM, or the
 * sink's error. */
int pipeline_submit(struct pipeline *pl, const struct pd_event *ev,
		    struct thread *t);

/* Finish and sink every queued sample. 0, -PM_ENOMEM, or the sink's
 * error. */
int pipeline_flush(struct pipeline *pl);

/* Warnings of the stackers, each once, in the order of the samples that
 * raised them; NULL-terminated, valid until the next pipeline call. */
const char *const *pipeline_warnings(const struct pipeline *pl);

#endif
