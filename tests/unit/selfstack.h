/*
 * selfstack.h - samples of this test program's own thread, as perf takes
 * them, for the unwinder tests (test_unwind.c, test_stitch.c).
 *
 * CAPTURE_REGS(regs) stores the registers in perf's REGS_USER layout
 * (REGS_MASK, NR_REGS entries; SP_IDX and IP_IDX index the stack pointer
 * and pc), with the pc set to the address right after the asm. Use it in
 * a noinline function and call selfstack_copy() from there: it copies the
 * stack from the captured sp up to the top of [stack] (selfstack_top()),
 * at most STACK_MAX bytes, as perf's stack_user does.
 * selfstack_sample() turns a capture into a pd_sample of an event with
 * attr SELFSTACK_ATTR, and selfstack_add_maps() feeds this process's
 * executable mappings to a session as MMAP2 events.
 *
 * Limits: x86-64 and aarch64 only; the main thread only (the [stack]
 * mapping); flags and segment registers are left 0 on x86-64. The copy is
 * byte by byte and not instrumented, since under ASan the live stack has
 * poisoned redzones; it reads whatever lies there, as the kernel does.
 * Everything is static (unused parts draw no warning), for test programs
 * of one .c file each.
 */
#ifndef PYPERF_TEST_SELFSTACK_H
#define PYPERF_TEST_SELFSTACK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "perfdata.h"
#include "session.h"

#if defined(__x86_64__)
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
#else
#error "selfstack.h: CAPTURE_REGS is only written for x86-64 and aarch64"
#endif

#define STACK_MAX 65528

struct selfstack {
	uint64_t stack_top;		/* end of the [stack] mapping */
	uint64_t regs[NR_REGS];
	uint8_t stack[STACK_MAX];
	uint64_t size;			/* bytes of stack copied */
};

/* Copy the stack from the captured SP, as perf does, bounded by its top.
 * Byte by byte and not instrumented: under ASan the stack has redzones. */
static __attribute__((noinline, unused, no_sanitize("address")))
void selfstack_copy(struct selfstack *c)
{
	uint64_t sp = c->regs[SP_IDX], i;
	const volatile uint8_t *from = (const volatile uint8_t *)(uintptr_t)sp;

	c->size = c->stack_top - sp < STACK_MAX ? c->stack_top - sp : STACK_MAX;
	for (i = 0; i < c->size; i++)
		c->stack[i] = from[i];
}

/* The end of this process's [stack] mapping, 0 if not found. */
static inline uint64_t selfstack_top(void)
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

/* The attr of an event whose samples carry user regs and stack. */
#define SELFSTACK_ATTR { .sample_type = PD_S_REGS_USER | PD_S_STACK_USER, \
			 .sample_regs_user = REGS_MASK }

/* A user-regs + user-stack sample of c, its copy cut to len bytes (at most
 * c->size). s points into c. */
static inline void selfstack_sample(const struct selfstack *c,
				    uint64_t len, struct pd_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->user_abi = 2;
	s->nr_user_regs = NR_REGS;
	s->user_regs = (const uint8_t *)c->regs;
	s->user_stack = c->stack;
	s->user_stack_size = STACK_MAX;
	s->user_stack_dyn_size = len < c->size ? len : c->size;
}

enum { MAPS_ALL, MAPS_ANON, MAPS_NOT_SELF };

/* Feed this process's executable mappings to the session as MMAP2 events
 * of process pid: all, only anonymous ones, or all but this test
 * program's. Returns how many the session took. */
static inline int selfstack_add_maps(struct session *s, uint32_t pid,
				     int which)
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

#endif
