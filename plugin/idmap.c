/* idmap.c - open-addressing map from a 64-bit id to a 32-bit slot index,
 * linear probing, keys stored + 1 so 0 marks an empty slot. */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

#define IDMAP_MAX (1u << 22)

static size_t id_hash(uint64_t key, size_t cap)
{
	return (size_t)(((key ^ (key >> 29)) * 0x9E3779B97F4A7C15ull >> 32) & (cap - 1));
}

long idmap_find(const struct idmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return -1;
	for (i = id_hash(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key + 1)
			return (long)m->vals[i];
	return -1;
}

static int idmap_rehash(struct idmap *m, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));
	size_t i, j;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -PM_ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		for (j = id_hash(m->keys[i] - 1, cap); keys[j];
		     j = (j + 1) & (cap - 1))
			;
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

long idmap_get(struct idmap *m, uint64_t key, uint32_t next_val, bool *added)
{
	size_t i;
	long v;

	*added = false;
	v = idmap_find(m, key);
	if (v >= 0)
		return v;
	if ((m->n + 1) * 2 > m->cap) {
		if (m->n >= IDMAP_MAX ||
		    idmap_rehash(m, m->cap ? m->cap * 2 : 64))
			return -1;
	}
	for (i = id_hash(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = key + 1;
	m->vals[i] = next_val;
	m->n++;
	*added = true;
	return (long)next_val;
}

void idmap_release(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}


long idmap_slot(struct idmap *m, uint64_t key, void **arr, size_t *n,
		size_t *alloc, size_t elem, bool *added)
{
	long k = idmap_find(m, key);

	*added = false;
	if (k >= 0)
		return k;
	if (grow_array(arr, alloc, *n + 1, elem, IDMAP_MAX))
		return -1;
	k = idmap_get(m, key, (uint32_t)*n, added);
	if (k < 0)
		return -1;
	memset((char *)*arr + *n * elem, 0, elem);
	(*n)++;
	return k;
}
