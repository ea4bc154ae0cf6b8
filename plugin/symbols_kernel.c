/*
 * symbols_kernel.c - kernel symbols from kallsyms, used only when the
 * recording was made on the running kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arena.h"
#include "strtab.h"
#include "symbols_impl.h"

/* NT_GNU_BUILD_ID of the running kernel: /sys/kernel/notes is the raw
 * .notes section, 4-byte aligned Elf_Nhdr records in host byte order. */
static size_t running_kernel_build_id(uint8_t *out)
{
	unsigned char buf[4096];
	uint32_t hdr[3];
	size_t len, off = 0, name, desc, next;
	int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf));
	close(fd);
	len = r > 0 ? (size_t)r : 0;
	while (len - off >= sizeof(hdr)) {
		memcpy(hdr, buf + off, sizeof(hdr));
		name = off + sizeof(hdr);
		desc = name + (((size_t)hdr[0] + 3) & ~(size_t)3);
		next = desc + (((size_t)hdr[1] + 3) & ~(size_t)3);
		if (hdr[0] > len || hdr[1] > len || next > len)
			break;
		if (hdr[2] == NT_GNU_BUILD_ID && hdr[0] == 4 &&
		    !memcmp(buf + name, "GNU", 4) && hdr[1] &&
		    hdr[1] <= BUILD_ID_MAX) {
			memcpy(out, buf + desc, hdr[1]);
			return hdr[1];
		}
		off = next;
	}
	return 0;
}

static int ksym_cmp(const void *pa, const void *pb)
{
	const struct ksym *a = pa, *b = pb;
	int ua, ub;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	ua = symbols__underscores(a->name);
	ub = symbols__underscores(b->name);
	if (ua != ub)
		return ua - ub;
	return strcmp(a->name, b->name);
}

/* One kallsyms line: "ffffffff81000000 T _stext" or, for modules,
 * "ffffffffc0a01000 t fn\t[module]". Text symbols only. */
static int kallsyms_line(struct symbols *s, char *line, size_t *alloc,
			 bool *nonzero)
{
	unsigned long long addr;
	char *end, *name;
	size_t n;
	int err;

	errno = 0;
	addr = strtoull(line, &end, 16);
	if (errno || end == line || end[0] != ' ' || !end[1] ||
	    end[2] != ' ' || !strchr("tTwW", end[1]))
		return 0;
	name = end + 3;
	n = strcspn(name, " \t\r\n");
	if (!n)
		return 0;
	err = grow_array((void **)&s->ksyms, alloc, s->nksyms + 1,
			 sizeof(*s->ksyms), KSYMS_MAX);
	if (err)
		return err;
	s->ksyms[s->nksyms].addr = addr;
	if (!(s->ksyms[s->nksyms].name = arena_strndup(s->karena, name, n)))
		return -PM_ENOMEM;
	s->nksyms++;
	*nonzero |= addr != 0;
	return 0;
}

int symbols_load_kernel(struct symbols *s, const char *osrelease,
			const uint8_t *kernel_build_id, size_t size,
			struct pm_error *err)
{
	const char *path = s->kallsyms ? s->kallsyms : "/proc/kallsyms";
	uint8_t running[BUILD_ID_MAX];
	char *line = NULL;
	size_t cap = 0, alloc = 0, total = 0, rn, i, j;
	bool nonzero = false;
	struct utsname u;
	ssize_t len;
	FILE *f = NULL;
	int rc = 0;

