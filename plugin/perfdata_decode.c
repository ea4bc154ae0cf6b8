/*
 * perfdata_decode.c - decoding one record into struct pd_event: which attr
 * owns it (perf evlist__event2evsel with id_pos/is_pos), the sample_id
 * trailer (parsed backwards, perf_evsel__parse_id_sample) and the SAMPLE
 * body (evsel__parse_sample, in wire order). Every variable part is
 * checked against the record size; a failure fills msg and returns -1.
 */
#include "perfdata_impl.h"

#include <stdio.h>

#define ID_BITS (PD_S_TID | PD_S_TIME | PD_S_ID | PD_S_STREAM_ID | \
		 PD_S_CPU | PD_S_IDENTIFIER)
#define RF_TOTAL_TIME_ENABLED	(1u << 0)
#define RF_TOTAL_TIME_RUNNING	(1u << 1)
#define RF_ID			(1u << 2)
#define RF_GROUP		(1u << 3)
#define RF_LOST			(1u << 4)
#define BRANCH_HW_INDEX		(1ULL << 17)
#define BRANCH_COUNTERS		(1ULL << 19)

static const struct pd_attr *first_attr(const struct perfdata *pd)
{
	return pd->nr_attrs ? pd->attrs[0] : NULL;
}

const struct pd_attr *pd_record_attr(const struct perfdata *pd,
				     const uint8_t *p, uint32_t type,
				     uint16_t size, bool *unknown)
{
	const struct pd_attr *a;
	uint64_t id;
	size_t off;

	*unknown = false;
	if (pd->nr_attrs == 0) {
		*unknown = type == PD_SAMPLE;
		return NULL;
	}
	if (pd->nr_attrs == 1 || type >= PD_HEADER_ATTR)
		return type >= PD_HEADER_ATTR ? NULL : pd->attrs[0];
	if (type == PD_SAMPLE) {
		if (pd->id_pos < 0)
			return pd->attrs[0];
		off = 8 + 8 * (size_t)pd->id_pos;
		if (off + 8 > size)
			return pd->attrs[0];	/* decode reports it */
		id = pd_u64(p + off, 0);
	} else {
		if (!pd->attrs[0]->sample_id_all || pd->is_pos < 0 ||
		    size < 8 + 8 * (size_t)pd->is_pos)
			return pd->attrs[0];
		id = pd_u64(p + size - 8 * (size_t)pd->is_pos, 0);
	}
	if (id == 0)
		return pd->attrs[0];
	a = pd_id_lookup(pd, id);
	if (!a)
		*unknown = true;
	return a;
}

/* Bounded cursor over the record. */
struct sc {
	const uint8_t *p;
	size_t n, pos;
	char *msg;
	size_t len;
};

static bool need(struct sc *c, uint64_t k, const char *what)
{
	if (c->n - c->pos >= k)
		return true;
	snprintf(c->msg, c->len, "%s runs past the end of the record "
		 "(needs %llu bytes at %zu)", what, (unsigned long long)k,
		 c->pos);
	return false;
}

static bool u64_at(struct sc *c, uint64_t *v, const char *what)
{
	if (!need(c, 8, what))
		return false;
	*v = pd_u64(c->p + c->pos, 0);
	c->pos += 8;
	return true;
}

static bool u32x2_at(struct sc *c, uint32_t *a, uint32_t *b,
		     const char *what)
{
	if (!need(c, 8, what))
		return false;
	memcpy(a, c->p + c->pos, 4);
	memcpy(b, c->p + c->pos + 4, 4);
	c->pos += 8;
	return true;
}

/* nr elements of elem bytes: sets *where, advances. */
static bool array_at(struct sc *c, uint64_t nr, size_t elem,
		     const uint8_t **where, const char *what)
{
	if (nr > (c->n - c->pos) / elem) {
		snprintf(c->msg, c->len, "%s of %llu entries runs past the "
			 "end of the record", what, (unsigned long long)nr);
		return false;
	}
	*where = c->p + c->pos;
	c->pos += (size_t)nr * elem;
	return true;
}

