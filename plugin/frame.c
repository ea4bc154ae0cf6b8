/* frame.c - names of frame kinds (frame.h). */
#include "frame.h"

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
