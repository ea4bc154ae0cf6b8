/*
 * pipeline.c - samples to stacks on several threads (pipeline.h).
 *
 * Two batches of jobs: the caller fills one while the other is out with the
 * workers. When the filling one is full, the caller helps the workers
 * finish the batch that is out, hands them the full one, and then, while
 * they collect it, finishes and sinks the done batch in order. Workers
 * take jobs with an atomic counter, so each stacker sees its jobs in
 * increasing order: a warning a stacker raises once is raised at the first
 * sample of the batch that has it, and merging the per-job warning ranges
 * in job order gives the single-threaded order.
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

#define MAX_MERGED_WARNINGS 128

struct job {
	struct pd_event ev;		/* kept (perfdata_event_keep) */
	uint8_t *buf;			/* its record copy, if not stable */
	size_t buf_alloc;
	struct thread *t;
	struct stack_result res;
	int err;			/* of stacker_collect */
	unsigned by;			/* the stacker that collected it */
	size_t w_from, w_to;		/* warnings it raised there */
};

struct batch {
	struct job jobs[PIPELINE_BATCH];
	size_t n;
	atomic_size_t next;		/* next job to take */
};

struct pipeline {
	struct stacker *st[PIPELINE_MAX_THREADS];	/* [0]: the caller's */
	unsigned nthreads, nstarted;
	pthread_t tids[PIPELINE_MAX_THREADS];
	pipeline_sink sink;
	void *arg;
	struct batch *b[2];
	unsigned fill;			/* b[fill] is being filled */
	bool out;			/* b[!fill] is with the workers */

	pthread_mutex_t lock;
	pthread_cond_t work, done;
	unsigned gen;			/* bumped when a batch goes out */
	unsigned running;		/* workers still on it */
	bool quit;

	const char *warnings[MAX_MERGED_WARNINGS + 1];
	size_t nr_warnings;
	int err;			/* the first error: sticky */
};

/* Collect jobs of b until none is left, on stacker k. */
static void collect(struct pipeline *pl, struct batch *b, unsigned k)
{
	struct stacker *st = pl->st[k];
	size_t i;

	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		struct job *j = &b->jobs[i];

		j->by = k;
		j->w_from = stacker_nr_warnings(st);
		j->err = stacker_collect(st, &j->ev, j->t, &j->res);
		j->w_to = stacker_nr_warnings(st);
	}
}

