/*
 * stitch.c - per-thread history of complete samples, and the evidence check
 * that lets a truncated stack borrow an earlier sample's outer frames.
 *
 * Frames are compared by their stack pointer and pc. A frame's stack
 * pointer here is the callee's CFA: the value sp had in that frame when it
 * made the call that is still in progress, i.e. where the callee's return
 * address ends (x86-64: CFA - 8 holds it). Two samples showing the same
 * (sp, pc) at their outermost common frame are blocked in the same call
 * site at the same depth; whether it is the same activation is what the
 * other checks are for:
 *
 *   bytes  The words at and above that sp are the frame's own locals and
 *          spills, then the registers it saved on entry (which hold its
 *          caller's values) and its return address: a frame that is
 *          blocked in a call does not change them, a different activation
 *          at the same depth rarely matches them all. We compare every
 *          byte both copies hold from that sp up. When the truncated copy
 *          ends fewer than STITCH_WANT_BYTES above it, the range is
 *          extended down over the frames the two samples share (equal sp
 *          and pc; they are blocked in the same calls), and fewer than
 *          STITCH_MIN_BYTES in the end is not evidence.
 *   time   A later sample whose sampled sp is above the frame's sp was
 *          taken after the frame returned: whatever sits there afterwards
 *          is another activation, so an entry is not used for frames its
 *          thread has since left. Samples arrive in time order per thread
 *          (the session's ordered stream), so a running maximum per entry
 *          is enough.
 *   space  Same pid and process generation, same code_gen (an exec or
 *          new code mapped resets the history) and same tid.
 *
 * A complete sample keeps the bytes of its copy from its sampled sp up to
 * its outermost frame's sp (nothing above that can be matched), at most the
 * copy size: perf copies <= 64 KiB, so an entry is <= 64 KiB + its frames.
 * Entry buffers are reused ring-wise, so steady state allocates nothing.
 */
#include "stitch.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

#define STITCH_WANT_BYTES 64	/* extend the compared range below this */
#define STITCH_MIN_BYTES 16	/* and refuse below this */
#define STITCH_MAX_COPY (1u << 20)	/* bytes kept per entry, a cap that
					   real copies (< 64 KiB) never hit */

struct entry {
	bool used;
	unsigned code_gen;
	uint64_t *ips, *sps;		/* frames, leaf first */
	size_t nr, ips_alloc, sps_alloc;
	uint8_t *bytes;			/* own copy [base, base + len) */
	size_t bytes_alloc;
	uint64_t base, len;
	uint64_t max_sp;		/* highest sampled sp of the thread
					   since this sample, 0 if none */
};

struct thread_hist {
	bool used;
	uint32_t pid, tid;
	unsigned generation;
	uint64_t last;			/* clock of its last sample */
	size_t head;			/* next entry to overwrite */
	struct entry ent[STITCH_HISTORY];
};

struct stitcher {
	struct thread_hist th[STITCH_MAX_THREADS];
	uint64_t clock;
};

struct stitcher *stitcher_new(void)
{
	return calloc(1, sizeof(struct stitcher));
}

static void entry_release(struct entry *e)
{
	free(e->ips);
	free(e->sps);
	free(e->bytes);
	memset(e, 0, sizeof(*e));
}

static void thread_release(struct thread_hist *t)
{
	size_t i;

	for (i = 0; i < STITCH_HISTORY; i++)
		entry_release(&t->ent[i]);
	memset(t, 0, sizeof(*t));
}

void stitcher_free(struct stitcher *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < STITCH_MAX_THREADS; i++)
		thread_release(&st->th[i]);
	free(st);
}

/* End of [addr, addr + len), saturating (sp values come from the input). */
static uint64_t span_end(uint64_t addr, uint64_t len)
{
	return len > UINT64_MAX - addr ? UINT64_MAX : addr + len;
}

/* The thread's history; with create, a new (or the least recently sampled
 * thread's recycled) slot if there is none. A slot of the same pid and tid
 * from an earlier process instance is cleared. */
static struct thread_hist *thread_get(struct stitcher *st,
				      const struct stitch_key *k, bool create)
{
	struct thread_hist *t, *lru = NULL;
	size_t i, j;

	for (i = 0; i < STITCH_MAX_THREADS; i++) {
		t = &st->th[i];
		if (!t->used) {
			if (!lru || lru->used)
				lru = t;
			continue;
		}
		if (t->pid == k->pid && t->tid == k->tid) {
			if (t->generation != k->generation) {
				for (j = 0; j < STITCH_HISTORY; j++)
					t->ent[j].used = false;
				t->generation = k->generation;
			}
			return t;
		}
		if (!lru || (lru->used && t->last < lru->last))
			lru = t;
	}
	if (!create || !lru)
		return NULL;
	if (lru->used)
		thread_release(lru);	/* its buffers are sized for it */
	lru->used = true;
	lru->pid = k->pid;
	lru->tid = k->tid;
	lru->generation = k->generation;
	return lru;
}

/*
 * The byte evidence for t's outermost frame kk being e's frame j (same sp
 * and pc already checked).
 */
