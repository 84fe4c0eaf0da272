/*
 * api: the node's HTTP service on server-port (libmicrohttpd, its own
 * thread).  For now it answers what a joining node needs: GET / with {}
 * and GET /v1/bootstrap with the Tox ID, current DHT key, UDP port and
 * name (read from the net thread's snapshot).  Anything else is a JSON
 * error with the right status.  Bounded: a connection limit and timeouts.
 */
#ifndef OAND_API_H
#define OAND_API_H

struct api;
struct net;

int api_start(int port, struct net *net, const char *name, struct api **out);
void api_stop(struct api *a);

#endif