	free(s->ksyms);
	s->ksyms = NULL;
	s->nksyms = 0;
	s->kernel_ok = false;
	if (osrelease && *osrelease &&
	    (uname(&u) || strcmp(osrelease, u.release))) {
		rc = pm_error_set(err, PM_ENOTFOUND, "recorded on kernel %s, "
				  "running %s: kernel frames left unsymbolized",
				  osrelease, u.release);
		goto out;
	}
	if (kernel_build_id && (size = build_id__trim(kernel_build_id, size)) &&
	    (rn = running_kernel_build_id(running)) &&
	    !build_id__equal(kernel_build_id, size, running, rn)) {
		rc = pm_error_set(err, PM_ENOTFOUND, "kernel build-id differs "
				  "from the running kernel's (/sys/kernel/notes):"
				  " kernel frames left unsymbolized");
		goto out;
	}
	arena_free(s->karena);
	if (!(s->karena = arena_new())) {
		rc = pm_error_set(err, PM_ENOMEM, "out of memory");
		goto out;
	}
	if (!(f = fopen(path, "re"))) {
		rc = pm_error_set(err, errno == EACCES ? PM_EPERM : PM_ENOTFOUND,
				  "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		total += (size_t)len;
		if (total > KALLSYMS_MAX_BYTES) {
			rc = pm_error_set(err, PM_ELIMIT, "%s: over %u MiB",
					  path, KALLSYMS_MAX_BYTES >> 20);
			goto out;
		}
		if ((rc = kallsyms_line(s, line, &alloc, &nonzero))) {
			pm_error_set(err, -rc, "%s: %s", path, pm_strerror(rc));
			goto out;
		}
	}
	if (!s->nksyms) {
		rc = pm_error_set(err, PM_EEMPTY, "%s: no text symbols", path);
		goto out;
	}
	if (!nonzero) {
		rc = pm_error_set(err, PM_EPERM, "%s: all addresses are zero "
				  "(kernel.kptr_restrict, or not root): kernel "
				  "frames left unsymbolized", path);
		goto out;
	}
	qsort(s->ksyms, s->nksyms, sizeof(*s->ksyms), ksym_cmp);
	for (i = 1, j = 1; i < s->nksyms; i++)
		if (s->ksyms[i].addr != s->ksyms[j - 1].addr)
			s->ksyms[j++] = s->ksyms[i];
	s->nksyms = j;
	s->kernel_ok = true;
out:
	if (rc) {
		free(s->ksyms);
		s->ksyms = NULL;
		s->nksyms = 0;
	}
	if (f)
		fclose(f);
	free(line);
	return rc;
}

/* An asynchronous load: its arguments (copied) and result. */
struct kload {
	struct symbols *s;
	pthread_t thread;
	bool threaded;			/* else it ran in the caller */
	char *osrelease;
	uint8_t bid[BUILD_ID_MAX];
	size_t bid_size;
	int rc;
	struct pm_error err;
};

static void *kload_run(void *arg)
{
	struct kload *k = arg;

	k->rc = symbols_load_kernel(k->s, k->osrelease,
				    k->bid_size ? k->bid : NULL, k->bid_size,
				    &k->err);
	return NULL;
}

void symbols_load_kernel_async(struct symbols *s, const char *osrelease,
			       const uint8_t *kernel_build_id, size_t size)
{
	struct kload *k = calloc(1, sizeof(*k));

	symbols_kernel_wait(s, NULL);	/* one at a time */
	if (k && osrelease && !(k->osrelease = strdup(osrelease))) {
		free(k);
		k = NULL;
	}
	if (!k) {
		symbols_load_kernel(s, osrelease, kernel_build_id, size, NULL);
		return;
	}
	k->s = s;
	if (kernel_build_id && size <= BUILD_ID_MAX) {
		memcpy(k->bid, kernel_build_id, size);
		k->bid_size = size;
	}
	k->threaded = !pthread_create(&k->thread, NULL, kload_run, k);
	if (!k->threaded)
		kload_run(k);
	atomic_store(&s->kload, k);
}

int symbols_kernel_wait(struct symbols *s, struct pm_error *err)
{
	struct kload *k;
	int rc;

	pthread_mutex_lock(&s->lock);
	k = atomic_load(&s->kload);
	if (!k) {
		rc = s->kernel_ok ? 0 : -PM_ENOTFOUND;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	if (k->threaded)
		pthread_join(k->thread, NULL);
	atomic_store(&s->kload, NULL);
	pthread_mutex_unlock(&s->lock);
	rc = k->rc;
	if (err)
		*err = k->err;
	free(k->osrelease);
	free(k);
	return rc;
}

/* The symbol whose start is the last one <= addr; the next symbol's start
 * bounds it, and the very last one gets at most 64 KiB. */
const char *symbols_kernel_lookup(struct symbols *s, uint64_t addr)
{
	size_t lo = 0, hi, mid;

	if (atomic_load_explicit(&s->kload, memory_order_acquire))
		symbols_kernel_wait(s, NULL);
	hi = s->nksyms;
	if (!s->kernel_ok)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || (lo == s->nksyms && addr - s->ksyms[lo - 1].addr >= 65536))
		return NULL;
	return s->ksyms[lo - 1].name;
}

bool symbols_kernel_usable(struct symbols *s)
{
	if (atomic_load_explicit(&s->kload, memory_order_acquire))
		symbols_kernel_wait(s, NULL);
	return s->kernel_ok;
}

