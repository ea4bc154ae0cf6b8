/* test_profile.c - trie shape, self/total/py_self, children order, limits,
 * and invariants over many random stacks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "profile.h"

#define PY(n) { n, "", FRAME_PYTHON }
#define NAT(n) { n, "libc.so.6", FRAME_NATIVE }
#define INT(n) { n, "libpython3.12.so.1.0", FRAME_INTERP }
#define K(n) { n "_[k]", "[kernel.kallsyms]", FRAME_KERNEL }
#define NOF(a) (sizeof(a) / sizeof((a)[0]))

/* Child of `node` whose frame is named `name`, or UINT32_MAX. */
static uint32_t child_named(const struct profile *p, uint32_t node,
			    const char *name)
{
	uint32_t c;

	for (c = profile_node(p, node)->first_child; c != UINT32_MAX;
	     c = profile_node(p, c)->next_sibling)
		if (strcmp(profile_frame(p, profile_node(p, c)->frame)->name,
			   name) == 0)
			return c;
	return UINT32_MAX;
}

/* Frame index of (name, kind), or UINT32_MAX. */
static uint32_t frame_named(const struct profile *p, const char *name,
			    enum frame_kind kind)
{
	size_t i;

	for (i = 0; i < profile_nr_frames(p); i++) {
		const struct frame *f = profile_frame(p, (uint32_t)i);

		if (strcmp(f->name, name) == 0 && f->kind == kind)
			return (uint32_t)i;
	}
	return UINT32_MAX;
}

static void test_basic(void)
{
	static const struct frame a[] = {
		PY("main (app.py)"), PY("fib (app.py)"), PY("fib (app.py)"),
		NAT("memcpy"),
	};
	static const struct frame b[] = { PY("main (app.py)"),
					  PY("fib (app.py)") };
	static const struct frame c[] = { PY("main (app.py)"),
					  NAT("deflate"),
					  INT("_PyEval_EvalFrameDefault") };
	static const struct frame d[] = { K("do_idle") };
	static const struct frame e[] = { PY("main (app.py)"),
					  NAT("fib (app.py)") };
	struct profile *p = profile_new();
	uint32_t main_n, fib1, fib2, mc, fi;
	const struct pframe_stat *st;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(profile_nr_nodes(p) == 1);
	CHECK(profile_node(p, 0)->frame == UINT32_MAX);
	CHECK(profile_node(p, 0)->parent == UINT32_MAX);
	CHECK(profile_add(p, a, NOF(a), 5) == 0);
	CHECK(profile_add(p, b, NOF(b), 3) == 0);
	CHECK(profile_add(p, c, NOF(c), 2) == 0);
	CHECK(profile_add(p, d, NOF(d), 1) == 0);
	CHECK(profile_add(p, NULL, 0, 4) == 0);		/* empty stack */
	CHECK(profile_add(p, e, NOF(e), 6) == 0);	/* same name, native */
	CHECK(profile_total(p) == 21);
	CHECK(profile_stacks(p) == 6);
	/* main, fib(py), memcpy, deflate, eval, do_idle, fib(native) */
	CHECK(profile_nr_frames(p) == 7);
	/* root, main, fib, fib, memcpy, deflate, eval, do_idle, fib(nat) */
	CHECK(profile_nr_nodes(p) == 9);

	/* shape */
	main_n = child_named(p, 0, "main (app.py)");
	CHECK(main_n != UINT32_MAX);
	CHECK(profile_node(p, 0)->first_child == main_n);	/* insertion */
	CHECK(profile_node(p, 0)->total == 21);
	CHECK(profile_node(p, 0)->self == 4);
	CHECK(profile_node(p, main_n)->total == 16);
	CHECK(profile_node(p, main_n)->self == 0);
	fib1 = profile_node(p, main_n)->first_child;
	CHECK(profile_frame(p, profile_node(p, fib1)->frame)->kind ==
	      FRAME_PYTHON);
	CHECK(profile_node(p, fib1)->total == 8);
	CHECK(profile_node(p, fib1)->self == 3);
	CHECK(profile_node(p, fib1)->parent == main_n);
	fib2 = child_named(p, fib1, "fib (app.py)");
	CHECK(fib2 != UINT32_MAX && profile_node(p, fib2)->total == 5);
	CHECK(profile_node(p, fib2)->self == 0);
	mc = child_named(p, fib2, "memcpy");
	CHECK(mc != UINT32_MAX && profile_node(p, mc)->self == 5);
	CHECK(profile_node(p, mc)->first_child == UINT32_MAX);
	CHECK(profile_node(p, mc)->parent == fib2);
	/* main's children in insertion order: fib, deflate, fib(native) */
	CHECK(profile_node(p, fib1)->next_sibling ==
	      child_named(p, main_n, "deflate"));
	CHECK(profile_node(p, child_named(p, main_n, "deflate"))
		      ->next_sibling != UINT32_MAX);
	CHECK(profile_node(p, 0)->next_sibling == UINT32_MAX);
	CHECK(profile_node(p, 9) == NULL);

	/* per-frame stats: recursion counted once in total */
	fi = frame_named(p, "fib (app.py)", FRAME_PYTHON);
	st = profile_frame_stat(p, fi);
	CHECK(st->total == 8);		/* 5 + 3, not 5 + 5 + 3 */
	CHECK(st->self == 3);
	CHECK(st->py_self == 8);	/* innermost Python frame of a and b */
	st = profile_frame_stat(p, frame_named(p, "main (app.py)",
					       FRAME_PYTHON));
	CHECK(st->total == 16 && st->self == 0);
	CHECK(st->py_self == 8);	/* c (2) and e (6, native leaf) */
	st = profile_frame_stat(p, frame_named(p, "memcpy", FRAME_NATIVE));
	CHECK(st->self == 5 && st->total == 5 && st->py_self == 0);
	st = profile_frame_stat(p, frame_named(p, "fib (app.py)",
					       FRAME_NATIVE));
	CHECK(st->self == 6 && st->total == 6 && st->py_self == 0);
	st = profile_frame_stat(p, frame_named(p, "do_idle_[k]",
					       FRAME_KERNEL));
	CHECK(st->self == 1 && st->py_self == 0);
	CHECK(profile_frame(p, frame_named(p, "memcpy", FRAME_NATIVE))->dso &&
	      strcmp(profile_frame(p, frame_named(p, "memcpy",
						  FRAME_NATIVE))->dso,
		     "libc.so.6") == 0);
	CHECK(profile_frame(p, 1000) == NULL);
	CHECK(profile_frame_stat(p, 1000) == NULL);
	profile_free(p);
}

