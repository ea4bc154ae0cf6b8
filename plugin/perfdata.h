/*
 * perfdata.h - the perf.data reader: header, attrs, feature sections and the
 * record stream, delivered in timestamp order.
 *
 * Input is untrusted. Every length is bounded by the bytes that hold it; a
 * bad file gives -PM_E* plus a message "offset N: what is wrong" (offset in
 * the file; for records inside a COMPRESSED record, the offset of that
 * record, with the decompressed position noted).
 *
 * Ownership: the reader owns everything it returns. Attr and info pointers
 * stay valid until perfdata_free(). A struct pd_event filled by
 * perfdata_next() (and every pointer in it) is valid until the next call to
 * perfdata_next() or perfdata_free(). Record bytes handed out are copies in
 * 8-byte aligned buffers, but read arrays with pd_u64() all the same.
 *
 * Order: records are queued and delivered by timestamp using perf's
 * FINISHED_ROUND rule (at each round end, everything at or before the
 * previous round's max time is flushed), ties in file order, synthesized
 * time-0 records first. Records that have no timestamp (attr without
 * sample_id_all/TIME, user records >= 64 other than those delivered) are
 * delivered in file order at the point they are read, as perf does.
 * Header-type records (HEADER_ATTR, HEADER_FEATURE, HEADER_TRACING_DATA,
 * HEADER_BUILD_ID, EVENT_UPDATE, ID_INDEX, ...) are consumed by the reader
 * and update perfdata_info()/attrs; they are not delivered.
 */
#ifndef PM_PERFDATA_H
#define PM_PERFDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

/* Record types (uapi perf_event.h + perf's user types). */
enum {
	PD_MMAP = 1, PD_LOST = 2, PD_COMM = 3, PD_EXIT = 4, PD_THROTTLE = 5,
	PD_UNTHROTTLE = 6, PD_FORK = 7, PD_READ = 8, PD_SAMPLE = 9,
	PD_MMAP2 = 10, PD_AUX = 11, PD_ITRACE_START = 12,
	PD_LOST_SAMPLES = 13, PD_SWITCH = 14, PD_SWITCH_CPU_WIDE = 15,
	PD_NAMESPACES = 16, PD_KSYMBOL = 17, PD_BPF_EVENT = 18,
	PD_CGROUP = 19, PD_TEXT_POKE = 20, PD_AUX_OUTPUT_HW_ID = 21,
	PD_HEADER_ATTR = 64, PD_HEADER_EVENT_TYPE = 65,
	PD_HEADER_TRACING_DATA = 66, PD_HEADER_BUILD_ID = 67,
	PD_FINISHED_ROUND = 68, PD_ID_INDEX = 69, PD_AUXTRACE_INFO = 70,
	PD_AUXTRACE = 71, PD_AUXTRACE_ERROR = 72, PD_THREAD_MAP = 73,
	PD_CPU_MAP = 74, PD_STAT_CONFIG = 75, PD_STAT = 76,
	PD_STAT_ROUND = 77, PD_EVENT_UPDATE = 78, PD_TIME_CONV = 79,
	PD_HEADER_FEATURE = 80, PD_COMPRESSED = 81, PD_FINISHED_INIT = 82,
	PD_COMPRESSED2 = 83,
	PD_RECORD_TYPE_MAX = 128	/* stats array size */
};

