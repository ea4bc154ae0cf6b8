/*
 * profile.h - the aggregated profile of one event: interned frames, a stack
 * trie with weights, and per-frame self/total for the summaries.
 *
 * Ownership: the profile owns its nodes and copies of frame names; nothing
 * it returns outlives profile_free(). Node 0 is the root (no frame).
 */
#ifndef PM_PROFILE_H
#define PM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct pnode {
	uint32_t frame;		/* index into the frame table; root: UINT32_MAX */
	uint32_t parent;	/* root: UINT32_MAX */
	uint32_t first_child;	/* UINT32_MAX if none; children in insertion
				   order via next_sibling */
	uint32_t next_sibling;
	uint64_t total;		/* weight of every stack through this node */
	uint64_t self;		/* weight of stacks ending here */
};

struct pframe_stat {
	uint64_t self;		/* weight where this frame is the leaf */
	uint64_t total;		/* weight of stacks containing it (once) */
	uint64_t py_self;	/* Python frames: weight where it is the
				   innermost Python frame */
};

struct profile;

struct profile *profile_new(void);
void profile_free(struct profile *p);	/* NULL accepted */

/* Add one stack (root first) with a weight. 0 or -PM_ENOMEM/-PM_ELIMIT. */
int profile_add(struct profile *p, const struct frame *frames, size_t n,
		uint64_t weight);

uint64_t profile_total(const struct profile *p);	/* sum of weights */
uint64_t profile_stacks(const struct profile *p);	/* profile_add calls */

size_t profile_nr_nodes(const struct profile *p);
const struct pnode *profile_node(const struct profile *p, uint32_t idx);

size_t profile_nr_frames(const struct profile *p);
const struct frame *profile_frame(const struct profile *p, uint32_t idx);
const struct pframe_stat *profile_frame_stat(const struct profile *p,
					     uint32_t idx);

/* Children of a node sorted by frame name (flamegraph order), written to
 * out (room for the child count); returns the count. */
size_t profile_children_sorted(const struct profile *p, uint32_t node,
			       uint32_t *out, size_t max);

#endif
