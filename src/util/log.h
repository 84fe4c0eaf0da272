/*
 * log: the one logger of the process.  Messages go to stderr while the
 * process runs in the foreground and to syslog once it has daemonized.
 * The level is checked before any formatting.  Thread safe: the state is
 * set once at start-up (log_init, log_to_syslog) before threads exist.
 */
#ifndef OAND_LOG_H
#define OAND_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARNING,
	LOG_LVL_NOTICE,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_init(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Switch from stderr to syslog (after daemonizing). */
void log_to_syslog(void);
/* Parse "error", "warning", "notice", "info", "debug"; -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
