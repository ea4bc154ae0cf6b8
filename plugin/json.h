/*
 * json.h - the small pieces every JSON writer needs: escaped strings and
 * numbers. Writers own their FILE; nothing here allocates.
 */
#ifndef PM_JSON_H
#define PM_JSON_H

#include <stdint.h>
#include <stdio.h>

/* s as a JSON string literal: quotes, backslashes and control characters
 * escaped, bytes that are not valid UTF-8 replaced by U+FFFD. NULL -> null. */
void json_str(FILE *f, const char *s);

/* A finite double with 2 decimals (NaN/inf -> 0), for percentages. */
void json_num(FILE *f, double v);

/* "key": (the key escaped), for object members. */
void json_key(FILE *f, const char *key);

#endif
