/*
 * profile.c - interned frames, the stack trie and per-frame statistics.
 *
 * Frames are interned on (name, kind, dso) in an open-addressing table; the
 * profile keeps its own copies of the strings in an arena. Trie nodes live
 * in one array, children linked in insertion order (first_child/
 * next_sibling). Finding the child of a node for a frame walks that list
 * while the node has at most CHILD_LIST children (the common case below
 * the top few levels, and free: the walk touches the nodes the stack is
 * made of); a node with more children has them indexed in an
 * open-addressing table keyed on (parent, frame). So a 200-deep stack
 * costs about 200 cache misses at worst, never a walk over a wide level.
 * Stacks in a row that share a prefix reuse it without any lookup.
 *
 * Per-frame totals count a frame once per stack even when it recurses: each
 * frame remembers the serial number of the last stack that counted it.
 *
 * Input quirks handled here rather than rejected: a NULL name becomes
 * FRAME_UNKNOWN, a NULL dso becomes "", and a kind outside enum frame_kind
 * is stored as FRAME_RUNTIME. A stack with weight 0 is counted in
 * profile_stacks() but changes nothing else.
 */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"

#define NONE UINT32_MAX
#define PROFILE_MAX_NODES ((size_t)50 * 1000 * 1000)
#define PROFILE_MAX_FRAMES ((size_t)16 * 1000 * 1000)
#define PROFILE_MAX_DEPTH ((size_t)1 << 20)
/* Hash tables stay at most half full; sizes are powers of two. */
#define TABLE_MIN 64
#define TABLE_MAX ((size_t)1 << 28)
/* Up to this many children, a child is found by walking the list. */
#define CHILD_LIST 4

struct fentry {
	struct frame f;		/* strings owned by profile->strings */
	struct pframe_stat st;
	uint64_t stamp;		/* serial of the last stack counted in total */
	size_t name_len;
};

/* A node as stored: the public part first (profile_node() returns a
 * pointer to it) and the bookkeeping right after it, so that walking a
 * child list and appending touch one place. */
struct inode {
	struct pnode n;
	uint32_t last_child;	/* for O(1) append */
	uint32_t nr_children;
};

/* A hash-table slot (frames and children); the hash is kept so that
 * probing past other keys never touches the frame or node arrays. */
struct cslot {
	uint32_t node;		/* node or frame index, NONE = empty */
	uint32_t hash;
};

struct profile {
	struct arena *strings;
	struct fentry *fe;
	size_t nr_frames, fe_alloc;
	struct cslot *ftab;	/* frames by (name, kind, dso) */
	size_t ftab_size;

	struct inode *nodes;
	size_t nr_nodes, nodes_alloc;
	struct cslot *ctab;	/* children of wide nodes, by (parent, frame) */
	size_t ctab_size, ctab_used;

	/* The last stack added: its frames and nodes per level. Stacks in a
	 * row often share a long prefix, which is then reused without a
	 * single hash probe. path_ok levels are valid (0 after a failure). */
	uint32_t *path;			/* nodes of the last stack added */
	size_t path_alloc, path_ok;

	uint64_t total, stacks;
};

/* Eight bytes at a time (after a vectorised strlen), multiply-xorshift.
 * The value depends on byte order, but nothing written depends on it. */
static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
	uint64_t w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w ^ (uint64_t)n << 56) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

