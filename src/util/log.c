#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

/* Set before any thread starts; read-only afterwards (level is atomic). */
static struct {
	const char *ident;
	int level;
	int syslog;
} lg = { "oand", LOG_LVL_INFO, 0 };

static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

void log_init(const char *ident, enum log_level level)
{
	lg.ident = ident;
	__atomic_store_n(&lg.level, (int)level, __ATOMIC_RELAXED);
}

void log_set_level(enum log_level level)
{
	__atomic_store_n(&lg.level, (int)level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&lg.level, __ATOMIC_RELAXED);
}

void log_to_syslog(void)
{
	openlog(lg.ident, LOG_PID, LOG_DAEMON);
	__atomic_store_n(&lg.syslog, 1, __ATOMIC_RELEASE);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if ((int)level > __atomic_load_n(&lg.level, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	if (__atomic_load_n(&lg.syslog, __ATOMIC_ACQUIRE)) {
		vsyslog(prio[level], fmt, ap);
	} else {
		char line[2048], ts[32];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		vsnprintf(line, sizeof(line), fmt, ap);
		/* One write per line so threads do not interleave mid-line. */
		fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", ts, now.tv_nsec / 1000000,
			lg.ident, names[level], line);
	}
	va_end(ap);
	errno = saved;
}
