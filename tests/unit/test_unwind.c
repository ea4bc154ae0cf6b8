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
#define REGS_MASK 0xff0fffull
#define NR_REGS 20
#define SP_IDX 7
#define IP_IDX 8
/* Store the registers in perf order (AX BX CX DX SI DI BP SP IP FLAGS CS
 * SS R8..R15) and the address of the instruction after the asm as IP. */
#define CAPTURE_REGS(r)							\
	__asm__ volatile("movq %%rax, 0(%0)\n\tmovq %%rbx, 8(%0)\n\t"	\
			 "movq %%rcx, 16(%0)\n\tmovq %%rdx, 24(%0)\n\t"	\
			 "movq %%rsi, 32(%0)\n\tmovq %%rdi, 40(%0)\n\t"	\
			 "movq %%rbp, 48(%0)\n\tmovq %%rsp, 56(%0)\n\t"	\
			 "leaq 1f(%%rip), %%rax\n\tmovq %%rax, 64(%0)\n\t" \
			 "movq %%r8, 96(%0)\n\tmovq %%r9, 104(%0)\n\t"	\
			 "movq %%r10, 112(%0)\n\tmovq %%r11, 120(%0)\n\t" \
			 "movq %%r12, 128(%0)\n\tmovq %%r13, 136(%0)\n\t" \
			 "movq %%r14, 144(%0)\n\tmovq %%r15, 152(%0)\n"	\
			 "1:\n" : : "r"(r) : "rax", "memory")
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
#define REGS_MASK 0x1ffffffffull
#define NR_REGS 33
#define SP_IDX 31
#define IP_IDX 32
#define CAPTURE_REGS(r)							\
	__asm__ volatile("stp x0, x1, [%0, #0]\n\tstp x2, x3, [%0, #16]\n\t" \
			 "stp x4, x5, [%0, #32]\n\tstp x6, x7, [%0, #48]\n\t" \
			 "stp x8, x9, [%0, #64]\n\tstp x10, x11, [%0, #80]\n\t" \
			 "stp x12, x13, [%0, #96]\n\tstp x14, x15, [%0, #112]\n\t" \
			 "stp x16, x17, [%0, #128]\n\tstp x18, x19, [%0, #144]\n\t" \
			 "stp x20, x21, [%0, #160]\n\tstp x22, x23, [%0, #176]\n\t" \
			 "stp x24, x25, [%0, #192]\n\tstp x26, x27, [%0, #208]\n\t" \
			 "stp x28, x29, [%0, #224]\n\tstr x30, [%0, #240]\n\t" \
			 "mov x9, sp\n\tstr x9, [%0, #248]\n\t"		\
			 "adr x9, 1f\n\tstr x9, [%0, #256]\n"		\
			 "1:\n" : : "r"(r) : "x9", "memory")
#endif

extern const char _Py_trampoline_func_start[], _Py_trampoline_func_end[];

#define STACK_MAX 65528

struct capture {
	uint64_t stack_top;		/* end of the [stack] mapping */
	uint64_t regs[NR_REGS];
	uint8_t stack[STACK_MAX];
	uint64_t size;
	uint64_t ra[4];			/* return addresses seen by f3, f2, f1 */
};

/* Copy the stack from the captured SP, as perf does, bounded by its top.
 * Byte by byte and not instrumented: under ASan the stack has redzones. */
static __attribute__((noinline, no_sanitize("address")))
void copy_stack(struct capture *c)
{
	uint64_t sp = c->regs[SP_IDX], i;
	const volatile uint8_t *from = (const volatile uint8_t *)(uintptr_t)sp;

	c->size = c->stack_top - sp < STACK_MAX ? c->stack_top - sp : STACK_MAX;
	for (i = 0; i < c->size; i++)
		c->stack[i] = from[i];
}

static __attribute__((noinline, noclone)) int f3(struct capture *c)
{
	c->ra[0] = (uint64_t)(uintptr_t)__builtin_return_address(0);
	CAPTURE_REGS(c->regs);
	copy_stack(c);
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
	CAPTURE_REGS(c->regs);
	copy_stack(c);
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

static uint64_t stack_top(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long lo, hi, top = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") &&
		    sscanf(line, "%llx-%llx", &lo, &hi) == 2)
			top = hi;
	if (f)
		fclose(f);
	return top;
}

