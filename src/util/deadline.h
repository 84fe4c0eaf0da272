/*
 * deadline: waits bounded by an absolute monotonic time, for the short
 * blocking exchanges (control socket, BFF query).  Pure, thread safe.
 */
#ifndef OAND_DEADLINE_H
#define OAND_DEADLINE_H

#include <stdint.h>

/* Milliseconds (microseconds) on the monotonic clock. */
int64_t deadline_now_ms(void);
int64_t deadline_now_us(void);
/* Wait until fd is ready for events (poll flags): 0, -ETIMEDOUT, -errno. */
int deadline_wait_fd(int fd, short events, int64_t deadline_ms);

#endif
