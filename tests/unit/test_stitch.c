/*
 * test_stitch.c - completing truncated stacks from earlier samples of the
 * same thread (stitch.h), on synthetic stack copies and on live stacks.
 *
 * Synthetic part: a thread stack of NF frames, FR bytes each, frame i at
 * sp_of(i) with pc ip_of(i) (leaf = lowest address), filled with bytes that
 * differ everywhere. A sample is a range of those frames and a copy of the
 * stack from its leaf's sp. E holds the outer frames completely; T is
 * deeper and its copy ends inside one of E's frames.
 *
 * Live part: a recursion captures its registers and stack (as the kernel
 * does for a sample) at a shallow level and again deeper down; the deep
 * copy is cut short, and unwinder_unwind_thread must complete it to
 * exactly what unwinding the whole copy gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "perfdata.h"
#include "selfstack.h"
#include "session.h"
#include "stitch.h"
#include "symbols.h"
#include "unwind.h"

/* ---- synthetic ---- */

#define A UINT64_C(0x7ff000000000)
#define FR 256
#define NF 80

static uint8_t mem[NF * FR];

static uint64_t sp_of(size_t i) { return A + (uint64_t)i * FR; }
static uint64_t ip_of(size_t i) { return UINT64_C(0x400000) + i * 0x10; }

struct fake {
	uint64_t ips[1100], sps[1100];
	uint8_t stack[NF * FR];
	struct stitch_sample s;
};

/* Frames lo..hi-1 of the thread; the copy runs from sp_of(lo) to end. */
static void fake_make(struct fake *f, size_t lo, size_t hi, uint64_t end)
{
	size_t i;

	for (i = 0; lo + i < hi; i++) {
		f->ips[i] = ip_of(lo + i);
		f->sps[i] = sp_of(lo + i);
	}
	memcpy(f->stack, mem + lo * FR, (size_t)(end - sp_of(lo)));
	f->s.ips = f->ips;
	f->s.sps = f->sps;
	f->s.nr = hi - lo;
	f->s.stack = f->stack;
	f->s.stack_addr = sp_of(lo);
	f->s.stack_len = end - sp_of(lo);
}

static struct fake fe, ft, fx;

