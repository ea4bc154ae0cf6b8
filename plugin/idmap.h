/*
 * idmap.h - map from a 64-bit id (tid, pid, a pointer) to a 32-bit slot
 * index into an array the caller owns. Embedded: idmap_release() frees it;
 * a zeroed struct is an empty map. Keys up to UINT64_MAX - 1.
 */
#ifndef PM_IDMAP_H
#define PM_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap {
	uint64_t *keys;			/* key + 1; 0 = empty */
	uint32_t *vals;
	size_t cap, n;
};

/* Slot of key, inserting next_val if absent (*added set). -1 on OOM/cap. */
long idmap_get(struct idmap *m, uint64_t key, uint32_t next_val, bool *added);
/* Slot of key or -1. */
long idmap_find(const struct idmap *m, uint64_t key);
void idmap_release(struct idmap *m);

/*
 * The common use: key -> element of a caller's array *arr of *n elements of
 * size elem. A new key gets a new zero-filled element at the end (the array
 * is grown first, so a failure leaves map and array consistent). Returns
 * the index (*added says whether it is new), or -1 on OOM or cap.
 */
long idmap_slot(struct idmap *m, uint64_t key, void **arr, size_t *n,
		size_t *alloc, size_t elem, bool *added);

#endif
