/*-------------------------------------------------------------------------
 *
 * copy_text.h
 *		Fields of COPY ... TO STDOUT text format, as the initial copy reads
 *		them: escapes undone, hex and integers read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_COPY_TEXT_H
#define SINK_COPY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Undo COPY text escapes (\n, \t, \xHH, octal, ...) of s[0..len) in place
 * and NUL-terminate; returns the new length.
 */
extern size_t copy_text_unescape(char *s, size_t len);

/*
 * Decode hex text (pairs; '-' skipped, as in uuid text) into out, up to the
 * first non-hex pair; returns the bytes written (at most strlen(s) / 2).
 */
extern size_t copy_text_decode_hex(const char *s, uint8_t *out);

/*
 * Split one COPY text line (len bytes, modified; a final newline dropped)
 * into nfields fields, unescaped and NUL-terminated: fields[i] NULL for
 * \N (and for fields the line lacks), flens[i] their lengths.
 */
extern void copy_text_split(char *line, size_t len, char **fields,
							size_t *flens, int nfields);

/* Whether s is an optional '-' and one or more decimal digits. */
extern bool copy_text_is_integer(const char *s);

#endif