static void test_synthetic(void)
{
	struct stitch_key k = { .pid = 10, .tid = 11, .generation = 0,
				.code_gen = 3 }, k2;
	struct stitcher *st = stitcher_new();
	struct stitch_tail tail;
	size_t i;

	CHECK(st != NULL);
	if (!st)
		return;
	for (i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 7 + (i >> 8) * 13 + 1);

	/* E: frames 40..79, complete, its copy holds all of them */
	fake_make(&fe, 40, NF, sp_of(NF - 1) + FR);
	CHECK(stitcher_record(st, &k, &fe.s, true) == 0);
	CHECK(stitcher_bytes(st) >= (NF - 40 - 1) * FR);

	/* T: frames 20..55, its copy ends 128 bytes into frame 55 */
	fake_make(&ft, 20, 56, sp_of(55) + 128);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);
	CHECK(tail.nr == NF - 56);
	if (tail.nr == NF - 56) {
		CHECK(tail.ips[0] == ip_of(56) && tail.sps[0] == sp_of(56));
		CHECK(tail.ips[tail.nr - 1] == ip_of(NF - 1));
	}

	/* one saved word of frame 55 differs in the bytes both hold: no */
	ft.stack[sp_of(55) + 96 - ft.s.stack_addr] ^= 1;
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	ft.stack[sp_of(55) + 96 - ft.s.stack_addr] ^= 1;
	/* a difference below frame 55 (T's own deeper frames) is no
	 * evidence either way: still stitched */
	ft.stack[sp_of(30) - ft.s.stack_addr] ^= 1;
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);
	ft.stack[sp_of(30) - ft.s.stack_addr] ^= 1;

	/* another pc at the same sp (another call site): no */
	ft.ips[ft.s.nr - 1] ^= 0x4;
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	ft.ips[ft.s.nr - 1] ^= 0x4;
	/* the same frame one slot off: no */
	ft.sps[ft.s.nr - 1] += 16;
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	ft.sps[ft.s.nr - 1] -= 16;

	/* other thread, process, process instance, code: no */
	k2 = k;
	k2.tid = 12;
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);
	k2 = k;
	k2.pid = 11;
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);
	k2 = k;
	k2.code_gen = 4;
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);
	k2 = k;
	k2.generation = 1;
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);
	/* ... which also dropped the history of the older instance */
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	CHECK(stitcher_record(st, &k, &fe.s, true) == 0);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);

	/* copy ends 8 bytes above frame 55's sp: too few bytes alone, so
	 * the range extends over frame 54, which both show */
	fake_make(&ft, 20, 56, sp_of(55) + 8);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);
	/* ... unless frame 54 is not the same in both */
	ft.ips[ft.s.nr - 2] ^= 0x4;
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);

	/* a deeper sample in between changes nothing; one whose sp is above
	 * frame 55 means frame 55 returned since E: no stitching there, but
	 * still for frames further out */
	fake_make(&fx, 10, 30, sp_of(30));
	CHECK(stitcher_record(st, &k, &fx.s, false) == 0);
	fake_make(&ft, 20, 56, sp_of(55) + 128);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);
	fake_make(&fx, 60, 70, sp_of(70));
	CHECK(stitcher_record(st, &k, &fx.s, false) == 0);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	fake_make(&ft, 50, 76, sp_of(75) + 128);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1 && tail.nr == 4);

	/* chains: a stitched sample is complete and serves the next one */
	CHECK(stitcher_record(st, &k, &fe.s, true) == 0);	/* fresh E */
	fake_make(&ft, 20, 56, sp_of(55) + 128);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 1);
	memcpy(ft.ips + ft.s.nr, tail.ips, tail.nr * sizeof(*tail.ips));
	memcpy(ft.sps + ft.s.nr, tail.sps, tail.nr * sizeof(*tail.sps));
	ft.s.nr += tail.nr;
	CHECK(stitcher_record(st, &k, &ft.s, true) == 0);
	fake_make(&fx, 0, 31, sp_of(30) + 128);	/* frame 30: not in E */
	CHECK(stitcher_find(st, &k, &fx.s, &tail) == 1);
	CHECK(tail.nr == NF - 31 && tail.ips[tail.nr - 1] == ip_of(NF - 1));

	/* too deep once stitched: no */
	for (i = 0; i < 1000; i++) {
		fx.ips[i] = ip_of(0) + i;
		fx.sps[i] = sp_of(0) + i * 16;
	}
	fx.s.nr = 1000;
	k2 = k;
	k2.tid = 99;
	memcpy(fx.stack, mem, sizeof(mem));
	fx.s.stack_addr = sp_of(0);
	fx.s.stack_len = sizeof(mem);
	CHECK(stitcher_record(st, &k2, &fx.s, true) == 0);
	fake_make(&ft, 0, 21, sp_of(0) + 20 * 16 + 64);
	for (i = 0; i < 21; i++) {
		ft.ips[i] = i < 20 ? 0x1234 + i : fx.ips[20];
		ft.sps[i] = i < 20 ? sp_of(0) + i * 8 : fx.sps[20];
	}
	ft.s.nr = 21;
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 1);	/* 1000 fit */
	for (i = 0; i < 40; i++)
		ft.ips[i] = 0x1234 + i;
	ft.ips[40] = fx.ips[20];
	ft.sps[40] = fx.sps[20];
	for (i = 20; i < 40; i++)
		ft.sps[i] = sp_of(0) + 160 + (i - 20) * 8;
	ft.s.nr = 41;		/* 41 + 979 = 1020 fit; 60 + 979 do not */
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 1);
	ft.s.nr = 60;
	ft.ips[59] = fx.ips[20];
	ft.sps[59] = fx.sps[20];
	for (i = 40; i < 59; i++) {
		ft.ips[i] = 0x1234 + i;
		ft.sps[i] = sp_of(0) + 320 - (59 - i);
	}
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);

	/* bounded: the least recently sampled thread goes first */
	for (i = 0; i < STITCH_MAX_THREADS; i++) {
		k2 = k;
		k2.tid = 1000 + (uint32_t)i;
		CHECK(stitcher_record(st, &k2, &fe.s, true) == 0);
	}
	fake_make(&ft, 20, 56, sp_of(55) + 128);
	CHECK(stitcher_find(st, &k, &ft.s, &tail) == 0);
	for (i = 0; i < 3 * STITCH_HISTORY; i++)
		CHECK(stitcher_record(st, &k2, &fe.s, true) == 0);
	CHECK(stitcher_bytes(st) <= (size_t)STITCH_MAX_THREADS *
	      STITCH_HISTORY * (sizeof(mem) + 2 * 2048 * sizeof(uint64_t)));
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 1);
	stitcher_forget(st, k2.pid, k2.tid);
	CHECK(stitcher_find(st, &k2, &ft.s, &tail) == 0);

	/* garbage: sps in any order, copies anywhere, no crash */
	srand(7);
	for (i = 0; i < 20000; i++) {
		size_t j, n = (size_t)rand() % 40;

		for (j = 0; j < n; j++) {
			fx.ips[j] = (uint64_t)(rand() % 8);
			fx.sps[j] = (i & 1 ? UINT64_MAX - 4096 : A) +
				    (uint64_t)(rand() % 8192);
		}
		fx.s.nr = n;
		fx.s.stack_addr = n ? fx.sps[0] : (uint64_t)rand();
		fx.s.stack_len = (uint64_t)(rand() % (int)sizeof(fx.stack));
		fx.s.stack = i % 5 ? fx.stack : NULL;
		k2 = k;
		k2.tid = (uint32_t)(rand() % 3);
		if (rand() % 3 == 0)
			CHECK(stitcher_record(st, &k2, &fx.s, rand() & 1) == 0);
		else if (stitcher_find(st, &k2, &fx.s, &tail) == 1)
			CHECK(tail.nr > 0 && fx.s.nr + tail.nr <=
					     STITCH_MAX_FRAMES);
	}
	stitcher_free(st);
	stitcher_free(NULL);
}