enum { MAPS_ALL, MAPS_ANON, MAPS_NOT_SELF };

/* Feed this process's executable mappings to the session as MMAP2: all,
 * only anonymous ones, or all but this test program's. */
static int add_maps(struct session *s, uint32_t pid, int which)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024], perms[8], path[512], self[512];
	unsigned long long lo, hi, off;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int n = 0;

	self[len > 0 ? len : 0] = '\0';

	while (f && fgets(line, sizeof(line), f)) {
		struct pd_event ev;

		path[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %511s", &lo, &hi,
			   perms, &off, path) < 4 || perms[2] != 'x')
			continue;
		if ((which == MAPS_ANON && path[0] == '/') ||
		    (which == MAPS_NOT_SELF && strcmp(path, self) == 0))
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = PD_MMAP2;
		ev.misc = PD_MISC_USER;
		ev.sid.pid = ev.sid.tid = pid;
		ev.u.mmap.pid = ev.u.mmap.tid = pid;
		ev.u.mmap.start = lo;
		ev.u.mmap.len = hi - lo;
		ev.u.mmap.pgoff = off;
		ev.u.mmap.prot = 5;
		ev.u.mmap.filename = path[0] ? path : "//anon";
		if (session_process(s, &ev) == 0)
			n++;
	}
	if (f)
		fclose(f);
	return n;
}

static void sample_of(const struct capture *c, struct pd_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->user_abi = 2;
	s->nr_user_regs = NR_REGS;
	s->user_regs = (const uint8_t *)c->regs;
	s->user_stack = c->stack;
	s->user_stack_size = STACK_MAX;
	s->user_stack_dyn_size = c->size;
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
	struct unwinder *u = syms ? unwinder_new(syms) : NULL;
	struct pd_attr attr = { .sample_type = PD_S_REGS_USER |
						PD_S_STACK_USER,
				.sample_regs_user = REGS_MASK };
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
	session_set_priv_free(sess, unwinder_proc_free);
	c->stack_top = stack_top();
	CHECK(c->stack_top != 0);
	CHECK(add_maps(sess, 100, MAPS_ALL) > 0);
	p = session_proc(sess, 100);
	CHECK(p != NULL);
	if (!p)
		return check_done();

	/* 1. native chain f3 <- f2 <- f1 <- main <- libc <- _start */
	f1(c);
	sample_of(c, &s);
	CHECK(unwinder_unwind(u, p, &attr, &s, NULL, &res) == 0);
	CHECK(res.nr >= 6);
	if (res.nr >= 4) {
		CHECK(res.ips[0] == c->regs[IP_IDX]);
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
	CHECK(add_maps(sess, 100, MAPS_ANON) > 0);	/* the new //anon map */
	p = session_proc(sess, 100);
	sample_of(c, &s);
	CHECK(unwinder_unwind(u, p, &attr, &s, pms, &res) == 0);
	CHECK(res.nr >= 5);
	if (res.nr >= 4) {
		uint64_t ret = (uint64_t)(uintptr_t)arena + 64;

		CHECK(res.ips[0] == c->regs[IP_IDX]);
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
	CHECK(add_maps(sess, 200, MAPS_NOT_SELF) > 0);
	p2 = session_proc(sess, 200);
	CHECK(p2 != NULL);
	if (p2) {
		c->regs[IP_IDX] = (uint64_t)(uintptr_t)arena + 64 + 1;
		sample_of(c, &s);
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
			c->regs[j] = (uint64_t)rand() << 33 ^
				     (uint64_t)rand() << 2;
		if (i & 1)	/* a plausible pc: inside f2 */
			c->regs[IP_IDX] = c->ra[1];
		if (i & 2)
			c->regs[SP_IDX] = (uint64_t)(uintptr_t)c->stack;
		for (j = 0; j < 512; j++)
			c->stack[j] = (uint8_t)rand();
		c->size = (size_t)rand() % 600;
		sample_of(c, &s);
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