static bool regs_at(struct sc *c, uint64_t mask, uint64_t *abi, size_t *nr,
		    const uint8_t **regs, const char *what)
{
	if (!u64_at(c, abi, what))
		return false;
	if (!*abi)
		return true;
	*nr = (size_t)__builtin_popcountll(mask);
	return array_at(c, *nr, 8, regs, what);
}

static bool sample_read(struct sc *c, const struct pd_attr *a,
			struct pd_sample *s)
{
	uint64_t rf = a->read_format, nr, hdr, ent;

	if (rf & RF_GROUP) {
		hdr = 8 * (1 + !!(rf & RF_TOTAL_TIME_ENABLED) +
			   !!(rf & RF_TOTAL_TIME_RUNNING));
		ent = 8 * (1 + !!(rf & RF_ID) + !!(rf & RF_LOST));
		if (!need(c, hdr, "READ group"))
			return false;
		nr = pd_u64(c->p + c->pos, 0);
		if (nr > (c->n - c->pos - hdr) / ent) {
			snprintf(c->msg, c->len, "READ group of %llu members "
				 "runs past the end of the record",
				 (unsigned long long)nr);
			return false;
		}
		s->read_size = (size_t)(hdr + nr * ent);
	} else {
		s->read_size = 8 * (1 + !!(rf & RF_TOTAL_TIME_ENABLED) +
				    !!(rf & RF_TOTAL_TIME_RUNNING) +
				    !!(rf & RF_ID) + !!(rf & RF_LOST));
		if (!need(c, s->read_size, "READ"))
			return false;
	}
	s->read = c->p + c->pos;
	c->pos += s->read_size;
	return true;
}

static bool sample_middle(struct sc *c, const struct pd_attr *a,
			  struct pd_sample *s)
{
	uint64_t st = a->sample_type, nr, v;
	uint32_t raw;

	if (st & PD_S_READ && !sample_read(c, a, s))
		return false;
	if (st & PD_S_CALLCHAIN) {
		if (!u64_at(c, &nr, "CALLCHAIN") ||
		    !array_at(c, nr, 8, &s->callchain, "CALLCHAIN"))
			return false;
		s->nr_callchain = (size_t)nr;
	}
	if (st & PD_S_RAW) {
		if (!need(c, 4, "RAW size"))
			return false;
		memcpy(&raw, c->p + c->pos, 4);
		c->pos += 4;
		if (!array_at(c, raw, 1, &s->raw, "RAW data"))
			return false;
		s->raw_size = raw;
	}
	if (st & PD_S_BRANCH_STACK) {
		const uint8_t *cnt;

		if (!u64_at(c, &nr, "BRANCH_STACK") ||
		    (a->branch_sample_type & BRANCH_HW_INDEX &&
		     !u64_at(c, &v, "BRANCH_STACK hw_idx")) ||
		    !array_at(c, nr, 24, &s->branches, "BRANCH_STACK") ||
		    (a->branch_sample_type & BRANCH_COUNTERS &&
		     !array_at(c, nr, 8, &cnt, "BRANCH_STACK counters")))
			return false;
		s->nr_branches = (size_t)nr;
	}
	if (st & PD_S_REGS_USER &&
	    !regs_at(c, a->sample_regs_user, &s->user_abi, &s->nr_user_regs,
		     &s->user_regs, "REGS_USER"))
		return false;
	if (st & PD_S_STACK_USER) {
		if (!u64_at(c, &s->user_stack_size, "STACK_USER size"))
			return false;
		if (s->user_stack_size) {
			if (!array_at(c, s->user_stack_size, 1, &s->user_stack,
				      "STACK_USER data") ||
			    !u64_at(c, &s->user_stack_dyn_size,
				    "STACK_USER dyn_size"))
				return false;
			if (s->user_stack_dyn_size > s->user_stack_size) {
				snprintf(c->msg, c->len, "STACK_USER dyn_size "
					 "%llu > size %llu",
					 (unsigned long long)
					 s->user_stack_dyn_size,
					 (unsigned long long)
					 s->user_stack_size);
				return false;
			}
		}
	}
	return true;
}

