/* src/http/client.c's handling of response header lines, shared with
 * tests/fuzz/fuzz_http_client.c (the bytes come from any server a URL
 * names). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One header line as libcurl's CURLOPT_HEADERFUNCTION hands it (data, len:
 * the raw bytes with their CRLF): a status line ("HTTP/…") starts a new
 * response and drops the lines kept so far (1xx, redirects); an empty line
 * and obsolete folded lines are dropped; anything else is kept in *lines (a
 * NULL-terminated strv, owned, "Name: value" without the line end or
 * trailing blanks, every control character but HTAB replaced with SP as
 * RFC 9110 §5.5 allows for CR, LF and NUL).  *bytes
 * counts every byte seen; returns false once it passes max (the transfer is
 * then aborted), true otherwise. */
bool http_header_line(char ***lines, size_t *bytes, size_t max, const char *data, size_t len);

/* The value of header name (case-insensitive) in lines, leading blanks
 * skipped: a pointer into lines, or NULL. */
const char *http_header_find(char *const *lines, const char *name);
