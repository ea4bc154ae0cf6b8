/* error.c - messages for the PM_ERRORS codes. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const messages[] = {
	[PM_OK] = "success",
#define PM_X(name, msg) [PM_E##name] = msg,
	PM_ERRORS(PM_X)
#undef PM_X
};

const char *pm_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code >= PM_E_NR)
		return "unknown error";
	return messages[code];
}

int pm_error_set(struct pm_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code < 0)
		code = -code;
	if (err) {
		err->code = -code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}

void pm_error_clear(struct pm_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