static int decode_sample(const struct pd_attr *a, struct sc *c,
			 struct pd_event *ev)
{
	struct pd_sample *s = &ev->u.sample;
	uint64_t st = a->sample_type, v;
	struct pd_sample_id *sid = &ev->sid;
	uint32_t res;

	if ((st & PD_S_IDENTIFIER && !u64_at(c, &sid->id, "IDENTIFIER")) ||
	    (st & PD_S_IP && !u64_at(c, &s->ip, "IP")) ||
	    (st & PD_S_TID && !u32x2_at(c, &sid->pid, &sid->tid, "TID")) ||
	    (st & PD_S_TIME && !u64_at(c, &sid->time, "TIME")) ||
	    (st & PD_S_ADDR && !u64_at(c, &s->addr, "ADDR")) ||
	    (st & PD_S_ID && !u64_at(c, &sid->id, "ID")) ||
	    (st & PD_S_STREAM_ID &&
	     !u64_at(c, &sid->stream_id, "STREAM_ID")) ||
	    (st & PD_S_CPU && !u32x2_at(c, &sid->cpu, &res, "CPU")) ||
	    (st & PD_S_PERIOD && !u64_at(c, &s->period, "PERIOD")))
		return -1;
	sid->has_time = st & PD_S_TIME;
	if (!sample_middle(c, a, s))
		return -1;
	if (st & (PD_S_WEIGHT | PD_S_WEIGHT_STRUCT)) {
		if (!u64_at(c, &v, "WEIGHT"))
			return -1;
		if (st & PD_S_WEIGHT) {
			s->weight = v;
		} else {	/* union perf_sample_weight */
			s->weight = (uint32_t)v;
			s->weight_var2 = (uint16_t)(v >> 32);
		}
	}
	if ((st & PD_S_DATA_SRC && !u64_at(c, &s->data_src, "DATA_SRC")) ||
	    (st & PD_S_TRANSACTION &&
	     !u64_at(c, &s->transaction, "TRANSACTION")) ||
	    (st & PD_S_REGS_INTR &&
	     !regs_at(c, a->sample_regs_intr, &s->intr_abi, &s->nr_intr_regs,
		      &s->intr_regs, "REGS_INTR")) ||
	    (st & PD_S_PHYS_ADDR && !u64_at(c, &s->phys_addr, "PHYS_ADDR")) ||
	    (st & PD_S_CGROUP && !u64_at(c, &s->cgroup, "CGROUP")) ||
	    (st & PD_S_DATA_PAGE_SIZE &&
	     !u64_at(c, &s->data_page_size, "DATA_PAGE_SIZE")) ||
	    (st & PD_S_CODE_PAGE_SIZE &&
	     !u64_at(c, &s->code_page_size, "CODE_PAGE_SIZE")))
		return -1;
	if (st & PD_S_AUX) {
		if (!u64_at(c, &s->aux_size, "AUX size") ||
		    !array_at(c, s->aux_size, 1, &s->aux, "AUX data"))
			return -1;
	}
	return 0;
}

/* Trailer, from the end: IDENTIFIER, CPU, STREAM_ID, ID, TIME, TID. */
static size_t parse_trailer(const struct pd_attr *a, const uint8_t *end,
			    struct pd_sample_id *sid)
{
	uint64_t st = a->sample_type;
	const uint8_t *q = end;

	if (st & PD_S_IDENTIFIER)
		sid->id = pd_u64(q -= 8, 0);
	if (st & PD_S_CPU)
		memcpy(&sid->cpu, q -= 8, 4);
	if (st & PD_S_STREAM_ID)
		sid->stream_id = pd_u64(q -= 8, 0);
	if (st & PD_S_ID)
		sid->id = pd_u64(q -= 8, 0);
	if (st & PD_S_TIME) {
		sid->time = pd_u64(q -= 8, 0);
		sid->has_time = true;
	}
	if (st & PD_S_TID) {
		q -= 8;
		memcpy(&sid->pid, q, 4);
		memcpy(&sid->tid, q + 4, 4);
	}
	return (size_t)(end - q);
}

