/*
 * symbols_impl.h - internals shared by symbols.c (dso cache, ELF files,
 * debug-file search), symbols_lookup.c (symbol vector, DWARF inline index,
 * result cache, frame-pointer guess) and symbols_kernel.c (kallsyms).
 * Not a public contract: include symbols.h instead.
 */
#ifndef PM_SYMBOLS_IMPL_H
#define PM_SYMBOLS_IMPL_H

#include <elfutils/libdw.h>
#include <gelf.h>
#include <pthread.h>

#include "symbols.h"

#define BUILD_ID_MAX 64
#define SYMS_MAX (1u << 24)		/* function symbols per dso */
#define NODES_MAX (1u << 24)		/* DWARF nodes/ranges per CU */
#define CACHE_MAX (1u << 20)		/* cached offsets per dso */
#define DEPTH_MAX 64			/* frames kept per address */
#define KSYMS_MAX (1u << 23)
#define KALLSYMS_MAX_BYTES (256u << 20)
#define DSO_BUCKETS 4096
#define BID_BUCKETS 1024

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

struct sym {
	uint64_t addr, size;
	const char *name;	/* raw, in the ELF string table */
	unsigned char bind;
	uint64_t sec_end;	/* end of its section, 0 if unknown */
};

struct curange {
	uint64_t lo, hi;
	size_t cu;
};

struct node {
	const char *name;	/* raw DWARF name (maybe mangled) */
	const char *call_file;	/* call site in the parent */
	unsigned call_line;
	int32_t parent;		/* enclosing inline node, -1 at a subprogram */
	bool inlined;
};

struct seg {
	uint64_t lo, hi;
	int32_t node;
};

struct cuinfo {
	Dwarf_Die die;
	bool built;
	struct node *nodes;
	size_t nnodes, anodes;
	struct seg *segs;
	size_t nsegs, asegs;
};

struct cached {
	uint64_t key;		/* offset + 1; 0 = empty */
	struct sym_frame *frames;
	uint32_t n;
};

struct dso {
	struct dso *next;
	struct symbols *s;
	char *path, *file, *error;
	const char *name;
	int errcode;
	uint8_t bid[BUILD_ID_MAX];	/* recorded, else the file's */
	size_t bid_size;
	uint8_t key_bid[BUILD_ID_MAX];	/* as asked (cache key) */
	size_t key_bid_size;
	Elf *elf, *dbg;			/* binary (or stand-in), debug file */
	bool code;			/* elf holds the code bytes */
	Dwarf *dw;
	GElf_Phdr *loads;
	size_t nloads;
	struct sym *syms;
	size_t nsyms;
	bool syms_done;
	struct curange *cur;
	struct cuinfo *cus;
	size_t ncur, ncus;
	bool cus_done;
	struct cached *cache;
	size_t cache_size, cache_used;
	int fp;				/* -1 unknown */
};

struct bid_ent {
	struct bid_ent *next;
	char *path;
	uint8_t id[BUILD_ID_MAX];
	size_t size;
};

struct ksym {
	uint64_t addr;
	const char *name;
};

struct symbols {
	struct arena *arena;
	struct strtab *names;
	char *root, *kallsyms, *home_debug;
	char **debug_dirs;		/* NULL-terminated, then /usr/lib/debug */
	bool inline_frames;
	struct dso *dsos[DSO_BUCKETS];
	struct bid_ent *bids[BID_BUCKETS];
	struct ksym *ksyms;
	size_t nksyms;
	struct arena *karena;		/* their names (a loading thread does
					   not touch the shared arena) */
	bool kernel_ok;
	pthread_mutex_t lock;		/* recursive: taken by every entry
					   point that reads or fills caches */
	_Atomic(struct kload *) kload;	/* symbols_load_kernel_async() */
	void *cxx;
	demangle_fn demangle;
	bool demangle_tried;
};

/* symbols.c */
size_t build_id__trim(const uint8_t *id, size_t n);
bool build_id__equal(const uint8_t *a, size_t an, const uint8_t *b,
		     size_t bn);
const char *symbols__intern(struct symbols *s, const char *raw);
int symbols__underscores(const char *n);
Elf_Scn *symbols__find_section(Elf *e, const char *name, GElf_Shdr *sh);

/* Entry points run under s->lock (several stackers share a symbols). */
#define SYMBOLS_LOCKED(s, type, call)			\
	do {						\
		type r_;				\
		pthread_mutex_lock(&(s)->lock);		\
		r_ = call;				\
		pthread_mutex_unlock(&(s)->lock);	\
		return r_;				\
	} while (0)

/* symbols_lookup.c */
void dso__load_syms(struct dso *d);

#endif