static void test_edge(void)
{
	struct profile *p = profile_new();
	char name[32] = "mutable";
	struct frame f[2] = { { name, NULL, FRAME_NATIVE },
			      { NULL, "x.so", (enum frame_kind)77 } };
	struct frame g = { "mutable", "", FRAME_NATIVE };
	size_t nodes;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(profile_add(p, f, 2, 1) == 0);
	strcpy(name, "changed");	/* the profile copied the string */
	CHECK_STR(profile_frame(p, 0)->name, "mutable");
	CHECK_STR(profile_frame(p, 0)->dso, "");
	CHECK_STR(profile_frame(p, 1)->name, FRAME_UNKNOWN);
	CHECK(profile_frame(p, 1)->kind == FRAME_RUNTIME);
	/* NULL dso and "" dso are the same frame */
	CHECK(profile_add(p, &g, 1, 1) == 0);
	CHECK(profile_nr_frames(p) == 2);

	/* a reused caller buffer with new text is a new frame, even right
	 * after a stack that used the same pointer (prefix reuse) */
	{
		struct frame h[2] = { { name, "", FRAME_NATIVE },
				      { name, "", FRAME_NATIVE } };
		struct profile *q = profile_new();

		CHECK(q != NULL);
		strcpy(name, "one");
		CHECK(q && profile_add(q, h, 2, 1) == 0);
		strcpy(name, "two");
		CHECK(q && profile_add(q, h, 2, 1) == 0);
		CHECK(q && profile_nr_frames(q) == 2);
		CHECK(q && profile_nr_nodes(q) == 5);
		CHECK(q && profile_node(q, 0)->first_child != UINT32_MAX &&
		      profile_node(q, profile_node(q, 0)->first_child)
				      ->next_sibling != UINT32_MAX);
		profile_free(q);
	}

	nodes = profile_nr_nodes(p);
	CHECK(profile_add(p, f, 2, 0) == 0);	/* weight 0: counted only */
	CHECK(profile_nr_nodes(p) == nodes);
	CHECK(profile_stacks(p) == 3);
	CHECK(profile_total(p) == 2);
	CHECK(profile_add(p, &g, 1, UINT64_MAX) == -PM_ELIMIT);
	CHECK(profile_total(p) == 2 && profile_stacks(p) == 3);
	CHECK(profile_add(p, NULL, 3, 1) == -PM_EUSAGE);
	profile_free(p);
	profile_free(NULL);
}

