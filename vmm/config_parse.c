/* The helpers that config.c and config_devices.c share (see config_parse.h): messages
 * that say where the mistake is, and the value parsers of more than one key. */
#include "vmm/config_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Even indexes are off, odd ones on. */
const char *const config_onoff_names[8] = {"off", "on", "false", "true", "no", "yes", "0", "1"};

/* Writes "FILE:LINE: ", "FILE: " or "--set ARG: " and the message; returns ret. */
int config_fail(const struct ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return ret;
	if (c->arg)
		n = snprintf(c->err, c->errlen, "--set %s: ", c->arg);
	else if (c->line)
		n = snprintf(c->err, c->errlen, "%s:%d: ", c->cfg->file, c->line);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->cfg->file);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - n, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int config_pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(v, names[i]))
			return i;
	return -1;
}

int config_set_uint(struct ctx *c, const char *key, const char *v, unsigned int min,
		    unsigned int max, unsigned int *out)
{
	unsigned long n = 0;

	if (!*v || strspn(v, "0123456789") != strlen(v))
		return config_fail(c, -EINVAL, "%s '%s' is not a number (use %u to %u)", key, v,
				   min, max);
	for (const char *p = v; *p && n <= max; p++) /* stops before overflow */
		n = n * 10 + (unsigned long)(*p - '0');
	if (n < min || n > max)
		return config_fail(c, -EINVAL, "%s must be between %u and %u", key, min, max);
	*out = (unsigned int)n;
	return 0;
}

int config_set_path(struct ctx *c, const char *key, const char *v, char *dst)
{
	const char *sep = c->base[strlen(c->base) - 1] == '/' ? "" : "/";
	int n;

	if (!*v || *v == '/')
		n = snprintf(dst, PATH_MAX, "%s", v);
	else
		n = snprintf(dst, PATH_MAX, "%s%s%s", c->base, sep, v);
	if (n < 0 || n >= PATH_MAX)
		return config_fail(c, -ENAMETOOLONG, "%s path is too long (at most %d characters)",
				   key, PATH_MAX - 1);
	return 0;
}

/* Quotes only when iniparser would otherwise change the value: comment characters, outer
 * spaces or quotes, or empty. A value holding both kinds of quotes cannot round-trip. */
void config_print_kv(FILE *f, const char *key, const char *v)
{
	size_t n = strlen(v);
	bool quote = !n || strpbrk(v, ";#") || isspace((unsigned char)v[0]) ||
		     isspace((unsigned char)v[n - 1]) || v[0] == '"' || v[0] == '\'' ||
		     v[n - 1] == '\\'; /* else it reads as a continuation line */

	if (quote && !strchr(v, '"'))
		fprintf(f, "%s = \"%s\"\n", key, v);
	else if (quote && !strchr(v, '\''))
		fprintf(f, "%s = '%s'\n", key, v);
	else
		fprintf(f, "%s = %s\n", key, v);
}
