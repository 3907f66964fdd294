/* minivmm-ctl: the control API from a shell.
 *
 *   minivmm-ctl SOCKET COMMAND [KEY=VALUE...]   one request; prints the reply's
 *                                               "return" as JSON, exit 0; an error
 *                                               reply: its class and text, exit 1
 *   minivmm-ctl SOCKET events [SECONDS]          prints events, one JSON per line
 *   minivmm-ctl SOCKET raw TEXT                  sends TEXT as one line, prints the
 *                                               first reply line as it came (tests)
 *
 * VALUE true/false is a boolean, digits an integer, anything else a string:
 *   minivmm-ctl vm.sock add-device kind=vfio name=nvme host=0000:01:00.0
 * Exit 2: cannot connect or bad usage; 3: the connection broke. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Reads one line (the next JSON message) into buf; false at EOF or timeout. */
static bool read_line(int fd, char *buf, size_t size, size_t *have, int timeout_ms, char **line)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *have);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			*nl = 0;
			*line = strdup(buf);
			*have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, *have);
			return *line != NULL;
		}
		if (*have == size - 1 || poll(&p, 1, timeout_ms) <= 0)
			return false;
		n = read(fd, buf + *have, size - 1 - *have);
		if (n <= 0)
			return false;
		*have += (size_t)n;
	}
}

static json_t *value(const char *v)
{
	char *end;
	long long n;

	if (!strcmp(v, "true") || !strcmp(v, "false"))
		return json_boolean(!strcmp(v, "true"));
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v && !*end && !errno)
		return json_integer(n);
	return json_string(v);
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t have = 0;
	char *line = NULL;
	json_t *req, *args, *msg;
	int fd, ret = 3;

	if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: minivmm-ctl SOCKET COMMAND [KEY=VALUE...]\n"
				"       minivmm-ctl SOCKET events [SECONDS]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "minivmm-ctl: cannot connect to %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	if (!read_line(fd, buf, sizeof(buf), &have, 5000, &line)) { /* the greeting */
		fprintf(stderr, "minivmm-ctl: no greeting from %s\n", argv[1]);
		return 3;
	}
	free(line);
	if (!strcmp(argv[2], "raw") && argc == 4) {
		size_t len = strlen(argv[3]);

		if (write(fd, argv[3], len) != (ssize_t)len || write(fd, "\n", 1) != 1)
			return 3;
		while (read_line(fd, buf, sizeof(buf), &have, 10000, &line)) {
			bool event = strstr(line, "{\"event\":") == line;

			if (!event)
				puts(line);
			free(line);
			if (!event)
				return 0;
		}
		return 3;
	}
	if (!strcmp(argv[2], "events")) {
		int secs = argc > 3 ? atoi(argv[3]) : -1;
		time_t end = time(NULL) + secs;

		while (secs < 0 || time(NULL) < end) {
			if (!read_line(fd, buf, sizeof(buf), &have,
				       secs < 0 ? -1 : (int)(end - time(NULL)) * 1000 + 1, &line))
				return secs < 0 ? 3 : 0;
			puts(line);
			fflush(stdout);
			free(line);
		}
		return 0;
	}
	args = json_object();
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i]) {
			fprintf(stderr, "minivmm-ctl: '%s' is not KEY=VALUE\n", argv[i]);
			return 2;
		}
		*eq = 0;
		json_object_set_new(args, argv[i], value(eq + 1));
	}
	req = json_pack("{s:s, s:o, s:i}", "execute", argv[2], "arguments", args, "id", 1);
	{
		char *s = json_dumps(req, JSON_COMPACT);
		size_t len = strlen(s);

		s[len] = '\n'; /* the NUL goes: json_dumps' buffer has room for it */
		if (write(fd, s, len + 1) != (ssize_t)(len + 1)) {
			perror("minivmm-ctl: write");
			return 3;
		}
		free(s);
	}
	/* Events may come before the reply: skip them. */
	while (read_line(fd, buf, sizeof(buf), &have, 600000, &line)) {
		msg = json_loads(line, 0, NULL);
		free(line);
		if (!msg || json_object_get(msg, "event")) {
			json_decref(msg);
			continue;
		}
		if (json_object_get(msg, "return")) {
			char *s = json_dumps(json_object_get(msg, "return"),
					     JSON_INDENT(2) | JSON_ENCODE_ANY);

			puts(s);
			free(s);
			ret = 0;
		} else {
			json_t *e = json_object_get(msg, "error");

			fprintf(stderr, "minivmm-ctl: %s: %s\n",
				json_string_value(json_object_get(e, "class")),
				json_string_value(json_object_get(e, "desc")));
			ret = 1;
		}
		json_decref(msg);
		break;
	}
	json_decref(req);
	close(fd);
	return ret;
}