/* PERF_SAMPLE_* bits. */
enum {
	PD_S_IP = 1u << 0, PD_S_TID = 1u << 1, PD_S_TIME = 1u << 2,
	PD_S_ADDR = 1u << 3, PD_S_READ = 1u << 4, PD_S_CALLCHAIN = 1u << 5,
	PD_S_ID = 1u << 6, PD_S_CPU = 1u << 7, PD_S_PERIOD = 1u << 8,
	PD_S_STREAM_ID = 1u << 9, PD_S_RAW = 1u << 10,
	PD_S_BRANCH_STACK = 1u << 11, PD_S_REGS_USER = 1u << 12,
	PD_S_STACK_USER = 1u << 13, PD_S_WEIGHT = 1u << 14,
	PD_S_DATA_SRC = 1u << 15, PD_S_IDENTIFIER = 1u << 16,
	PD_S_TRANSACTION = 1u << 17, PD_S_REGS_INTR = 1u << 18,
	PD_S_PHYS_ADDR = 1u << 19, PD_S_AUX = 1u << 20, PD_S_CGROUP = 1u << 21,
	PD_S_DATA_PAGE_SIZE = 1u << 22, PD_S_CODE_PAGE_SIZE = 1u << 23,
	PD_S_WEIGHT_STRUCT = 1u << 24
};

/* header.misc cpumode values (misc & 7) and flags. */
enum {
	PD_CPUMODE_MASK = 7, PD_MISC_KERNEL = 1, PD_MISC_USER = 2,
	PD_MISC_HYPERVISOR = 3, PD_MISC_GUEST_KERNEL = 4,
	PD_MISC_GUEST_USER = 5,
	PD_MISC_MMAP_DATA = 1 << 13,	/* also COMM_EXEC, SWITCH_OUT */
	PD_MISC_COMM_EXEC = 1 << 13,
	PD_MISC_SWITCH_OUT = 1 << 13,
	PD_MISC_MMAP_BUILD_ID = 1 << 14
};

/* Callchain context markers. */
#define PD_CONTEXT_HV		((uint64_t)-32)
#define PD_CONTEXT_KERNEL	((uint64_t)-128)
#define PD_CONTEXT_USER		((uint64_t)-512)
#define PD_CONTEXT_GUEST	((uint64_t)-2048)
#define PD_CONTEXT_GUEST_KERNEL	((uint64_t)-2176)
#define PD_CONTEXT_GUEST_USER	((uint64_t)-2560)
#define PD_CONTEXT_MAX		((uint64_t)-4095)

/* PERF_TYPE_* */
enum { PD_TYPE_HARDWARE = 0, PD_TYPE_SOFTWARE = 1, PD_TYPE_TRACEPOINT = 2,
       PD_TYPE_HW_CACHE = 3, PD_TYPE_RAW = 4, PD_TYPE_BREAKPOINT = 5 };

/* One event (perf_event_attr subset) and its name. */
struct pd_attr {
	unsigned idx;			/* position in the attr list */
	uint32_t type;
	uint32_t size;			/* attr.size as written */
	uint64_t config;
	uint64_t sample_period;		/* or sample_freq when freq */
	uint64_t sample_type;
	uint64_t read_format;
	uint64_t flags;			/* the bitfield word at offset 40 */
	uint64_t branch_sample_type;
	uint64_t sample_regs_user;
	uint32_t sample_stack_user;
	uint16_t sample_max_stack;
	uint64_t sample_regs_intr;
	bool freq, sample_id_all, exclude_callchain_user,
	     exclude_callchain_kernel, use_clockid;
	const char *name;		/* "cpu-clock", "sched:sched_switch";
					   from EVENT_DESC without perf's
					   modifier suffix (":ppp", ":u"),
					   else synthesized from type/config */
	const char *full_name;		/* as perf wrote it ("cpu-clock:ppp") */
	const uint64_t *ids;		/* sample ids of this event */
	size_t nr_ids;
};

/* Build-id entry from the BUILD_ID feature or HEADER_BUILD_ID records. */
struct pd_build_id {
	int32_t pid;
	uint16_t misc;			/* cpumode */
	uint8_t size;			/* bytes used in id[] (usually 20) */
	uint8_t id[20];
	const char *filename;
};