static bool bytes_match(const struct entry *e, size_t j,
			const struct stitch_sample *t, size_t kk)
{
	uint64_t end = span_end(t->stack_addr, t->stack_len), lo;
	size_t m = kk, i = j;

	if (span_end(e->base, e->len) < end)
		end = span_end(e->base, e->len);
	while (!(end > t->sps[m] && end - t->sps[m] >= STITCH_WANT_BYTES) &&
	       m > 0 && i > 0 && t->sps[m - 1] == e->sps[i - 1] &&
	       t->ips[m - 1] == e->ips[i - 1]) {
		m--;
		i--;
	}
	lo = t->sps[m];
	if (lo < t->stack_addr || lo < e->base || end <= lo ||
	    end - lo < STITCH_MIN_BYTES)
		return false;
	return memcmp(t->stack + (lo - t->stack_addr),
		      e->bytes + (lo - e->base), end - lo) == 0;
}

int stitcher_find(struct stitcher *st, const struct stitch_key *k,
		  const struct stitch_sample *t, struct stitch_tail *tail)
{
	struct thread_hist *th;
	uint64_t sp, ip;
	size_t n, j, kk;

	if (!st || !t->nr || !t->stack)
		return 0;
	th = thread_get(st, k, false);
	if (!th)
		return 0;
	kk = t->nr - 1;
	sp = t->sps[kk];
	ip = t->ips[kk];
	for (n = 0; n < STITCH_HISTORY; n++) {
		const struct entry *e = &th->ent[(th->head + STITCH_HISTORY -
						  1 - n) % STITCH_HISTORY];

		if (!e->used || e->code_gen != k->code_gen)
			continue;
		/* the frame returned since e: a later activation there is
		 * not e's (max_sp only grows, so older entries fail too) */
		for (j = 0; j + 1 < e->nr; j++) {
			if (e->sps[j] != sp || e->ips[j] != ip)
				continue;
			if (e->max_sp > sp ||
			    t->nr + (e->nr - j - 1) > STITCH_MAX_FRAMES ||
			    !bytes_match(e, j, t, kk))
				break;
			tail->ips = e->ips + j + 1;
			tail->sps = e->sps + j + 1;
			tail->nr = e->nr - j - 1;
			return 1;
		}
	}
	return 0;
}

static int entry_fill(struct entry *e, const struct stitch_key *k,
		      const struct stitch_sample *s)
{
	uint64_t hi = 0, len;
	size_t i;
	int err;

	e->used = false;
	err = grow_array((void **)&e->ips, &e->ips_alloc, s->nr,
			 sizeof(*e->ips), STITCH_MAX_FRAMES);
	if (!err)
		err = grow_array((void **)&e->sps, &e->sps_alloc, s->nr,
				 sizeof(*e->sps), STITCH_MAX_FRAMES);
	if (err)
		return err;
	for (i = 0; i < s->nr; i++)
		if (s->sps[i] > hi)
			hi = s->sps[i];
	/* bytes up to the outermost frame: nothing above it can match */
	len = hi > s->stack_addr ? hi - s->stack_addr : 0;
	if (len > s->stack_len)
		len = s->stack_len;
	if (!s->stack || len > STITCH_MAX_COPY)
		len = 0;
	if (len && (err = grow_array((void **)&e->bytes, &e->bytes_alloc,
				     (size_t)len, 1, STITCH_MAX_COPY)))
		return err;
	memcpy(e->ips, s->ips, s->nr * sizeof(*e->ips));
	memcpy(e->sps, s->sps, s->nr * sizeof(*e->sps));
	if (len)
		memcpy(e->bytes, s->stack, (size_t)len);
	e->nr = s->nr;
	e->base = s->stack_addr;
	e->len = len;
	e->max_sp = 0;
	e->code_gen = k->code_gen;
	e->used = true;
	return 0;
}

int stitcher_record(struct stitcher *st, const struct stitch_key *k,
		    const struct stitch_sample *s, bool complete)
{
	struct thread_hist *th;
	uint64_t sp0;
	size_t i;
	int err;

	if (!st || !s->nr)
		return 0;
	complete = complete && s->nr >= 2 && s->nr <= STITCH_MAX_FRAMES;
	th = thread_get(st, k, complete);
	if (!th)
		return 0;
	th->last = ++st->clock;
	sp0 = s->sps[0];
	for (i = 0; i < STITCH_HISTORY; i++) {
		struct entry *e = &th->ent[i];

		if (!e->used)
			continue;
		if (e->code_gen != k->code_gen)
			e->used = false;	/* code_gen never returns */
		else if (sp0 > e->max_sp)
			e->max_sp = sp0;
	}
	if (!complete)
		return 0;
	err = entry_fill(&th->ent[th->head], k, s);
	if (err)
		return err;
	th->head = (th->head + 1) % STITCH_HISTORY;
	return 0;
}

void stitcher_forget(struct stitcher *st, uint32_t pid, uint32_t tid)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < STITCH_MAX_THREADS; i++)
		if (st->th[i].used && st->th[i].pid == pid &&
		    st->th[i].tid == tid)
			thread_release(&st->th[i]);
}

size_t stitcher_bytes(const struct stitcher *st)
{
	size_t i, j, n = 0;

	if (!st)
		return 0;
	for (i = 0; i < STITCH_MAX_THREADS; i++)
		for (j = 0; j < STITCH_HISTORY; j++) {
			const struct entry *e = &st->th[i].ent[j];

			n += e->bytes_alloc + (e->ips_alloc + e->sps_alloc) *
					      sizeof(uint64_t);
		}
	return n;
}
