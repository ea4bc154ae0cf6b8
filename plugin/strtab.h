/*
 * strtab.h - string interning: equal strings give the same pointer.
 *
 * The table owns the copies (in its own arena); they stay valid until
 * strtab_free(). Not thread-safe.
 */
#ifndef PM_STRTAB_H
#define PM_STRTAB_H

#include <stddef.h>

struct strtab;

struct strtab *strtab_new(void);
void strtab_free(struct strtab *t);		/* NULL accepted */

/* Interned copy of s (or of its first n bytes); NULL on OOM. */
const char *strtab_intern(struct strtab *t, const char *s);
const char *strtab_intern_n(struct strtab *t, const char *s, size_t n);

#endif