static void test_sorted(void)
{
	static const char *const names[] = {
		"alpha", "Zeta", "\xc3\xa9" "clair", "_under", "alpha2",
		"alpha (x.py)", "Alpha",
	};
	static const char *const want[] = {
		"Alpha", "Zeta", "_under", "alpha", "alpha", "alpha (x.py)",
		"alpha2", "\xc3\xa9" "clair",
	};
	struct profile *p = profile_new();
	struct frame f = { NULL, "", FRAME_NATIVE };
	uint32_t out[16];
	size_t i, n;

	CHECK(p != NULL);
	if (!p)
		return;
	for (i = 0; i < NOF(names); i++) {
		f.name = names[i];
		CHECK(profile_add(p, &f, 1, 1) == 0);
	}
	/* same name, another kind: ties break on kind, python (0) first */
	f.name = "alpha";
	f.kind = FRAME_PYTHON;
	CHECK(profile_add(p, &f, 1, 1) == 0);

	CHECK(profile_children_sorted(p, 0, NULL, 0) == NOF(want));
	out[0] = 12345;
	CHECK(profile_children_sorted(p, 0, out, 3) == NOF(want));
	CHECK(out[0] == 12345);		/* too small: nothing written */
	n = profile_children_sorted(p, 0, out, NOF(out));
	CHECK(n == NOF(want));
	for (i = 0; i < n && i < NOF(want); i++)
		CHECK_STR(profile_frame(p, profile_node(p, out[i])->frame)->name,
			  want[i]);
	CHECK(profile_frame(p, profile_node(p, out[3])->frame)->kind ==
	      FRAME_PYTHON);
	CHECK(profile_frame(p, profile_node(p, out[4])->frame)->kind ==
	      FRAME_NATIVE);
	CHECK(profile_children_sorted(p, out[0], out, NOF(out)) == 0);
	CHECK(profile_children_sorted(p, 99999, out, NOF(out)) == 0);
	profile_free(p);
}

static uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* Many random stacks: check the trie's arithmetic holds everywhere. */
static void test_many(void)
{
	static char names[500][16];
	static struct frame stack[200];
	struct profile *p = profile_new();
	uint64_t seed = 42, sum_w = 0, sum_self = 0, sum_fself = 0;
	size_t i, j, n, bad_total = 0, bad_parent = 0, nodes;

	CHECK(p != NULL);
	if (!p)
		return;
	for (i = 0; i < 500; i++)
		snprintf(names[i], sizeof(names[i]), "f%zu", i);
	for (i = 0; i < 100000; i++) {
		uint64_t w = rng_next(&seed) % 10 + 1;

		n = rng_next(&seed) % 40;
		for (j = 0; j < n; j++) {
			/* few distinct prefixes, so nodes get shared */
			size_t k = j < 3 ? rng_next(&seed) % 3 :
				   rng_next(&seed) % 500;

			stack[j].name = names[k];
			stack[j].dso = "";
			stack[j].kind = k % 2 ? FRAME_PYTHON : FRAME_NATIVE;
		}
		if (profile_add(p, stack, n, w))
			break;
		sum_w += w;
	}
	CHECK(i == 100000);
	CHECK(profile_total(p) == sum_w);
	CHECK(profile_stacks(p) == 100000);
	CHECK(profile_nr_frames(p) == 500);
	for (i = 0; i < profile_nr_nodes(p); i++) {
		const struct pnode *nd = profile_node(p, (uint32_t)i);
		uint64_t kids = 0;
		uint32_t c;

		sum_self += nd->self;
		for (c = nd->first_child; c != UINT32_MAX;
		     c = profile_node(p, c)->next_sibling) {
			kids += profile_node(p, c)->total;
			if (profile_node(p, c)->parent != i)
				bad_parent++;
		}
		if (nd->total != nd->self + kids)
			bad_total++;
	}
	CHECK(bad_total == 0);
	CHECK(bad_parent == 0);
	CHECK(sum_self == sum_w);
	for (i = 0; i < profile_nr_frames(p); i++) {
		const struct pframe_stat *st = profile_frame_stat(p, (uint32_t)i);

		sum_fself += st->self;
		if (st->total > sum_w || st->self > st->total)
			bad_total++;
	}
	CHECK(sum_fself == sum_w - profile_node(p, 0)->self);
	CHECK(bad_total == 0);

	/* one 200-deep stack, many times: no new nodes after the first */
	for (j = 0; j < 200; j++) {
		stack[j].name = names[j % 7];
		stack[j].kind = FRAME_NATIVE;
	}
	CHECK(profile_add(p, stack, 200, 1) == 0);
	nodes = profile_nr_nodes(p);
	for (i = 0; i < 20000; i++)
		if (profile_add(p, stack, 200, 1))
			break;
	CHECK(i == 20000);
	CHECK(profile_nr_nodes(p) == nodes);
	CHECK(profile_frame_stat(p, frame_named(p, "f0", FRAME_NATIVE))
		      ->total >= 20001);
	profile_free(p);
}

int main(void)
{
	test_basic();
	test_edge();
	test_sorted();
	test_many();
	return check_done();
}
