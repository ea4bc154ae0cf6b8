/* test_merge.c - elision rules of merge_stack(). */
#include <stdlib.h>

#include "check.h"
#include "merge.h"

#define PY(n) { n, "", FRAME_PYTHON }
#define NAT(n) { n, "libc.so.6", FRAME_NATIVE }
#define INT(n) { n, "libpython3.12.so.1.0", FRAME_INTERP }
#define K(n) { n "_[k]", "[kernel.kallsyms]", FRAME_KERNEL }

/* Join out[] names with ';' into buf. */
static const char *joined(const struct frame *f, size_t n, char *buf,
			  size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? ";" : "", f[i].name);
	return buf;
}

int main(void)
{
	/* leaf first, as unwound: kernel, then user, root last */
	static const struct frame fp_stack[] = {
		K("clear_page_erms"), K("do_page_fault"),
		INT("PyLong_FromLong"), INT("_PyEval_EvalFrameDefault"),
		PY("fib (app.py)"),
		INT("py_trampoline_evaluator"), INT("_PyEval_Vector"),
		INT("_PyEval_EvalFrameDefault"),
		PY("fib (app.py)"),
		INT("_PyEval_EvalFrameDefault"),
		PY("<module> (app.py)"),
		INT("PyEval_EvalCode"), INT("pymain_run_python"),
		INT("Py_BytesMain"), NAT("__libc_start_call_main"),
		NAT("__libc_start_main_impl"), INT("_start"),
	};
	static const struct frame native_between[] = {
		INT("_PyEval_EvalFrameDefault"), PY("key (app.py)"),
		INT("py_trampoline_evaluator"), INT("list_sort"),
		{ "sqlite3_step", "libsqlite3.so.0", FRAME_NATIVE },
		INT("_PyEval_EvalFrameDefault"), PY("main (app.py)"),
		INT("_start"),
	};
	static const struct frame no_python[] = {
		NAT("memcpy"), INT("Py_Initialize"), INT("_start"),
	};
	struct frame out[32];
	char buf[1024];
	size_t n;

	n = merge_stack(fp_stack, sizeof(fp_stack) / sizeof(fp_stack[0]), 0,
			MERGE_DEFAULT, out);
	CHECK_STR(joined(out, n, buf, sizeof(buf)),
		  "<module> (app.py);fib (app.py);fib (app.py);PyLong_FromLong;"
		  "do_page_fault_[k];clear_page_erms_[k]");
	/* kernel order: root first means do_page_fault before clear_page */
	CHECK(n == 6);

	n = merge_stack(native_between, 8, 0, MERGE_DEFAULT, out);
	CHECK_STR(joined(out, n, buf, sizeof(buf)),
		  "main (app.py);sqlite3_step;key (app.py)");

	n = merge_stack(native_between, 8, 1, MERGE_DEFAULT, out);
	CHECK_STR(joined(out, n, buf, sizeof(buf)),
		  "[truncated];main (app.py);sqlite3_step;key (app.py)");
	CHECK(out[0].kind == FRAME_RUNTIME);

	n = merge_stack(no_python, 3, 0, MERGE_DEFAULT, out);
	CHECK_STR(joined(out, n, buf, sizeof(buf)),
		  "_start;Py_Initialize;memcpy");

	n = merge_stack(native_between, 8, 0, MERGE_ALL, out);
	CHECK(n == 8);
	CHECK_STR(out[0].name, "_start");
	CHECK_STR(out[7].name, "_PyEval_EvalFrameDefault");

	{
		static const struct frame gc[] = {
			INT("visit_decref"), INT("subtract_refs"),
			INT("gc_collect_main"), INT("gc_collect_generations"),
			INT("_Py_RunGC"), INT("_Py_HandlePending"),
			INT("_PyEval_EvalFrameDefault"), PY("make_cycles (app.py)"),
			INT("_PyEval_EvalFrameDefault"), PY("<module> (app.py)"),
			INT("_start"),
		};
		n = merge_stack(gc, 11, 0, MERGE_DEFAULT, out);
		CHECK_STR(joined(out, n, buf, sizeof(buf)),
			  "<module> (app.py);make_cycles (app.py);[gc];gc_collect_generations;"
			  "gc_collect_main;subtract_refs;visit_decref");
		CHECK(out[2].kind == FRAME_RUNTIME);
	}

	n = merge_stack(NULL, 0, 1, MERGE_DEFAULT, out);
	CHECK(n == 1);
	CHECK_STR(out[0].name, "[truncated]");
	return check_done();
}