/* A NUL-terminated string in [p, p + n). */
static const char *str_in(const uint8_t *p, size_t n)
{
	return n && memchr(p, '\0', n) ? (const char *)p : NULL;
}

static int decode_mmap(struct pd_event *ev, const uint8_t *b, size_t n,
		       char *msg, size_t len)
{
	size_t fo = ev->type == PD_MMAP ? 32 : 64;	/* body offsets */

	if (n < fo) {
		snprintf(msg, len, "body of %zu bytes is too short", n);
		return -1;
	}
	memcpy(&ev->u.mmap.pid, b, 4);
	memcpy(&ev->u.mmap.tid, b + 4, 4);
	ev->u.mmap.start = pd_u64(b, 1);
	ev->u.mmap.len = pd_u64(b, 2);
	ev->u.mmap.pgoff = pd_u64(b, 3);
	if (ev->type == PD_MMAP) {
		ev->u.mmap.prot = 5;	/* PROT_READ | PROT_EXEC */
	} else {
		if (ev->misc & PD_MISC_MMAP_BUILD_ID) {
			ev->u.mmap.build_id_size = b[32] > 20 ? 20 : b[32];
			memcpy(ev->u.mmap.build_id, b + 36, 20);
		} else {
			memcpy(&ev->u.mmap.maj, b + 32, 4);
			memcpy(&ev->u.mmap.min, b + 36, 4);
			ev->u.mmap.ino = pd_u64(b, 5);
			ev->u.mmap.ino_generation = pd_u64(b, 6);
		}
		memcpy(&ev->u.mmap.prot, b + 56, 4);
		memcpy(&ev->u.mmap.flags, b + 60, 4);
	}
	ev->u.mmap.filename = str_in(b + fo, n - fo);
	if (!ev->u.mmap.filename) {
		snprintf(msg, len, "filename is not NUL-terminated");
		return -1;
	}
	return 0;
}

