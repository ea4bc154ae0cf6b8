/* strtab.c - open-addressing hash of interned strings (FNV-1a). */
#include "strtab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define STRTAB_MAX (1u << 28)

struct entry {
	const char *str;
	size_t len;
	uint64_t hash;
};

struct strtab {
	struct arena *arena;
	struct entry *tab;
	size_t size, used;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

struct strtab *strtab_new(void)
{
	struct strtab *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->arena = arena_new();
	if (!t->arena) {
		free(t);
		return NULL;
	}
	return t;
}

void strtab_free(struct strtab *t)
{
	if (!t)
		return;
	arena_free(t->arena);
	free(t->tab);
	free(t);
}

static int strtab_grow(struct strtab *t)
{
	size_t nsize = t->size ? t->size * 2 : 256, i;
	struct entry *nt;

	if (nsize > STRTAB_MAX)
		return -1;
	nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -1;
	for (i = 0; i < t->size; i++) {
		size_t j;

		if (!t->tab[i].str)
			continue;
		for (j = t->tab[i].hash & (nsize - 1); nt[j].str;
		     j = (j + 1) & (nsize - 1))
			;
		nt[j] = t->tab[i];
	}
	free(t->tab);
	t->tab = nt;
	t->size = nsize;
	return 0;
}

const char *strtab_intern_n(struct strtab *t, const char *s, size_t n)
{
	uint64_t h;
	size_t i, mask;
	char *copy;

	n = strnlen(s, n);
	if ((t->used + 1) * 2 > t->size && strtab_grow(t) < 0)
		return NULL;
	h = hash_bytes(s, n);
	mask = t->size - 1;
	for (i = h & mask; t->tab[i].str; i = (i + 1) & mask)
		if (t->tab[i].hash == h && t->tab[i].len == n &&
		    memcmp(t->tab[i].str, s, n) == 0)
			return t->tab[i].str;
	copy = arena_strndup(t->arena, s, n);
	if (!copy)
		return NULL;
	t->tab[i].str = copy;
	t->tab[i].len = n;
	t->tab[i].hash = h;
	t->used++;
	return copy;
}

const char *strtab_intern(struct strtab *t, const char *s)
{
	return strtab_intern_n(t, s, SIZE_MAX);
}

