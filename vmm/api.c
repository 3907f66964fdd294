/* The control API's transport (see api.h). */
#include "vmm/api.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/seccomp.h"

#define API_VERSION "0.1.0"

struct api_client {
	int fd; /* -1: free slot */
	unsigned int gen;
	char in[API_MAX_LINE];
	size_t in_len;
	bool skipping; /* the rest of an over-long line */
	bool dead;     /* to be dropped by the API thread (output overflowed) */
	char *out;     /* what is queued for it, under api->lock */
	size_t out_len, out_cap;
};

/* A checked request waiting for the main thread. */
struct api_req {
	struct api_req *next;
	unsigned int slot, gen;
	const struct api_command *cmd;
	json_t *args, *id;
};

struct api {
	int listen_fd;
	int thread_efd; /* wakes the API thread: output queued, or stop */
	int main_efd;	/* wakes the main thread: requests queued */
	pthread_t thread;
	bool thread_running;
	bool stop;
	uid_t uid; /* ours: the only peer besides root that may connect */
	enum seccomp_mode seccomp;
	const struct api_command *cmds;
	size_t nr_cmds;
	pthread_mutex_t lock; /* clients' output, the request queue, stop */
	struct api_req *head, **tail;
	struct api_client clients[API_MAX_CLIENTS];
};