static int decode_body(struct pd_event *ev, const uint8_t *b, size_t n,
		       char *msg, size_t len)
{
	static const uint8_t min_body[PD_AUX_OUTPUT_HW_ID + 1] = {
		[PD_LOST] = 16, [PD_COMM] = 8, [PD_EXIT] = 24,
		[PD_THROTTLE] = 24, [PD_UNTHROTTLE] = 24, [PD_FORK] = 24,
		[PD_READ] = 16, [PD_AUX] = 24, [PD_ITRACE_START] = 8,
		[PD_LOST_SAMPLES] = 8, [PD_SWITCH_CPU_WIDE] = 8,
		[PD_NAMESPACES] = 16, [PD_KSYMBOL] = 16, [PD_BPF_EVENT] = 16,
		[PD_CGROUP] = 8, [PD_TEXT_POKE] = 12,
		[PD_AUX_OUTPUT_HW_ID] = 8,
	};
	uint16_t l1, l2;

	if (ev->type == PD_MMAP || ev->type == PD_MMAP2)
		return decode_mmap(ev, b, n, msg, len);
	if (ev->type <= PD_AUX_OUTPUT_HW_ID && n < min_body[ev->type]) {
		snprintf(msg, len, "body of %zu bytes is too short", n);
		return -1;
	}
	switch (ev->type) {
	case PD_COMM:
		memcpy(&ev->u.comm.pid, b, 4);
		memcpy(&ev->u.comm.tid, b + 4, 4);
		ev->u.comm.exec = ev->misc & PD_MISC_COMM_EXEC;
		ev->u.comm.comm = str_in(b + 8, n - 8);
		if (!ev->u.comm.comm) {
			snprintf(msg, len, "comm is not NUL-terminated");
			return -1;
		}
		break;
	case PD_FORK: case PD_EXIT:
		memcpy(&ev->u.fork.pid, b, 4);
		memcpy(&ev->u.fork.ppid, b + 4, 4);
		memcpy(&ev->u.fork.tid, b + 8, 4);
		memcpy(&ev->u.fork.ptid, b + 12, 4);
		ev->u.fork.time = pd_u64(b, 2);
		break;
	case PD_LOST:
		ev->u.lost.id = pd_u64(b, 0);
		ev->u.lost.lost = pd_u64(b, 1);
		break;
	case PD_LOST_SAMPLES:
		ev->u.lost.lost = pd_u64(b, 0);
		break;
	case PD_THROTTLE: case PD_UNTHROTTLE:
		ev->u.throttle.time = pd_u64(b, 0);
		ev->u.throttle.id = pd_u64(b, 1);
		ev->u.throttle.stream_id = pd_u64(b, 2);
		break;
	case PD_SWITCH: case PD_SWITCH_CPU_WIDE:
		ev->u.sw.out = ev->misc & PD_MISC_SWITCH_OUT;
		ev->u.sw.preempt = ev->u.sw.out && ev->misc & (1u << 14);
		if (ev->type == PD_SWITCH_CPU_WIDE) {
			memcpy(&ev->u.sw.next_prev_pid, b, 4);
			memcpy(&ev->u.sw.next_prev_tid, b + 4, 4);
		}
		break;
	case PD_KSYMBOL:
		ev->u.ksymbol.addr = pd_u64(b, 0);
		memcpy(&ev->u.ksymbol.len, b + 8, 4);
		memcpy(&ev->u.ksymbol.ksym_type, b + 12, 2);
		memcpy(&ev->u.ksymbol.flags, b + 14, 2);
		ev->u.ksymbol.name = str_in(b + 16, n - 16);
		if (!ev->u.ksymbol.name) {
			snprintf(msg, len, "name is not NUL-terminated");
			return -1;
		}
		break;
	case PD_NAMESPACES:
		if (pd_u64(b, 1) > (n - 16) / 16) {
			snprintf(msg, len, "namespace count runs past the "
				 "end of the record");
			return -1;
		}
		break;
	case PD_CGROUP:
		if (!str_in(b + 8, n - 8)) {
			snprintf(msg, len, "path is not NUL-terminated");
			return -1;
		}
		break;
	case PD_TEXT_POKE:
		memcpy(&l1, b + 8, 2);
		memcpy(&l2, b + 10, 2);
		if ((size_t)l1 + l2 > n - 12) {
			snprintf(msg, len, "old/new bytes run past the end "
				 "of the record");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int pd_decode(const struct perfdata *pd, const struct pd_attr *attr,
	      const uint8_t *p, struct pd_event *ev, char *msg, size_t len)
{
	const struct pd_attr *la = attr ? attr : first_attr(pd);
	size_t body_end;

	memset(ev, 0, sizeof(*ev));
	memcpy(&ev->type, p, 4);
	memcpy(&ev->misc, p + 4, 2);
	memcpy(&ev->size, p + 6, 2);
	ev->data = p;
	ev->attr = attr;
	if (ev->type == PD_SAMPLE) {
		struct sc c = { p, ev->size, 8, msg, len };

		if (!attr) {
			snprintf(msg, len, "sample of no known event");
			return -1;
		}
		return decode_sample(attr, &c, ev);
	}
	if (ev->type >= PD_HEADER_ATTR)
		return 0;
	body_end = ev->size;
	if (la && la->sample_id_all) {
		size_t t = 8 * (size_t)__builtin_popcountll(la->sample_type &
							     ID_BITS);

		if (ev->size < 8 + t) {
			snprintf(msg, len, "too short for its sample_id "
				 "trailer (%zu bytes)", t);
			return -1;
		}
		body_end -= parse_trailer(la, p + ev->size, &ev->sid);
	}
	return decode_body(ev, p + 8, body_end - 8, msg, len);
}