static uint32_t frame_hash(const char *name, size_t name_len,
			   const char *dso, enum frame_kind kind)
{
	uint64_t h = hash_bytes(0x243f6a8885a308d3ull + (uint64_t)kind, name,
				name_len);

	h = hash_bytes(h, dso, strlen(dso));
	/* murmur3's finaliser: the table index uses the low bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t child_hash(uint32_t parent, uint32_t frame)
{
	uint32_t h = parent * 0x9e3779b1u ^ (frame + 0x7f4a7c15u) * 0x85ebca77u;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h;
}

/* A table of `size` (a power of two) empty slots. */
static int table_new(struct cslot **tab, size_t size)
{
	struct cslot *t = NULL;
	size_t a = 0, i;
	int err = grow_array((void **)&t, &a, size, sizeof(*t), TABLE_MAX);

	if (err)
		return err;
	for (i = 0; i < a; i++)
		t[i].node = NONE;
	*tab = t;
	return 0;
}

/* Move the entries of tab (size slots) into a table twice as big. */
static int table_double(struct cslot **tab, size_t *size)
{
	size_t nsize = *size ? *size * 2 : TABLE_MIN, i, j;
	struct cslot *t;
	int err = table_new(&t, nsize);

	if (err)
		return err;
	for (i = 0; i < *size; i++) {
		if ((*tab)[i].node == NONE)
			continue;
		for (j = (*tab)[i].hash & (nsize - 1); t[j].node != NONE;
		     j = (j + 1) & (nsize - 1))
			;
		t[j] = (*tab)[i];
	}
	free(*tab);
	*tab = t;
	*size = nsize;
	return 0;
}

/* Room for `more` entries, the table staying at most half full. */
static int ctab_reserve(struct profile *p, size_t more)
{
	int err = 0;

	while (!err && (p->ctab_used + more) * 2 > p->ctab_size)
		err = table_double(&p->ctab, &p->ctab_size);
	return err;
}

/* Only after ctab_reserve(): cannot fail. */
static void ctab_insert(struct profile *p, uint32_t node)
{
	const struct pnode *n = &p->nodes[node].n;
	uint32_t h = child_hash(n->parent, n->frame);
	size_t j, mask;

	mask = p->ctab_size - 1;
	for (j = h & mask; p->ctab[j].node != NONE; j = (j + 1) & mask)
		;
	p->ctab[j].node = node;
	p->ctab[j].hash = h;
	p->ctab_used++;
}

/* Is f the interned frame e? (Same normalisation as frame_intern().) */
static int frame_equal(const struct fentry *e, const struct frame *f)
{
	enum frame_kind kind = (unsigned)f->kind < FRAME_KIND_NR ?
			       f->kind : FRAME_RUNTIME;

	return e->f.kind == kind &&
	       strcmp(e->f.name, f->name ? f->name : FRAME_UNKNOWN) == 0 &&
	       strcmp(e->f.dso, f->dso ? f->dso : "") == 0;
}

/* Index of frame f, interning it on first sight. */
static int frame_intern(struct profile *p, const struct frame *f,
			uint32_t *out)
{
	const char *name = f->name ? f->name : FRAME_UNKNOWN;
	const char *dso = f->dso ? f->dso : "";
	enum frame_kind kind = (unsigned)f->kind < FRAME_KIND_NR ?
			       f->kind : FRAME_RUNTIME;
	size_t len = strlen(name);
	uint32_t h = frame_hash(name, len, dso, kind);
	struct fentry *e;
	size_t j, mask = p->ftab_size - 1;
	int err;

	if (p->ftab_size) {
		for (j = h & mask; p->ftab[j].node != NONE;
		     j = (j + 1) & mask) {
			if (p->ftab[j].hash != h)
				continue;
			e = &p->fe[p->ftab[j].node];
			if (e->f.kind == kind && e->name_len == len &&
			    memcmp(e->f.name, name, len) == 0 &&
			    strcmp(e->f.dso, dso) == 0) {
				*out = p->ftab[j].node;
				return 0;
			}
		}
	}
	err = grow_array((void **)&p->fe, &p->fe_alloc, p->nr_frames + 1,
			 sizeof(*p->fe), PROFILE_MAX_FRAMES);
	if (!err && (p->nr_frames + 1) * 2 > p->ftab_size)
		err = table_double(&p->ftab, &p->ftab_size);
	if (err)
		return err;
	e = &p->fe[p->nr_frames];
	memset(e, 0, sizeof(*e));
	e->f.name = arena_strdup(p->strings, name);
	e->f.dso = arena_strdup(p->strings, dso);
	if (!e->f.name || !e->f.dso)
		return -PM_ENOMEM;
	e->f.kind = kind;
	e->name_len = len;
	mask = p->ftab_size - 1;
	for (j = h & mask; p->ftab[j].node != NONE; j = (j + 1) & mask)
		;
	p->ftab[j].node = (uint32_t)p->nr_frames;
	p->ftab[j].hash = h;
	*out = (uint32_t)p->nr_frames++;
	return 0;
}

static int node_append(struct profile *p, uint32_t parent, uint32_t frame)
{
	uint32_t idx = (uint32_t)p->nr_nodes;
	struct inode *n, *par;
	int err;

	err = grow_array((void **)&p->nodes, &p->nodes_alloc, p->nr_nodes + 1,
			 sizeof(*p->nodes), PROFILE_MAX_NODES);
	if (err)
		return err;
	n = &p->nodes[idx];
	n->n.frame = frame;
	n->n.parent = parent;
	n->n.first_child = NONE;
	n->n.next_sibling = NONE;
	n->n.total = 0;
	n->n.self = 0;
	n->last_child = NONE;
	n->nr_children = 0;
	p->nr_nodes++;
	if (parent == NONE)
		return 0;
	par = &p->nodes[parent];
	if (par->last_child == NONE)
		par->n.first_child = idx;
	else
		p->nodes[par->last_child].n.next_sibling = idx;
	par->last_child = idx;
	par->nr_children++;
	return 0;
}

/* The child of `parent` for `frame`, created on first sight. */
static int node_child(struct profile *p, uint32_t parent, uint32_t frame,
		      uint32_t *out)
{
	uint32_t c, h, k, kids;
	size_t j, mask;
	int err;

	if (p->nodes[parent].nr_children <= CHILD_LIST) {
		for (c = p->nodes[parent].n.first_child; c != NONE;
		     c = p->nodes[c].n.next_sibling) {
			if (p->nodes[c].n.frame == frame) {
				*out = c;
				return 0;
			}
		}
	} else {
		h = child_hash(parent, frame);
		mask = p->ctab_size - 1;
		for (j = h & mask; p->ctab[j].node != NONE;
		     j = (j + 1) & mask) {
			const struct pnode *n;

			if (p->ctab[j].hash != h)
				continue;
			n = &p->nodes[p->ctab[j].node].n;
			if (n->parent == parent && n->frame == frame) {
				*out = p->ctab[j].node;
				return 0;
			}
		}
	}
	/* Past CHILD_LIST children, index them all, then each new one.
	 * Table room first, so that nothing fails after the append. */
	kids = p->nodes[parent].nr_children + 1;
	if (kids > CHILD_LIST) {
		err = ctab_reserve(p, kids == CHILD_LIST + 1 ? kids : 1);
		if (err)
			return err;
	}
	err = node_append(p, parent, frame);
	if (err)
		return err;
	c = (uint32_t)(p->nr_nodes - 1);
	if (kids == CHILD_LIST + 1) {
		for (k = p->nodes[parent].n.first_child; k != NONE;
		     k = p->nodes[k].n.next_sibling)
			ctab_insert(p, k);
	} else if (kids > CHILD_LIST + 1) {
		ctab_insert(p, c);
	}
	*out = c;
	return 0;
}

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->strings = arena_new();
	if (!p->strings || node_append(p, NONE, NONE)) {
		profile_free(p);
		return NULL;
	}
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	arena_free(p->strings);
	free(p->fe);
	free(p->ftab);
	free(p->nodes);
	free(p->ctab);
	free(p->path);
	free(p);
}