/* ---- live ---- */

struct live {
	struct selfstack shallow, e, t;
	unsigned e_level;
};

static __attribute__((noinline, noclone)) void capture(struct selfstack *c)
{
	CAPTURE_REGS(c->regs);
	selfstack_copy(c);
	__asm__ volatile("" ::: "memory");
}

/* Each level keeps a frame of its own (the buffer) and stays blocked in
 * the call to the next level while deeper levels run. */
static __attribute__((noinline, noclone)) int rec(struct live *l,
						  unsigned level)
{
	volatile char pad[96];
	int r;

	pad[level % sizeof(pad)] = (char)level;
	if (level == l->e_level)
		capture(&l->e);
	if (level == 0) {
		capture(&l->t);
		return 1;
	}
	r = rec(l, level - 1);
	__asm__ volatile("" : "+r"(r));
	return r + pad[level % sizeof(pad)];
}

static void test_live(void)
{
	struct live *l = calloc(1, sizeof(*l));
	struct symbols_opts sopts = { .inline_frames = true };
	struct symbols *syms = symbols_new(&sopts);
	struct session *sess = session_new();
	struct unwinder *u = syms && sess ? unwinder_new(syms, sess) : NULL;
	struct pd_attr attr = SELFSTACK_ATTR;
	struct unwind_result res = { 0 }, full = { 0 };
	struct pd_sample s;
	uint64_t cut, last_ip, good_cut = 0;
	size_t last_nr, i, stitched = 0, flips;
	struct proc *p;

	CHECK(l && syms && sess && u);
	if (!l || !syms || !sess || !u)
		goto out;
	l->t.stack_top = selfstack_top();
	l->shallow.stack_top = l->e.stack_top = l->t.stack_top;
	CHECK(selfstack_add_maps(sess, 100, MAPS_ALL) > 0);
	p = session_proc(sess, 100);
	CHECK(p != NULL);
	if (!p)
		goto out;
	capture(&l->shallow);		/* sp above every rec frame */
	l->e_level = 10;
	rec(l, 40);

	/* ground truth: T unwound from its whole copy */
	selfstack_sample(&l->t, STACK_MAX, &s);
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &full) == 0);
	CHECK(!full.truncated && full.nr > 40);

	/* T's copy cut at 64 places from 512 bytes above E's sp on (in
	 * rec levels ~12..16, which were blocked in the same calls when E
	 * was taken): truncated; with E before it, stitched to exactly the
	 * truth wherever the evidence holds (a cut right at a frame boundary
	 * leaves too few bytes of the outermost frame and is refused) */
	for (i = 0; i < 64; i++) {
		cut = l->e.regs[SP_IDX] + 512 + i * 8 - l->t.regs[SP_IDX];
		unwinder_thread_exit(u, 100, 5);	/* start afresh */
		selfstack_sample(&l->t, cut, &s);
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		CHECK(res.truncated && !res.stitched);	/* nothing earlier */
		selfstack_sample(&l->e, STACK_MAX, &s);
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		CHECK(!res.truncated && !res.stitched);
		selfstack_sample(&l->t, cut, &s);
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		if (!res.stitched) {
			CHECK(res.truncated);
			continue;
		}
		stitched++;
		CHECK(!res.truncated && res.why == NULL);
		CHECK(res.nr_stitched > 0 && res.nr_stitched < res.nr);
		CHECK(res.nr == full.nr &&
		      memcmp(res.ips, full.ips, full.nr * 8) == 0);
		good_cut = cut;
	}
	CHECK(stitched >= 48);
	cut = good_cut;
	selfstack_sample(&l->e, STACK_MAX, &s);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	selfstack_sample(&l->t, cut, &s);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	CHECK(res.stitched);

	/* plain unwinder_unwind never stitches */
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.truncated && !res.stitched && res.nr_stitched == 0);
	last_nr = res.nr;
	last_ip = res.nr ? res.ips[res.nr - 1] : 0;

	/* another thread: no */
	CHECK(unwinder_unwind_thread(u, p, 6, &attr, &s, NULL, &res) == 0);
	CHECK(res.truncated && !res.stitched);

	/* a word T holds near its end differs from E's: no. (Words the
	 * unwinder itself reads would change T's frames; those are not
	 * what this is about.) */
	for (i = 8, flips = 0; i <= 64; i += 8) {
		l->t.stack[cut - i] ^= 0x40;
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		if (res.nr == last_nr && res.ips[res.nr - 1] == last_ip) {
			CHECK(res.truncated && !res.stitched);
			flips++;
		}
		l->t.stack[cut - i] ^= 0x40;
	}
	CHECK(flips >= 4);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	CHECK(res.stitched);

	/* a sample of the thread above all rec frames: they returned since
	 * E, so E proves nothing about the frames there now */
	selfstack_sample(&l->shallow, STACK_MAX, &s);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	selfstack_sample(&l->t, cut, &s);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	CHECK(res.truncated && !res.stitched);

	/* new code mapped (an exec, a dlopen): history dropped */
	selfstack_sample(&l->e, STACK_MAX, &s);
	CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL, &res) == 0);
	{
		struct pd_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.type = PD_MMAP2;
		ev.misc = PD_MISC_USER;
		ev.sid.pid = ev.sid.tid = ev.u.mmap.pid = ev.u.mmap.tid = 100;
		ev.u.mmap.start = UINT64_C(0x10000);
		ev.u.mmap.len = 4096;
		ev.u.mmap.prot = 3;	/* data: does not matter */
		ev.u.mmap.filename = "//anon";
		CHECK(session_process(sess, &ev) == 0);
		selfstack_sample(&l->t, cut, &s);
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		CHECK(res.stitched);
		ev.u.mmap.start = UINT64_C(0x20000);
		ev.u.mmap.prot = 5;	/* code */
		CHECK(session_process(sess, &ev) == 0);
		CHECK(unwinder_unwind_thread(u, p, 5, &attr, &s, NULL,
					     &res) == 0);
		CHECK(res.truncated && !res.stitched);
	}
	unwinder_thread_exit(u, 100, 5);
	unwinder_thread_exit(NULL, 100, 5);
out:
	unwind_result_release(&res);
	unwind_result_release(&full);
	unwinder_free(u);
	session_free(sess);
	symbols_free(syms);
	free(l);
}

int main(void)
{
	test_synthetic();
	test_live();
	return check_done();
}