/* What the file header and feature sections said (so far, in pipe mode). */
struct pd_info {
	bool pipe;			/* pipe-mode stream */
	bool compressed;		/* COMPRESSED feature present */
	uint64_t data_offset, data_size;	/* file mode */
	const char *hostname, *osrelease, *perf_version, *arch, *cpudesc;
	uint32_t nr_cpus_avail, nr_cpus_online;
	const char *cmdline;		/* CMDLINE args joined with spaces */
	uint64_t first_sample_time, last_sample_time; /* SAMPLE_TIME, 0 if none */
	uint32_t comp_ver, comp_type, comp_level, comp_ratio, comp_mmap_len;
	const struct pd_build_id *build_ids;
	size_t nr_build_ids;
	const uint8_t *tracing_data;	/* TRACING_DATA blob (copy), or NULL */
	size_t tracing_size;
	uint64_t tracing_offset;	/* where it starts, for messages */
	uint64_t feature_mask[4];	/* adds_features bitmap as read */
};

/* Fields common to samples and sample_id trailers (those present). */
struct pd_sample_id {
	uint32_t pid, tid;
	uint64_t time;			/* 0 when absent */
	uint64_t id, stream_id;
	uint32_t cpu;
	bool has_time;
};

/* A decoded PERF_RECORD_SAMPLE. Arrays point into the record copy. */
struct pd_sample {
	uint64_t ip, addr, period, weight, data_src, transaction, phys_addr,
		 cgroup, data_page_size, code_page_size;
	uint32_t weight_var2;		/* WEIGHT_STRUCT var2_w (ins latency) */
	size_t nr_callchain;
	const uint8_t *callchain;	/* nr_callchain u64, read with pd_u64 */
	uint32_t raw_size;
	const uint8_t *raw;		/* tracepoint record, starts with
					   common_type */
	size_t nr_branches;
	const uint8_t *branches;	/* nr_branches x {from,to,flags} u64 */
	uint64_t user_abi;		/* 0 = no user regs */
	size_t nr_user_regs;
	const uint8_t *user_regs;	/* u64 each, order of the mask bits */
	uint64_t user_stack_size;	/* bytes of stack data copied */
	uint64_t user_stack_dyn_size;	/* valid bytes (<= size) */
	const uint8_t *user_stack;
	uint64_t intr_abi;
	size_t nr_intr_regs;
	const uint8_t *intr_regs;
	size_t read_size;
	const uint8_t *read;		/* raw READ block */
	uint64_t aux_size;
	const uint8_t *aux;
};

struct pd_event {
	uint32_t type;			/* PD_SAMPLE, PD_MMAP2, ... */
	uint16_t misc;
	uint16_t size;
	uint64_t offset;		/* file offset of the record (or of the
					   COMPRESSED record holding it) */
	const uint8_t *data;		/* the whole record, size bytes */
	bool stable;			/* data lies in the input image: the
					   event and its pointers stay valid
					   until perfdata_free() */
	const struct pd_attr *attr;	/* owning event, NULL if unknown */
	struct pd_sample_id sid;	/* from the sample or the trailer */
	union {
		struct pd_sample sample;		/* PD_SAMPLE */
		struct {				/* PD_MMAP, PD_MMAP2 */
			uint32_t pid, tid;
			uint64_t start, len, pgoff;
			uint32_t maj, min;
			uint64_t ino, ino_generation;
			uint32_t prot, flags;		/* MMAP: prot = 5, flags 0 */
			uint8_t build_id_size;	/* when misc&MMAP_BUILD_ID */
			uint8_t build_id[20];
			const char *filename;	/* NUL-terminated */
		} mmap;
		struct {				/* PD_COMM */
			uint32_t pid, tid;
			const char *comm;
			bool exec;			/* misc & COMM_EXEC */
		} comm;
		struct {				/* PD_FORK, PD_EXIT */
			uint32_t pid, ppid, tid, ptid;
			uint64_t time;
		} fork;
		struct { uint64_t id, lost; } lost;	/* PD_LOST, PD_LOST_SAMPLES
							   (id 0) */
		struct { uint64_t time, id, stream_id; } throttle;
		struct {				/* PD_SWITCH(_CPU_WIDE) */
			bool out, preempt;
			uint32_t next_prev_pid, next_prev_tid;
		} sw;
		struct {				/* PD_KSYMBOL */
			uint64_t addr;
			uint32_t len;
			uint16_t ksym_type, flags;
			const char *name;
		} ksymbol;
	} u;
};