static void api_seterr(struct api_error *err, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void api_seterr(struct api_error *err, const char *cls, const char *fmt, ...)
{
	va_list ap;

	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
}

/* The schema entry for key in schema ("kind:s name:s path:s?"): its type letter and
 * whether it is optional; 0 if key is not in it. */
static char schema_type(const char *schema, const char *key, size_t klen, bool *optional)
{
	for (const char *p = schema; *p;) {
		const char *colon = strchr(p, ':');
		size_t n;

		if (!colon)
			break;
		n = (size_t)(colon - p);
		*optional = colon[2] == '?';
		if (n == klen && !strncmp(p, key, n))
			return colon[1];
		p = colon + 2 + *optional;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static bool type_ok(char t, const json_t *v)
{
	return (t == 's' && json_is_string(v)) || (t == 'b' && json_is_boolean(v)) ||
	       (t == 'i' && json_is_integer(v));
}

/* args (NULL: none given) against schema: no unknown key, no wrong type, nothing
 * required missing. */
static int check_args(const char *schema, json_t *args, const char *name, struct api_error *err)
{
	static const char *const type_names[] = {
	    ['s'] = "a string", ['b'] = "a boolean", ['i'] = "an integer"};
	const char *key;
	json_t *v;
	bool opt;

	if (args)
		json_object_foreach(args, key, v)
		{
			char t = schema_type(schema, key, strlen(key), &opt);

			if (!t) {
				api_seterr(err, API_ERR_ARGS,
					   "%s: no argument '%.64s' (it takes %s)", name, key,
					   schema);
				return -EINVAL;
			}
			if (!type_ok(t, v)) {
				api_seterr(err, API_ERR_ARGS, "%s: %s must be %s", name, key,
					   type_names[(unsigned char)t]);
				return -EINVAL;
			}
		}
	for (const char *p = schema; *p;) {
		const char *colon = strchr(p, ':');

		if (!colon)
			break;
		opt = colon[2] == '?';
		if (!opt && !(args && json_object_getn(args, p, (size_t)(colon - p)))) {
			api_seterr(err, API_ERR_ARGS, "%s: argument '%.*s' is required", name,
				   (int)(colon - p), p);
			return -EINVAL;
		}
		p = colon + 2 + opt;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int api_parse(const char *line, size_t len, const struct api_command *cmds, size_t n,
	      const struct api_command **cmd, json_t **args, json_t **id, struct api_error *err)
{
	json_t *req, *a = NULL, *i = NULL;
	const char *name = NULL;
	json_error_t je;

	*cmd = NULL;
	*args = *id = NULL;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req) {
		api_seterr(err, API_ERR_SYNTAX, "not JSON: %s (column %d)", je.text, je.column);
		return -EINVAL;
	}
	if (!json_is_object(req)) {
		api_seterr(err, API_ERR_SYNTAX, "a request is a JSON object");
		goto err;
	}
	i = json_object_get(req, "id");
	if (i)
		*id = json_incref(i);
	if (json_unpack_ex(req, &je, JSON_STRICT, "{s:s, s?o, s?o}", "execute", &name, "arguments",
			   &a, "id", &i) < 0) {
		api_seterr(err, API_ERR_SYNTAX,
			   "a request is {\"execute\": NAME, \"arguments\": {...}, \"id\": ANY}: "
			   "%s",
			   je.text);
		goto err;
	}
	for (size_t k = 0; k < n; k++)
		if (!strcmp(cmds[k].name, name))
			*cmd = &cmds[k];
	if (!*cmd) {
		api_seterr(err, API_ERR_NOCMD, "no command '%.64s' (the greeting lists them)",
			   name);
		goto err;
	}
	if (a && !json_is_object(a)) {
		api_seterr(err, API_ERR_ARGS, "%s: arguments must be an object", name);
		goto err;
	}
	if (a && json_object_size(a) && !(*cmd)->args) {
		api_seterr(err, API_ERR_ARGS, "%s takes no arguments", name);
		goto err;
	}
	if ((*cmd)->args && a && check_args((*cmd)->args, a, name, err) < 0)
		goto err;
	if ((*cmd)->args && !a && check_args((*cmd)->args, NULL, name, err) < 0)
		goto err;
	*args = a ? json_incref(a) : json_object();
	json_decref(req);
	return 0;
err:
	*cmd = NULL;
	json_decref(req);
	return -EINVAL;
}

/* ---- output: replies and events, queued per client (api->lock held) ---- */

static void client_drop(struct api_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->gen++;
	c->in_len = 0;
	c->skipping = false;
	c->dead = false;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
}

/* Its output goes and the API thread drops it at its next turn: only that thread
 * closes a client's fd or touches its input, whichever thread queues. */
static void client_kill(struct api_client *c)
{
	c->dead = true;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_cap = 0;
}

/* Queues msg (stolen) as one line. A client that has let API_MAX_OUTPUT pile up is
 * not reading: it is dropped rather than allowed to make minivmm hold its output. */
static void client_queue(struct api_client *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10));
	size_t len = s ? strlen(s) + 1 : 0;

	json_decref(msg);
	if (!s || c->fd < 0 || c->dead) {
		free(s);
		return;
	}
	if (c->out_len + len > API_MAX_OUTPUT) {
		log_warn("api: a client is not reading its replies; disconnecting it");
		client_kill(c);
		free(s);
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *p = realloc(c->out, cap);

		if (!p) {
			client_kill(c);
			free(s);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len - 1);
	c->out[c->out_len + len - 1] = '\n';
	c->out_len += len;
	free(s);
}

static void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("api: cannot wake a thread: %m");
}

static json_t *error_reply(const struct api_error *err, json_t *id)
{
	json_t *r = json_pack("{s:{s:s, s:s}}", "error", "class", err->cls, "desc", err->desc);

	if (r && id)
		json_object_set(r, "id", id);
	return r;
}

void api_event(struct api *api, const char *name, json_t *data)
{
	struct timeval tv;

	if (!api) {
		json_decref(data);
		return;
	}
	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&api->lock);
	for (int i = 0; i < API_MAX_CLIENTS; i++) {
		if (api->clients[i].fd < 0)
			continue;
		client_queue(&api->clients[i],
			     json_pack("{s:s, s:O, s:{s:I, s:I}}", "event", name, "data",
				       data ? data : json_object(), "timestamp", "seconds",
				       (json_int_t)tv.tv_sec, "microseconds",
				       (json_int_t)tv.tv_usec));
	}
	pthread_mutex_unlock(&api->lock);
	json_decref(data);
	wake(api->thread_efd);
}

/* ---- the main thread's side ---- */

int api_wake_fd(const struct api *api)
{
	return api->main_efd;
}

void api_service(struct api *api, void *ctx)
{
	struct api_req *r;
	uint64_t n;

	if (read(api->main_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("api: %m");
	for (;;) {
		struct api_error err = {0};
		json_t *ret, *reply;

		pthread_mutex_lock(&api->lock);
		r = api->head;
		if (r) {
			api->head = r->next;
			if (!api->head)
				api->tail = &api->head;
		}
		pthread_mutex_unlock(&api->lock);
		if (!r)
			break;
		ret = r->cmd->run(ctx, r->args, &err);
		if (err.cls) {
			json_decref(ret);
			reply = error_reply(&err, r->id);
		} else {
			reply = json_pack("{s:o}", "return", ret ? ret : json_object());
			if (reply && r->id)
				json_object_set(reply, "id", r->id);
		}
		pthread_mutex_lock(&api->lock);
		if (api->clients[r->slot].gen == r->gen)
			client_queue(&api->clients[r->slot], reply);
		else
			json_decref(reply); /* the client is gone */
		pthread_mutex_unlock(&api->lock);
		wake(api->thread_efd);
		json_decref(r->args);
		json_decref(r->id);
		free(r);
	}
}

/* ---- the API thread ---- */

static void client_accept(struct api *api)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	json_t *cmds, *hello;
	int fd = accept4(api->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int slot = -1;

	if (fd < 0)
		return;
	/* The socket is 0600 already; a peer that is neither us nor root is refused
	 * anyway, in case the file's mode was changed behind our back. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != api->uid && cred.uid != 0)) {
		log_warn("api: refused a client of uid %u", (unsigned int)cred.uid);
		close(fd);
		return;
	}
	pthread_mutex_lock(&api->lock);
	for (int i = 0; i < API_MAX_CLIENTS && slot < 0; i++)
		if (api->clients[i].fd < 0)
			slot = i;
	if (slot < 0) {
		static const char busy[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
					   "\"too many clients\"}}\n";

		pthread_mutex_unlock(&api->lock);
		if (write(fd, busy, sizeof(busy) - 1) < 0)
			(void)0; /* it is closed either way */
		close(fd);
		return;
	}
	api->clients[slot].fd = fd;
	cmds = json_array();
	for (size_t i = 0; i < api->nr_cmds; i++)
		json_array_append_new(cmds, json_string(api->cmds[i].name));
	hello = json_pack("{s:{s:s, s:o}}", "greeting", "version", API_VERSION, "commands", cmds);
	client_queue(&api->clients[slot], hello);
	pthread_mutex_unlock(&api->lock);
	wake(api->thread_efd); /* the next poll includes it, and sends the greeting */
}

/* One complete line from client slot: checked here, run by the main thread. */
static void client_line(struct api *api, int slot, const char *line, size_t len)
{
	struct api_client *c = &api->clients[slot];
	const struct api_command *cmd;
	struct api_error err = {0};
	json_t *args, *id;
	struct api_req *r;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return;
	if (api_parse(line, len, api->cmds, api->nr_cmds, &cmd, &args, &id, &err) < 0) {
		pthread_mutex_lock(&api->lock);
		client_queue(c, error_reply(&err, id));
		pthread_mutex_unlock(&api->lock);
		json_decref(id);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		json_decref(args);
		json_decref(id);
		return;
	}
	r->slot = (unsigned int)slot;
	r->cmd = cmd;
	r->args = args;
	r->id = id;
	pthread_mutex_lock(&api->lock);
	r->gen = c->gen;
	*api->tail = r;
	api->tail = &r->next;
	pthread_mutex_unlock(&api->lock);
	wake(api->main_efd);
}

/* Reads what the client sent and handles each complete line. */
static void client_read(struct api *api, int slot)
{
	struct api_client *c = &api->clients[slot];
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	size_t start = 0;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			pthread_mutex_lock(&api->lock);
			client_drop(c);
			pthread_mutex_unlock(&api->lock);
		}
		return;
	}
	c->in_len += (size_t)n;
	for (size_t i = 0; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (!c->skipping)
			client_line(api, slot, c->in + start, i - start);
		c->skipping = false;
		start = i + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == sizeof(c->in)) {
		struct api_error err = {0};

		/* No newline in API_MAX_LINE bytes: answer once, drop the rest of it. */
		api_seterr(&err, API_ERR_TOO_LONG, "a request is one line of at most %d bytes",
			   API_MAX_LINE);
		pthread_mutex_lock(&api->lock);
		if (!c->skipping)
			client_queue(c, error_reply(&err, NULL));
		pthread_mutex_unlock(&api->lock);
		c->skipping = true;
		c->in_len = 0;
	}
}