static void *worker(void *arg)
{
	struct pipeline *pl = arg;
	struct batch *b;
	unsigned k, seen;

	pthread_mutex_lock(&pl->lock);
	k = ++pl->nstarted;		/* stacker index, 1.. */
	seen = 0;	/* pipeline_new's gen: a batch may be out already */
	for (;;) {
		while (!pl->quit && pl->gen == seen)
			pthread_cond_wait(&pl->work, &pl->lock);
		if (pl->quit)
			break;
		seen = pl->gen;
		b = pl->b[!pl->fill];
		pthread_mutex_unlock(&pl->lock);
		collect(pl, b, k);
		pthread_mutex_lock(&pl->lock);
		if (--pl->running == 0)
			pthread_cond_signal(&pl->done);
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* Hand b[fill] to the workers; the caller fills the other one next. */
static void dispatch(struct pipeline *pl)
{
	struct batch *b = pl->b[pl->fill];

	atomic_store(&b->next, 0);
	pthread_mutex_lock(&pl->lock);
	pl->fill = !pl->fill;
	pl->out = true;
	pl->running = pl->nthreads - 1;
	pl->gen++;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->lock);
}

/* Help with the batch that is out and wait until it is collected. */
static struct batch *collect_out(struct pipeline *pl)
{
	struct batch *b = pl->b[!pl->fill];

	collect(pl, b, 0);
	pthread_mutex_lock(&pl->lock);
	while (pl->running)
		pthread_cond_wait(&pl->done, &pl->lock);
	pl->out = false;
	pthread_mutex_unlock(&pl->lock);
	return b;
}

static void adopt_warnings(struct pipeline *pl, struct stacker *st,
			   size_t from, size_t to)
{
	const char *const *w = stacker_warnings(st);
	size_t i, k;

	for (i = from; i < to; i++) {
		for (k = 0; k < pl->nr_warnings; k++)
			if (!strcmp(pl->warnings[k], w[i]))
				break;
		if (k == pl->nr_warnings && k < MAX_MERGED_WARNINGS)
			pl->warnings[pl->nr_warnings++] = w[i];
	}
	pl->warnings[pl->nr_warnings] = NULL;
}

/* Finish and sink the jobs of a collected batch, in order; the batch is
 * empty afterwards, whatever happens. After an error nothing more is sunk:
 * the batch being filled is dropped too. */
static int finish(struct pipeline *pl, struct batch *b)
{
	struct stacker *st0 = pl->st[0];
	size_t i, n = b->n, w;
	int err = pl->err;

	b->n = 0;
	for (i = 0; i < n && !err; i++) {
		struct job *j = &b->jobs[i];

		if ((err = j->err))
			break;
		adopt_warnings(pl, pl->st[j->by], j->w_from, j->w_to);
		w = stacker_nr_warnings(st0);
		err = stacker_finish(st0, &j->ev, &j->res);
		adopt_warnings(pl, st0, w, stacker_nr_warnings(st0));
		if (!err)
			err = pl->sink(pl->arg, &j->ev, &j->res);
	}
	if (err) {
		pl->err = err;
		pl->b[pl->fill]->n = 0;
	}
	return err;
}

int pipeline_submit(struct pipeline *pl, const struct pd_event *ev,
		    struct thread *t)
{
	struct batch *b = pl->b[pl->fill], *done;
	struct job *j = &b->jobs[b->n];
	int err;

	if (pl->err)
		return pl->err;
	if (pl->nthreads == 1) {
		/* no one to hand it to: the sample at once, while its pages
		 * are fresh (no batch, no copy) */
		size_t w = stacker_nr_warnings(pl->st[0]);

		err = stacker_sample(pl->st[0], ev, t, &j->res);
		adopt_warnings(pl, pl->st[0], w, stacker_nr_warnings(pl->st[0]));
		if (!err)
			err = pl->sink(pl->arg, ev, &j->res);
		if (err)
			pl->err = err;
		return err;
	}
	err = perfdata_event_keep(ev, &j->ev, &j->buf, &j->buf_alloc);
	if (err)
		return err;
	j->t = t;
	if (++b->n < PIPELINE_BATCH)
		return 0;
	done = pl->out ? collect_out(pl) : NULL;
	dispatch(pl);
	/* the workers collect b while this thread finishes the last batch */
	return done ? finish(pl, done) : 0;
}

int pipeline_flush(struct pipeline *pl)
{
	int err = 0;

	if (pl->out)
		err = finish(pl, collect_out(pl));
	if (!err && pl->b[pl->fill]->n) {
		dispatch(pl);
		err = finish(pl, collect_out(pl));
	}
	return err ? err : pl->err;
}

const char *const *pipeline_warnings(const struct pipeline *pl)
{
	return pl->warnings;	/* adopt_warnings() keeps it NULL-terminated */
}

unsigned pipeline_threads(const struct pipeline *pl)
{
	return pl->nthreads;
}

struct pipeline *pipeline_new(struct stacker *st, unsigned threads,
			      pipeline_sink sink, void *arg)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	unsigned i;

	if (!pl)
		return NULL;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > PIPELINE_MAX_THREADS)
		threads = PIPELINE_MAX_THREADS;
	pl->st[0] = st;
	pl->sink = sink;
	pl->arg = arg;
	pl->nthreads = 1;
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->done, NULL);
	if (!(pl->b[0] = calloc(1, sizeof(*pl->b[0]))) ||
	    !(pl->b[1] = calloc(1, sizeof(*pl->b[1])))) {
		pipeline_free(pl);
		return NULL;
	}
	for (i = 1; i < threads; i++) {
		pl->st[i] = stacker_new_sibling(st);
		if (!pl->st[i] ||
		    pthread_create(&pl->tids[i], NULL, worker, pl)) {
			/* fewer threads rather than none */
			stacker_free(pl->st[i]);
			pl->st[i] = NULL;
			break;
		}
		pl->nthreads++;
	}
	return pl;
}

void pipeline_free(struct pipeline *pl)
{
	unsigned i, k;
	size_t j;

	if (!pl)
		return;
	pthread_mutex_lock(&pl->lock);
	pl->quit = true;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->lock);
	for (i = 1; i < pl->nthreads; i++)
		pthread_join(pl->tids[i], NULL);
	for (i = 1; i < pl->nthreads; i++)
		stacker_free(pl->st[i]);
	for (k = 0; k < 2; k++) {
		for (j = 0; pl->b[k] && j < PIPELINE_BATCH; j++) {
			free(pl->b[k]->jobs[j].buf);
			stack_result_release(&pl->b[k]->jobs[j].res);
		}
		free(pl->b[k]);
	}
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->done);
	pthread_mutex_destroy(&pl->lock);
	free(pl);
}