/* Counters kept while reading. */
struct pd_stats {
	uint64_t records[PD_RECORD_TYPE_MAX];	/* by type (>= MAX: [0]) */
	uint64_t unknown_records;	/* types the reader does not know */
	uint64_t lost_events;		/* sum of PD_LOST.lost */
	uint64_t lost_records;		/* number of PD_LOST records */
	uint64_t lost_samples;		/* sum of PD_LOST_SAMPLES.lost */
	uint64_t unknown_id_samples;	/* samples whose id matches no attr */
	uint64_t bad_records;		/* malformed records skipped */
	uint64_t out_of_order;		/* records older than what was flushed */
	uint64_t compressed_bytes, decompressed_bytes;
	uint64_t *samples_per_attr;	/* nr_attrs entries */
};

struct perfdata;

/*
 * Open a perf.data file ("-" = stdin). Reads the header, attrs and feature
 * sections (file mode) or the leading header records (pipe mode). Refuses a
 * file of the other endianness, a legacy PERFFILE (v1) file, an empty file.
 * force: read a file not owned by the user or root (like perf -f).
 */
struct perfdata *perfdata_open(const char *path, bool force,
			       struct pm_error *err);

/* Same on an in-memory image (tests, fuzzing). buf must outlive the reader.
 * name is used in messages. */
struct perfdata *perfdata_open_mem(const void *buf, size_t len,
				   const char *name, struct pm_error *err);

void perfdata_free(struct perfdata *pd);	/* NULL accepted */

const struct pd_info *perfdata_info(const struct perfdata *pd);
size_t perfdata_nr_attrs(const struct perfdata *pd);
const struct pd_attr *perfdata_attr(const struct perfdata *pd, size_t idx);
const struct pd_stats *perfdata_stats(const struct perfdata *pd);

/*
 * Next record in time order. Returns 1 with *ev filled, 0 at the end of the
 * data, or -PM_E* on an error that stops reading (records before it were
 * delivered: the caller may keep its partial results). Malformed single
 * records whose size is sane are skipped and counted (bad_records), with
 * the first such message kept in perfdata_warning().
 */
int perfdata_next(struct perfdata *pd, struct pd_event *ev,
		  struct pm_error *err);

/*
 * Keep an event past the next perfdata_next(): *out = *ev, with the record
 * copied into *buf (grown as needed, caller frees) unless ev->stable, and
 * every pointer into it moved along. 0 or -PM_ENOMEM. (The reader releases
 * the pages of a file it has read, but not those of the last 64 MiB: kept
 * events read within that window are not faulted in again.)
 */
int perfdata_event_keep(const struct pd_event *ev, struct pd_event *out,
			uint8_t **buf, size_t *alloc);

/* First non-fatal problem seen (skipped record, data.size 0, ...), or NULL. */
const char *perfdata_warning(const struct perfdata *pd);

/* Name of a record type ("MMAP2", "SAMPLE", ...), "UNKNOWN" otherwise. */
const char *perfdata_record_name(uint32_t type);

/* Read the i-th u64 of an array in a record (no alignment assumed). */
static inline uint64_t pd_u64(const uint8_t *p, size_t i)
{
	uint64_t v;
	memcpy(&v, p + 8 * i, sizeof(v));
	return v;
}

/* Value of perf register `reg` (PERF_REG_X86_* / arm64 number) in a
 * REGS_USER block sampled with `mask`; false if not in the mask. */
bool pd_reg(const uint8_t *regs, size_t nr_regs, uint64_t mask, unsigned reg,
	    uint64_t *val);

#endif
