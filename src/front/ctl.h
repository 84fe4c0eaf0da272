/*
 * ctl: the control socket (DATA/oand.sock, a Unix stream socket).  The
 * running node answers one request per connection ("status\n") with one
 * JSON object.  `oand ping` and `oand nodes remove|reconnect` use it
 * alone; `oand status` and `oand nodes` ask the HTTP service (src/front/api)
 * and come here when nothing answers there (a node in another network
 * namespace).  One thread accepts and answers; it never blocks the
 * filesystem.  Clients time out.  The socket is 0600 in the 0700 data
 * dir, and only root and the node's own user (SO_PEERCRED) are answered.
 */
#ifndef OAND_CTL_H
#define OAND_CTL_H

#include <stddef.h>

struct ctl;
struct node;

/* Path of the socket for a data dir; -ENAMETOOLONG if it cannot fit. */
int ctl_socket_path(const char *data_dir, char *out, size_t outlen);
int ctl_start(struct node *n, const char *data_dir, struct ctl **out);
void ctl_stop(struct ctl *c);
/*
 * Ask the node on data_dir: send request, read the reply into buf.
 * -ECONNREFUSED / -ENOENT when no node runs there, -ETIMEDOUT after
 * timeout_ms.
 */
int ctl_request(const char *data_dir, const char *request, char *buf, size_t len, int timeout_ms);

#endif