static void client_flush(struct api *api, int slot)
{
	struct api_client *c = &api->clients[slot];
	ssize_t n;

	pthread_mutex_lock(&api->lock);
	if (c->fd >= 0 && c->out_len) {
		n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_drop(c);
		}
	}
	pthread_mutex_unlock(&api->lock);
}

static void *api_thread(void *arg)
{
	struct api *api = arg;
	int ret = seccomp_install(api->seccomp, SECCOMP_THREAD_API);

	if (ret < 0) {
		log_err("api: cannot install its seccomp filter: %s; the API is off",
			strerror(-ret));
		return NULL;
	}
	for (;;) {
		struct pollfd p[2 + API_MAX_CLIENTS];
		int map[API_MAX_CLIENTS], np = 2;
		uint64_t v;

		p[0] = (struct pollfd){.fd = api->thread_efd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = api->listen_fd, .events = POLLIN};
		pthread_mutex_lock(&api->lock);
		if (api->stop) {
			pthread_mutex_unlock(&api->lock);
			break;
		}
		for (int i = 0; i < API_MAX_CLIENTS; i++) {
			if (api->clients[i].dead)
				client_drop(&api->clients[i]);
			if (api->clients[i].fd < 0)
				continue;
			map[np - 2] = i;
			p[np++] = (struct pollfd){
			    .fd = api->clients[i].fd,
			    .events = (short)(POLLIN | (api->clients[i].out_len ? POLLOUT : 0))};
		}
		pthread_mutex_unlock(&api->lock);
		if (poll(p, (nfds_t)np, -1) < 0)
			continue;
		if (p[0].revents && read(api->thread_efd, &v, sizeof(v)) < 0)
			(void)0; /* EAGAIN: another wake-up took it */
		if (p[1].revents & POLLIN)
			client_accept(api);
		for (int k = 2; k < np; k++) {
			int slot = map[k - 2];

			if (p[k].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(api, slot);
			client_flush(api, slot);
		}
	}
	return NULL;
}

/* Whether something accepts connections on sa now. */
static bool api_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return live;
}

