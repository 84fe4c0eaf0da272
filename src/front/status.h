/*
 * status: the node's status (node_status_get, node.h) as people read it
 * (`oand status`), and how it is written as JSON.  Works on the JSON
 * object alone; any thread.
 */
#ifndef OAND_STATUS_H
#define OAND_STATUS_H

#include <jansson.h>

/* How the status is written as JSON: compact, and each real with the
   digits it was given (its tenths of seconds: "0.3", not
   "0.29999999999999999"). */
#define STATUS_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* st as text for people, a line for each fact, into *out (malloc'd,
   NUL-terminated, the caller's): 0, -EINVAL if st is not an object, or
   -ENOMEM. */
int status_text(const json_t *st, char **out);

#endif
