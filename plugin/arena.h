/*
 * arena.h - bump allocator for per-file data (strings, frames, symbols), freed
 * at once, and the one overflow-checked array grow helper.
 *
 * Memory returned by arena_alloc() stays valid until arena_free(); there is
 * no per-object free. Allocations are 16-byte aligned.
 */
#ifndef PM_ARENA_H
#define PM_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);			/* NULL accepted */

void *arena_alloc(struct arena *a, size_t size);	/* NULL on OOM */
void *arena_zalloc(struct arena *a, size_t size);	/* zero-filled */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n); /* stops at NUL */

/*
 * Grow *ptr (an array of elem-sized items with *alloc slots) so it holds at
 * least `need` items; never more than `cap` items. Doubles, overflow-checked.
 * Returns 0, -PM_ELIMIT when need > cap, -PM_ENOMEM. *ptr is unchanged on
 * failure. Use: grow_array((void **)&v, &v_alloc, n + 1, sizeof(*v), CAP).
 */
int grow_array(void **ptr, size_t *alloc, size_t need, size_t elem, size_t cap);

#endif