int api_open(struct api **out, const char *path, const struct api_command *cmds, size_t n,
	     enum seccomp_mode mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct api *api;
	struct stat st;
	mode_t old;
	int ret;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("[api] socket = %s: longer than a Unix socket path may be (%zu bytes)",
			path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		log_err("[api] socket = %s: a file that is not a socket is there; remove it or "
			"choose another path",
			path);
		return -EEXIST;
	}
	/* jansson seeds its hash function from /dev/urandom on first use; here, before
	 * any filter, not in the API thread, which may not open files. */
	json_object_seed(0);
	strcpy(sa.sun_path, path);
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->cmds = cmds;
	api->nr_cmds = n;
	api->seccomp = mode;
	api->uid = geteuid();
	api->tail = &api->head;
	pthread_mutex_init(&api->lock, NULL);
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		api->clients[i].fd = -1;
	api->thread_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	api->main_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (api->thread_efd < 0 || api->main_efd < 0 || api->listen_fd < 0) {
		ret = -errno;
		log_err("api: %m");
		goto err;
	}
	/* A socket file left by a minivmm that was killed: replace it; one that a live
	 * minivmm answers on (a migration's source on this host, say) is not ours. */
	if (api_in_use(&sa)) {
		log_err("[api] socket = %s: another process is listening there; give this "
			"minivmm its own (--set api.socket=PATH)",
			path);
		ret = -EADDRINUSE;
		goto err;
	}
	unlink(path);
	old = umask(0177); /* the socket is created 0600 */
	ret = bind(api->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || listen(api->listen_fd, 8) < 0) {
		ret = -errno;
		log_err("[api] socket = %s: cannot listen there: %m", path);
		if (ret != -EADDRINUSE)
			unlink(path);
		goto err;
	}
	ret = -pthread_create(&api->thread, NULL, api_thread, api);
	if (ret < 0) {
		log_err("api: cannot start its thread: %s", strerror(-ret));
		unlink(path);
		goto err;
	}
	api->thread_running = true;
	log_info("api: listening on %s", path);
	*out = api;
	return 0;
err:
	api_close(api);
	return ret;
}

void api_close(struct api *api)
{
	if (!api)
		return;
	if (api->thread_running) {
		pthread_mutex_lock(&api->lock);
		api->stop = true;
		pthread_mutex_unlock(&api->lock);
		wake(api->thread_efd);
		pthread_join(api->thread, NULL);
	}
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		client_drop(&api->clients[i]);
	while (api->head) {
		struct api_req *r = api->head;

		api->head = r->next;
		json_decref(r->args);
		json_decref(r->id);
		free(r);
	}
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	if (api->thread_efd >= 0)
		close(api->thread_efd);
	if (api->main_efd >= 0)
		close(api->main_efd);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
