/* test_tramp.c - decoding CPython perf trampoline templates. */
#include <elf.h>
#include <string.h>

#include "cfi.h"
#include "check.h"
#include "symbols.h"
#include "tramp.h"

/* CPython 3.12.x / 3.13.0 x86-64 (pyenv build, also the committed
 * Python/asm_trampoline.S at 3.12.6). */
static const uint8_t x86_sub[] = {
	0x48, 0x83, 0xec, 0x08,		/* sub $8,%rsp */
	0xff, 0xd1,			/* call *%rcx */
	0x48, 0x83, 0xc4, 0x08,		/* add $8,%rsp */
	0xc3,				/* ret */
};
/* Same with -fcf-protection (gh-128605 backports). */
static const uint8_t x86_sub_cet[] = {
	0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
	0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3,
};
/* gh-136541: 3.13 later, 3.14, 3.15. */
static const uint8_t x86_push[] = {
	0x55,				/* push %rbp */
	0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
	0xff, 0xd1,			/* call *%rcx */
	0x5d,				/* pop %rbp */
	0xc3,				/* ret */
};
static const uint8_t x86_push_cet[] = {
	0xf3, 0x0f, 0x1e, 0xfa,		/* endbr64 */
	0x55, 0x48, 0x8b, 0xec,		/* push %rbp; mov %rsp,%rbp (8b form) */
	0x41, 0xff, 0xd3,		/* call *%r11 */
	0xc9,				/* leave */
	0xc3,				/* ret */
	0x0f, 0x1f, 0x44, 0x00, 0x00,	/* nopl 0(%rax,%rax) padding */
};
/* aarch64 3.12/3.13. */
static const uint8_t a64_plain[] = {
	0xfd, 0x7b, 0xbf, 0xa9,		/* stp x29, x30, [sp, #-16]! */
	0xfd, 0x03, 0x00, 0x91,		/* mov x29, sp */
	0x60, 0x00, 0x3f, 0xd6,		/* blr x3 */
	0xfd, 0x7b, 0xc1, 0xa8,		/* ldp x29, x30, [sp], #16 */
	0xc0, 0x03, 0x5f, 0xd6,		/* ret */
};
/* aarch64 with PAC (gh-139808): paciasp ... autiasp. */
static const uint8_t a64_pac[] = {
	0x3f, 0x23, 0x03, 0xd5,		/* paciasp */
	0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91,
	0x60, 0x00, 0x3f, 0xd6, 0xfd, 0x7b, 0xc1, 0xa8,
	0xbf, 0x23, 0x03, 0xd5,		/* autiasp */
	0xc0, 0x03, 0x5f, 0xd6,
};
/* aarch64 with BTI only. */
static const uint8_t a64_bti[] = {
	0x5f, 0x24, 0x03, 0xd5,		/* bti c */
	0xfd, 0x7b, 0xbf, 0xa9, 0xfd, 0x03, 0x00, 0x91,
	0x60, 0x00, 0x3f, 0xd6, 0xfd, 0x7b, 0xc1, 0xa8,
	0xc0, 0x03, 0x5f, 0xd6,
};

static int decode(uint16_t m, const uint8_t *c, size_t n,
		  struct tramp_rule *r, struct pm_error *err)
{
	pm_error_clear(err);
	return tramp_decode(m, c, n, r, err);
}

static void check_x86_sub(const uint8_t *c, size_t n, uint32_t ret_off)
{
	struct tramp_rule r;
	struct pm_error err;
	const struct tramp_row *row;

	CHECK(decode(EM_X86_64, c, n, &r, &err) == 0);
	CHECK(r.size == n);
	CHECK(r.ret_off == ret_off);
	CHECK(!r.ra_signed);
	row = tramp_row_at(&r, r.ret_off);
	CHECK(row && row->cfa_reg == 7 && row->cfa_off == 16);
	CHECK(row && row->ra.where == TRAMP_AT_CFA && row->ra.off == -8);
	CHECK(row && row->fp.where == TRAMP_SAME);
	/* entry: CFA = rsp + 8 */
	row = tramp_row_at(&r, 0);
	CHECK(row && row->cfa_off == 8 && row->ra.off == -8);
	/* at the ret: back to rsp + 8 */
	row = tramp_row_at(&r, n - 1);
	CHECK(row && row->cfa_off == 8);
	CHECK(tramp_row_at(&r, n) == NULL);
}

