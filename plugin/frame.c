/* frame.c - frame kinds and symbol lists (frame.h). */
#include "frame.h"

#include <string.h>

bool frame_name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

const char *frame_kind_name(enum frame_kind k)
{
	switch (k) {
	case FRAME_PYTHON:
		return "python";
	case FRAME_NATIVE:
		return "native";
	case FRAME_INTERP:
		return "interp";
	case FRAME_KERNEL:
		return "kernel";
	case FRAME_RUNTIME:
		return "runtime";
	case FRAME_KIND_NR:
		break;
	}
	return "unknown";
}
