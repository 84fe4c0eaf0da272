/* thread: start a thread that takes no signals (the main thread and the
   FUSE loop take them), the way every long-lived thread of oand starts. */
#ifndef OAND_THREAD_H
#define OAND_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread: 0 or -errno. */
int thread_spawn(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