static void check_x86_push(const uint8_t *c, size_t n, uint32_t ret_off,
			   uint32_t ret_insn)
{
	struct tramp_rule r;
	struct pm_error err;
	const struct tramp_row *row;

	CHECK(decode(EM_X86_64, c, n, &r, &err) == 0);
	CHECK(r.ret_off == ret_off);
	row = tramp_row_at(&r, r.ret_off);
	CHECK(row && row->cfa_reg == 7 && row->cfa_off == 16);
	CHECK(row && row->ra.where == TRAMP_AT_CFA && row->ra.off == -8);
	CHECK(row && row->fp.where == TRAMP_AT_CFA && row->fp.off == -16);
	row = tramp_row_at(&r, ret_insn);
	CHECK(row && row->cfa_off == 8 && row->fp.where == TRAMP_SAME);
}

static void check_a64(const uint8_t *c, size_t n, uint32_t ret_off,
		      bool signed_ra)
{
	struct tramp_rule r;
	struct pm_error err;
	const struct tramp_row *row;
	char text[160];

	CHECK(decode(EM_AARCH64, c, n, &r, &err) == 0);
	CHECK(r.ret_off == ret_off);
	CHECK(r.ra_signed == signed_ra);
	row = tramp_row_at(&r, r.ret_off);
	CHECK(row && row->cfa_reg == 31 && row->cfa_off == 16);
	CHECK(row && row->ra.where == TRAMP_AT_CFA && row->ra.off == -8);
	CHECK(row && row->fp.where == TRAMP_AT_CFA && row->fp.off == -16);
	row = tramp_row_at(&r, 0);
	CHECK(row && row->cfa_off == 0 && row->ra.where == TRAMP_IN_REG &&
	      row->ra.reg == 30);
	row = tramp_row_at(&r, n - 4);
	CHECK(row && row->cfa_off == 0 && row->ra.where == TRAMP_IN_REG);
	tramp_describe(&r, text, sizeof(text));
	CHECK(strstr(text, "CFA=sp+16") != NULL);
}

/* Must be refused with -PM_EUNSUPPORTED and a message naming the offset. */
static void check_bad(uint16_t m, const uint8_t *c, size_t n,
		      const char *msg_part)
{
	struct tramp_rule r;
	struct pm_error err;
	int rc = decode(m, c, n, &r, &err);

	CHECK(rc < 0);
	CHECK(err.code == rc);
	if (!strstr(err.msg, msg_part)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg,
			msg_part);
		CHECK(0);
	}
}

/* The template in a real aarch64 ELF file (tests/data, recipe in its
 * README) is found, read and decoded through symbols + cfi. */
static void check_aarch64_fixture(void)
{
	struct symbols_opts so = { .inline_frames = true };
	struct symbols *syms = symbols_new(&so);
	const struct tramp_rule *rule = NULL;
	struct pm_error err = {0};
	struct cfi_bin *b;
	struct dso *d;
	char text[200];

	d = syms ? symbols_dso(syms, "tests/data/aarch64-trampoline.so",
			       NULL, 0) : NULL;
	CHECK(d != NULL && dso_error(d) == NULL);
	b = d ? cfi_bin_new(d) : NULL;
	CHECK(b != NULL);
	if (b) {
		CHECK(cfi_bin_machine(b) == EM_AARCH64);
		CHECK(cfi_bin_tramp(b, &rule, &err) == 1 && rule);
		if (rule) {
			tramp_describe(rule, text, sizeof(text));
			printf("aarch64 fixture: %s\n", text);
			CHECK(rule->machine == EM_AARCH64);
			CHECK(rule->size == 28);
		}
	}
	cfi_bin_free(b);
	symbols_free(syms);
}