/*
 * Two passes: first find or create every node (a failure here leaves at
 * most some zero-weight nodes, which the writers skip), then add the weight,
 * so a failed add never leaves a half-counted stack.
 */
int profile_add(struct profile *p, const struct frame *frames, size_t n,
		uint64_t weight)
{
	uint32_t cur = 0, fi;
	size_t i;
	int err = 0, reuse;

	if (!p || (n && !frames))
		return -PM_EUSAGE;
	if (weight == 0) {
		p->stacks++;
		goto out;
	}
	if (p->total > UINT64_MAX - weight || n > PROFILE_MAX_DEPTH) {
		err = -PM_ELIMIT;
		goto out;
	}
	err = grow_array((void **)&p->path, &p->path_alloc, n ? n : 1,
			 sizeof(*p->path), PROFILE_MAX_DEPTH);
	if (err)
		goto out;
	reuse = 1;
	for (i = 0; i < n; i++) {
		if (reuse && i < p->path_ok &&
		    frame_equal(&p->fe[p->nodes[p->path[i]].n.frame],
				&frames[i])) {
			cur = p->path[i];
			continue;
		}
		reuse = 0;
		err = frame_intern(p, &frames[i], &fi);
		if (!err)
			err = node_child(p, cur, fi, &cur);
		if (err) {
			p->path_ok = 0;
			goto out;
		}
		p->path[i] = cur;
	}
	p->path_ok = n;

	p->stacks++;
	p->total += weight;
	p->nodes[0].n.total += weight;
	for (i = 0; i < n; i++) {
		struct fentry *e = &p->fe[p->nodes[p->path[i]].n.frame];

		p->nodes[p->path[i]].n.total += weight;
		if (e->stamp != p->stacks) {
			e->stamp = p->stacks;
			e->st.total += weight;
		}
	}
	p->nodes[cur].n.self += weight;
	if (n) {
		p->fe[p->nodes[cur].n.frame].st.self += weight;
		for (i = n; i-- > 0;) {
			struct fentry *e = &p->fe[p->nodes[p->path[i]].n.frame];

			if (e->f.kind == FRAME_PYTHON) {
				e->st.py_self += weight;
				break;
			}
		}
	}
out:
	return err;
}

