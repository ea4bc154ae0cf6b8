/*
 * test_unwind.c - the DWARF unwinder on live stacks of this test program.
 *
 * A chain of noinline functions captures its registers (in perf's REGS_USER
 * layout) and a copy of its stack, as the kernel would for a sample; the
 * unwinder must recover the return addresses the functions recorded with
 * __builtin_return_address and end at _start. The program also runs a call
 * through a real copy of a CPython-style trampoline in anonymous memory,
 * named in a perf map: the unwinder has to step through it with the rule
 * decoded from the template below, which this binary defines just like
 * libpython does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "perfdata.h"
#include "pymap.h"
#include "selfstack.h"
#include "session.h"
#include "symbols.h"
#include "unwind.h"

#if defined(__x86_64__)
/* Python/asm_trampoline.S of CPython 3.12 (x86-64). */
__asm__(".pushsection .text\n"
	".globl _Py_trampoline_func_start\n"
	"_Py_trampoline_func_start:\n"
	"	sub $8, %rsp\n"
	"	call *%rcx\n"
	"	add $8, %rsp\n"
	"	ret\n"
	".globl _Py_trampoline_func_end\n"
	"_Py_trampoline_func_end:\n"
	".popsection\n");
#elif defined(__aarch64__)
__asm__(".pushsection .text\n"
	".globl _Py_trampoline_func_start\n"
	"_Py_trampoline_func_start:\n"
	"	stp x29, x30, [sp, #-16]!\n"
	"	mov x29, sp\n"
	"	blr x3\n"
	"	ldp x29, x30, [sp], #16\n"
	"	ret\n"
	".globl _Py_trampoline_func_end\n"
	"_Py_trampoline_func_end:\n"
	".popsection\n");
#endif

extern const char _Py_trampoline_func_start[], _Py_trampoline_func_end[];

struct capture {
	struct selfstack ss;
	uint64_t ra[4];			/* return addresses seen by f3, f2, f1 */
};

static __attribute__((noinline, noclone)) int f3(struct capture *c)
{
	c->ra[0] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	CAPTURE_REGS(c->ss.regs);
	selfstack_copy(&c->ss);
	__asm__ volatile("" ::: "memory");
	return 3;
}

static __attribute__((noinline, noclone)) int f2(struct capture *c)
{
	int r;

	c->ra[1] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	r = f3(c);
	__asm__ volatile("" : "+r"(r));
	return r + 2;
}

static __attribute__((noinline, noclone)) int f1(struct capture *c)
{
	int r;

	c->ra[2] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	r = f2(c);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

/* The "evaluator" the trampoline calls: (tstate, frame, throwflag). */
static __attribute__((noinline, noclone)) void *eval(void *ts, void *frame,
						     int throwflag)
{
	struct capture *c = ts;

	(void)frame;
	(void)throwflag;
	c->ra[0] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	CAPTURE_REGS(c->ss.regs);
	selfstack_copy(&c->ss);
	__asm__ volatile("" ::: "memory");
	return c;
}

typedef void *(*tramp_fn)(void *, void *, int, void *(*)(void *, void *, int));

static __attribute__((noinline, noclone)) void *via_tramp(tramp_fn t,
							  struct capture *c)
{
	void *r;

	c->ra[1] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	r = t(c, NULL, 0, eval);
	__asm__ volatile("" : "+r"(r));
	return r;
}

static bool has_warning(struct unwinder *u, const char *part)
{
	const char *const *w;

	for (w = unwinder_warnings(u); *w; w++)
		if (strstr(*w, part))
			return true;
	return false;
}

int main(void)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct symbols_opts sopts = { .inline_frames = true };
	struct symbols *syms = symbols_new(&sopts);
	struct session *sess = session_new();
	struct unwinder *u = syms && sess ? unwinder_new(syms, sess) : NULL;
	struct pd_attr attr = SELFSTACK_ATTR;
	struct unwind_result res = { 0 };
	struct pd_sample s;
	struct proc *p, *p2;
	struct pymap *pm;
	const struct pymap *pms[2] = { NULL, NULL };
	size_t tsize = (size_t)(_Py_trampoline_func_end -
				_Py_trampoline_func_start);
	uint8_t *arena;
	char maptext[128];
	size_t i;

	CHECK(c && syms && sess && u);
	if (!c || !syms || !sess || !u)
		return check_done();
	c->ss.stack_top = selfstack_top();
	CHECK(c->ss.stack_top != 0);
	CHECK(selfstack_add_maps(sess, 100, MAPS_ALL) > 0);
	p = session_proc(sess, 100);
	CHECK(p != NULL);
	if (!p)
		return check_done();

	/* 1. native chain f3 <- f2 <- f1 <- main <- libc <- _start */
	f1(c);
	selfstack_sample(&c->ss, c->ss.size, &s);
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr >= 6);
	if (res.nr >= 4) {
		CHECK(res.ips[0] == c->ss.regs[IP_IDX]);
		CHECK(res.ips[1] == c->ra[0]);
		CHECK(res.ips[2] == c->ra[1]);
		CHECK(res.ips[3] == c->ra[2]);
	}
	CHECK(!res.truncated);
	if (res.truncated)
		fprintf(stderr, "truncated after %zu frames: %s\n", res.nr,
			res.why);

	/* same sample again: served from the rule cache, same answer */
	{
		uint64_t first[8];
		size_t n = res.nr < 8 ? res.nr : 8;

		memcpy(first, res.ips, n * sizeof(first[0]));
		CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
		CHECK(res.nr >= n && memcmp(first, res.ips, n * 8) == 0);
	}

	/* 2. stack copy cut short: frames up to the cut, then truncated */
	s.user_stack_dyn_size = 16;
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr >= 1 && res.nr < 4);
	CHECK(res.truncated);
	CHECK_STR(res.why, "stack copy too small");
	s.user_stack_dyn_size = 0;
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr >= 1 && res.truncated);

	/* 3. no user regs: nothing */
	s.user_abi = 0;
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr == 0);

	/* 4. through a trampoline copy in anonymous memory, as CPython
	 * makes them (mmap RW, copy the template, mprotect RX) */
	arena = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(arena != MAP_FAILED);
	if (arena == MAP_FAILED)
		goto out;
	memcpy(arena + 64, _Py_trampoline_func_start, tsize);
	CHECK(mprotect(arena, 4096, PROT_READ | PROT_EXEC) == 0);