int main(void)
{
	struct tramp_rule r;
	struct pm_error err;
	char text[160];
	uint8_t big[TRAMP_MAX_SIZE + 1];

	check_x86_sub(x86_sub, sizeof(x86_sub), 6);
	check_x86_sub(x86_sub_cet, sizeof(x86_sub_cet), 10);
	check_x86_push(x86_push, sizeof(x86_push), 6, 7);
	check_x86_push(x86_push_cet, sizeof(x86_push_cet), 11, 12);
	check_a64(a64_plain, sizeof(a64_plain), 12, false);
	check_a64(a64_pac, sizeof(a64_pac), 16, true);
	check_a64(a64_bti, sizeof(a64_bti), 16, false);

	CHECK(decode(EM_X86_64, x86_sub, sizeof(x86_sub), &r, &err) == 0);
	tramp_describe(&r, text, sizeof(text));
	CHECK_STR(text, "x86-64, 11 bytes, at return +6: CFA=rsp+16 "
			"RA=[CFA-8] rbp=same");

	/* broken / unknown templates */
	{
		static const uint8_t no_ret[] = { 0x48, 0x83, 0xec, 0x08,
						  0xff, 0xd1, 0x48, 0x83,
						  0xc4, 0x08 };
		static const uint8_t unbalanced[] = { 0x48, 0x83, 0xec, 0x08,
						      0xff, 0xd1, 0xc3 };
		static const uint8_t no_call[] = { 0x48, 0x83, 0xec, 0x08,
						   0x48, 0x83, 0xc4, 0x08,
						   0xc3 };
		static const uint8_t two_calls[] = { 0x48, 0x83, 0xec, 0x08,
						     0xff, 0xd1, 0xff, 0xd1,
						     0x48, 0x83, 0xc4, 0x08,
						     0xc3 };
		static const uint8_t mem_call[] = { 0x48, 0x83, 0xec, 0x08,
						    0xff, 0x11,	/* *(%rcx) */
						    0x48, 0x83, 0xc4, 0x08,
						    0xc3 };
		static const uint8_t bad_pop[] = { 0x55, 0x48, 0x83, 0xec,
						   0x08, 0xff, 0xd1, 0x5d,
						   0xc3 };
		static const uint8_t zeros[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
		static const uint8_t a64_odd[] = { 0xfd, 0x7b, 0xbf };
		static const uint8_t a64_hint[] = {
			0x1f, 0x25, 0x03, 0xd5,		/* hint #40 */
			0xfd, 0x7b, 0xbf, 0xa9, 0x60, 0x00, 0x3f, 0xd6,
			0xfd, 0x7b, 0xc1, 0xa8, 0xc0, 0x03, 0x5f, 0xd6,
		};
		static const uint8_t a64_ldp32[] = {	/* ldp #32 vs stp #-16 */
			0xfd, 0x7b, 0xbf, 0xa9, 0x60, 0x00, 0x3f, 0xd6,
			0xfd, 0x7b, 0xc2, 0xa8, 0xc0, 0x03, 0x5f, 0xd6,
		};
		static const uint8_t a64_blr_early[] = {	/* LR not saved */
			0x60, 0x00, 0x3f, 0xd6, 0xc0, 0x03, 0x5f, 0xd6,
		};

		check_bad(EM_X86_64, no_ret, sizeof(no_ret), "no final ret");
		check_bad(EM_X86_64, unbalanced, sizeof(unbalanced),
			  "+6: ret with an unbalanced stack (bytes c3)");
		check_bad(EM_X86_64, no_call, sizeof(no_call),
			  "no indirect call");
		check_bad(EM_X86_64, two_calls, sizeof(two_calls),
			  "+6: more than one call");
		check_bad(EM_X86_64, mem_call, sizeof(mem_call),
			  "+4: unknown instruction (bytes ff 11 48 83");
		check_bad(EM_X86_64, bad_pop, sizeof(bad_pop),
			  "+7: pop %rbp does not match");
		check_bad(EM_X86_64, zeros, sizeof(zeros),
			  "+0: unknown instruction");
		check_bad(EM_X86_64, x86_sub, 0, "no final ret");
		check_bad(EM_AARCH64, a64_odd, sizeof(a64_odd),
			  "not a multiple of 4");
		check_bad(EM_AARCH64, a64_hint, sizeof(a64_hint),
			  "+0: unknown hint");
		check_bad(EM_AARCH64, a64_ldp32, sizeof(a64_ldp32),
			  "+8: ldp does not match");
		check_bad(EM_AARCH64, a64_blr_early, sizeof(a64_blr_early),
			  "+0: blr before the link register");
		check_bad(EM_386, x86_sub, sizeof(x86_sub), "ELF machine 3");
		/* x86 bytes are not an aarch64 template */
		check_bad(EM_AARCH64, x86_push, sizeof(x86_push),
			  "unknown");
		/* aarch64 bytes are not an x86 template */
		check_bad(EM_X86_64, a64_plain, sizeof(a64_plain),
			  "unknown instruction");
		memset(big, 0x90, sizeof(big));
		CHECK(decode(EM_X86_64, big, sizeof(big), &r, &err) ==
		      -PM_ELIMIT);
	}
	check_aarch64_fixture();
	return check_done();
}
