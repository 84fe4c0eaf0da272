/*
 * methods: the numbers of the methods members exchange (wire_msg.method),
 * part of the wire protocol: a number, once used, keeps its meaning.
 * Those below NET_SERVICE_FIRST are the net thread's own; from there on
 * they go to the service (net_set_service(), src/net).
 */
#ifndef OAND_METHODS_H
#define OAND_METHODS_H

/* Methods of the messages members exchange (wire_msg.method). */
enum net_method {
	NET_HEARTBEAT = 1,	/* notice: the node list (src/proto/cluster) */
	NET_PING = 2,		/* request: empty reply */
	NET_ECHO = 3,		/* request: the body comes back */
	NET_BYE = 4,		/* notice: the sender is stopping (offline at once) */
	NET_XFER_WANT = 5,	/* notice: send me this content (src/repl/xfer) */
	NET_XFER_NOPE = 6,	/* notice: I do not hold it */
	NET_RX = 7,		/* notice: message packets received from you on this link
				   (u64 LE); paces what the peer hands Tox */
	NET_CANCEL = 8,		/* notice: I no longer wait for the reply to my
				   request (u64 LE id): do not send it */
	/* From here on, methods go to the service (net_set_service()). */
	NET_SERVICE_FIRST = 16,
	NET_SYNC_PULL = 16,	/* request: namespace changes (src/repl/sync) */
	NET_SYNC_NEWS = 17,	/* notice: the sender has changes to pull */
};

#endif