uint64_t profile_total(const struct profile *p)
{
	return p->total;
}

uint64_t profile_stacks(const struct profile *p)
{
	return p->stacks;
}

size_t profile_nr_nodes(const struct profile *p)
{
	return p->nr_nodes;
}

const struct pnode *profile_node(const struct profile *p, uint32_t idx)
{
	return idx < p->nr_nodes ? &p->nodes[idx].n : NULL;
}

size_t profile_nr_frames(const struct profile *p)
{
	return p->nr_frames;
}

const struct frame *profile_frame(const struct profile *p, uint32_t idx)
{
	return idx < p->nr_frames ? &p->fe[idx].f : NULL;
}

const struct pframe_stat *profile_frame_stat(const struct profile *p,
					     uint32_t idx)
{
	return idx < p->nr_frames ? &p->fe[idx].st : NULL;
}

/* Flamegraph order: name bytewise (strcmp is unsigned-char order, i.e.
 * LC_ALL=C), then kind, then dso, then node index: a total order, so the
 * output never depends on the sort algorithm. */
static int child_cmp(const struct profile *p, uint32_t a, uint32_t b)
{
	const struct frame *fa = &p->fe[p->nodes[a].n.frame].f;
	const struct frame *fb = &p->fe[p->nodes[b].n.frame].f;
	int c = strcmp(fa->name, fb->name);

	if (c)
		return c;
	if (fa->kind != fb->kind)
		return fa->kind < fb->kind ? -1 : 1;
	c = strcmp(fa->dso, fb->dso);
	if (c)
		return c;
	return a < b ? -1 : a > b;
}

static void sift_down(const struct profile *p, uint32_t *v, size_t i,
		      size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		uint32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && child_cmp(p, v[c + 1], v[c]) > 0)
			c++;
		if (child_cmp(p, v[c], v[i]) <= 0)
			return;
		t = v[c];
		v[c] = v[i];
		v[i] = t;
		i = c;
	}
}

/*
 * Returns the number of children. When it is larger than max (or out is
 * NULL), nothing is written: call again with room for that many. Heapsort:
 * in place, O(n log n), no allocation and no global comparison context.
 */
size_t profile_children_sorted(const struct profile *p, uint32_t node,
			       uint32_t *out, size_t max)
{
	size_t n = 0, i;
	uint32_t c, t;

	if (node >= p->nr_nodes)
		return 0;
	n = p->nodes[node].nr_children;
	if (!out || n > max)
		return n;
	i = 0;
	for (c = p->nodes[node].n.first_child; c != NONE;
	     c = p->nodes[c].n.next_sibling)
		out[i++] = c;
	for (i = n / 2; i-- > 0;)
		sift_down(p, out, i, n);
	for (i = n; i-- > 1;) {
		t = out[0];
		out[0] = out[i];
		out[i] = t;
		sift_down(p, out, 0, i);
	}
	return n;
}
