/*
 * json.h - the small pieces every JSON writer needs: escaped strings and
 * numbers. Writers own their FILE; nothing here allocates.
 */
#ifndef PM_JSON_H
#define PM_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decode one UTF-8 sequence at s: its length and *cp; an invalid byte
 * decodes as U+FFFD with length 1. Stops at a NUL (never reads past it). */
size_t utf8_decode(const unsigned char *s, uint32_t *cp);

/* s as a JSON string literal: quotes, backslashes and control characters
 * escaped, bytes that are not valid UTF-8 replaced by U+FFFD. NULL -> null. */
void json_str(FILE *f, const char *s);

/* A finite double with 2 decimals (NaN/inf -> 0), for percentages. */
void json_num(FILE *f, double v);

/* "key": (the key escaped), for object members. */
void json_key(FILE *f, const char *key);

#endif