#if defined(__aarch64__)
	__builtin___clear_cache((char *)arena, (char *)arena + 4096);
#endif
	snprintf(maptext, sizeof(maptext), "%llx %zx py::fn:/app.py\n",
		 (unsigned long long)(uintptr_t)(arena + 64), tsize);
	pm = pymap_parse(maptext, strlen(maptext));
	pms[0] = pm;
	CHECK(pm && pymap_count(pm) == 1);
	memset(c->ra, 0, sizeof(c->ra));
	via_tramp((tramp_fn)(uintptr_t)(arena + 64), c);
	/* the new //anon map */
	CHECK(selfstack_add_maps(sess, 100, MAPS_ANON) > 0);
	p = session_proc(sess, 100);
	selfstack_sample(&c->ss, c->ss.size, &s);
	CHECK(unwinder_unwind(u, p, &attr, &s, pms, &res) == 0);
	CHECK(res.nr >= 5);
	if (res.nr >= 4) {
		uint64_t ret = (uint64_t)(uintptr_t)arena + 64;

		CHECK(res.ips[0] == c->ss.regs[IP_IDX]);
		/* eval returns into the trampoline copy, right after the call */
		CHECK(res.ips[1] == c->ra[0]);
		CHECK(res.ips[1] > ret && res.ips[1] < ret + tsize);
		/* the trampoline returns into via_tramp */
		CHECK(res.ips[2] > (uint64_t)(uintptr_t)via_tramp &&
		      res.ips[2] < (uint64_t)(uintptr_t)via_tramp + 256);
		CHECK(res.ips[3] == c->ra[1]);	/* via_tramp's caller: main */
	}
	CHECK(!res.truncated);
	if (res.truncated)
		fprintf(stderr, "trampoline: truncated after %zu frames: %s\n",
			res.nr, res.why);

	/* 5. the same sample without the perf map: the copy is anonymous
	 * code without CFI. Only the frame-pointer fallback may go on (at
	 * -O0 it does, skipping via_tramp as perf's fp unwinding does); it
	 * must never produce an address outside mapped code. */
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr >= 2 && res.ips[1] == c->ra[0]);
	for (i = 2; i < res.nr; i++)
		CHECK(proc_find_map(p, res.ips[i] - 1) != NULL);
	CHECK(res.truncated || res.nr > 2);

	/* 6. a process whose binaries define no template (libc, no
	 * interpreter), sampled inside the trampoline: one warning, the stack
	 * stops there */
	CHECK(selfstack_add_maps(sess, 200, MAPS_NOT_SELF) > 0);
	p2 = session_proc(sess, 200);
	CHECK(p2 != NULL);
	if (p2) {
		c->ss.regs[IP_IDX] = (uint64_t)(uintptr_t)arena + 64 + 1;
		selfstack_sample(&c->ss, c->ss.size, &s);
		CHECK(unwinder_unwind(u, p2, &attr, &s, pms, &res) == 0);
		CHECK(res.truncated && res.nr == 1);
		CHECK_STR(res.why, "unknown trampoline template");
		CHECK(has_warning(u, "_Py_trampoline_func_start"));
	}

	/* 7. garbage registers and stack bytes: no crash, bounded */
	srand(1);
	for (i = 0; i < 2000; i++) {
		size_t j;

		for (j = 0; j < NR_REGS; j++)
			c->ss.regs[j] = (uint64_t)rand() << 33 ^
					(uint64_t)rand() << 2;
		if (i & 1)	/* a plausible pc: inside f2 */
			c->ss.regs[IP_IDX] = c->ra[1];
		if (i & 2)
			c->ss.regs[SP_IDX] = (uint64_t)(uintptr_t)c->ss.stack;
		for (j = 0; j < 512; j++)
			c->ss.stack[j] = (uint8_t)rand();
		c->ss.size = (size_t)rand() % 600;
		selfstack_sample(&c->ss, c->ss.size, &s);
		CHECK(unwinder_unwind(u, p, &attr, &s, pms, &res) == 0);
		CHECK(res.nr >= 1 && res.nr <= 1025);
	}
	pymap_free(pm);
	munmap(arena, 4096);
out:
	unwind_result_release(&res);
	session_free(sess);		/* frees the per-process state */
	unwinder_free(u);
	symbols_free(syms);
	free(c);
	return check_done();
}
