/*
 * faults.h - page-fault summary: per fault event (page-faults,
 * minor-faults, major-faults, exceptions:page_fault_user/kernel), faults by
 * Python function, by kind of the faulting address's mapping, by access
 * (read/write/instruction fetch, user/kernel mode, from the x86 error code)
 * and per second. Part of eventsum (see eventsum.h); owns its profiles.
 */
#ifndef PM_FAULTS_H
#define PM_FAULTS_H

#include <stdio.h>

#include "evtab.h"

struct faults;

struct faults *faults_new(void);
void faults_free(struct faults *fs);	/* NULL accepted */

/* One sample of an AK_FAULT event. 0 or -PM_ENOMEM. */
int faults_sample(struct faults *fs, const struct es_ctx *c,
		  const struct es_sample *s);

void faults_write_text(const struct faults *fs, FILE *f, unsigned top);
/* A JSON array, one object per fault event. */
void faults_write_json(const struct faults *fs, FILE *f, unsigned top);

#endif
