/* minivmm's own virtiofsd for [fs.NAME] path = DIR (see virtiofsd.h). */
#include "vmm/virtiofsd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"

/* Debian 13's virtiofsd package (Rust), then QEMU 7.2's own (C, qemu-system-common):
 * the same service, different option syntax. */
static const struct {
	const char *path;
	bool rust;
} binaries[] = {{"/usr/libexec/virtiofsd", true}, {"/usr/lib/qemu/virtiofsd", false}};

#define QUICK_S	  2 /* an exit this soon after the start counts as failing to start */
#define QUICK_MAX 3 /* ... and this many in a row give the folder up */

struct job {
	struct config_fs *fs;
	int listen_fd; /* -1 once given up */
	pid_t pid;     /* its virtiofsd, or 0 */
	time_t started;
	int quick; /* exits soon after the start, in a row */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void spawn(struct job *j, const char *bin, bool rust)
{
	char fd_arg[] = "--fd=3", src[PATH_MAX + 16], sandbox[32];
	const char *sb = config_fs_sandbox_names[j->fs->sandbox];
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = fork();
	sigset_t none;

	if (pid != 0 && null >= 0)
		close(null);
	if (pid < 0) {
		log_err("fs.%s: cannot start virtiofsd: %m", j->fs->name);
		return;
	}
	if (pid > 0) {
		j->pid = pid;
		j->started = time(NULL);
		return;
	}
	/* The listening socket as fd 3, nothing else of minivmm's; no signal blocked
	 * (minivmm's mask would be inherited through exec). */
	if (dup2(j->listen_fd, 3) < 0 || (null >= 0 && dup2(null, STDIN_FILENO) < 0))
		_exit(127);
	close_range(4, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (rust) {
		snprintf(src, sizeof(src), "--shared-dir=%s", j->fs->path);
		snprintf(sandbox, sizeof(sandbox), "--sandbox=%s", sb);
		execl(bin, bin, fd_arg, src, sandbox, "--cache=auto", "--log-level=warn",
		      (char *)NULL);
	} else {
		snprintf(src, sizeof(src), "source=%s", j->fs->path);
		snprintf(sandbox, sizeof(sandbox), "sandbox=%s", sb);
		execl(bin, bin, fd_arg, "-o", src, "-o", sandbox, "-o", "cache=auto", "-o",
		      "log_level=warn", (char *)NULL);
	}
	log_err("fs.%s: cannot run %s: %m", j->fs->name, bin);
	_exit(127);
}

/* An exit of j's virtiofsd: started again, unless it keeps failing at once. */
static void reaped(struct job *j, int status)
{
	bool quick = time(NULL) - j->started < QUICK_S;

	j->pid = 0;
	j->quick = quick ? j->quick + 1 : 0;
	if (j->quick < QUICK_MAX) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warn("fs.%s: virtiofsd ended (%s %d): started again", j->fs->name,
				 WIFEXITED(status) ? "exit" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return;
	}
	log_err("fs.%s: virtiofsd exits as soon as it starts (see its messages above; "
		"[fs.%s] sandbox = chroot where namespaces are not allowed): the folder %s "
		"is not shared",
		j->fs->name, j->fs->name, j->fs->path);
	close(j->listen_fd);
	j->listen_fd = -1;
}

/* The supervisor's life: keep each folder's virtiofsd running until keep closes. */
static void supervise(int keep, struct job *jobs, int n, const char *bin, bool rust,
		      const char *dir)
{
	struct pollfd p = {.fd = keep, .events = POLLIN};
	int status;
	pid_t pid;

	for (;;) {
		for (int i = 0; i < n; i++)
			if (!jobs[i].pid && jobs[i].listen_fd >= 0)
				spawn(&jobs[i], bin, rust);
		int r = poll(&p, 1, 200);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			break; /* minivmm closed its end (or the poll failed) */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (int i = 0; i < n; i++)
				if (jobs[i].pid == pid)
					reaped(&jobs[i], status);
	}
	for (int i = 0; i < n; i++)
		if (jobs[i].pid)
			kill(jobs[i].pid, SIGTERM);
	while (wait(NULL) > 0)
		;
	for (int i = 0; i < n; i++)
		unlink(jobs[i].sock);
	rmdir(dir);
	_exit(0);
}

/* The listening socket of one folder, at dir/NAME.sock. */
static int listen_at(struct job *j, const char *dir, uid_t uid, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", dir, j->fs->name) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(j->sock, sa.sun_path, sizeof(j->sock));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    (uid != (uid_t)-1 && chown(sa.sun_path, uid, gid) < 0)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	j->listen_fd = fd;
	return 0;
}

int virtiofsd_start(struct virtiofsd *v, struct config *cfg, uid_t uid, gid_t gid, char *err,
		    size_t errlen)
{
	struct job jobs[CONFIG_MAX_FS] = {0};
	char dir[] = "/tmp/minivmm-fs-XXXXXX";
	const char *bin = NULL;
	bool rust = false;
	int n = 0, pipefd[2], ret = 0;

	v->pid = 0;
	v->keep = -1;
	for (unsigned int i = 0; i < cfg->nr_fs; i++)
		if (cfg->fs[i].path[0])
			jobs[n++] = (struct job){.fs = &cfg->fs[i], .listen_fd = -1};
	if (!n)
		return 0;
	for (size_t i = 0; !bin && i < sizeof(binaries) / sizeof(binaries[0]); i++)
		if (access(binaries[i].path, X_OK) == 0)
			bin = binaries[i].path, rust = binaries[i].rust;
	if (!bin) {
		snprintf(err, errlen,
			 "fs.%s: path = %s needs virtiofsd, and neither %s nor %s is there "
			 "(Debian: apt-get install virtiofsd, or qemu-system-common up to 7.2); "
			 "or run one yourself and give its socket instead",
			 jobs[0].fs->name, jobs[0].fs->path, binaries[0].path, binaries[1].path);
		return -ENOENT;
	}
	for (int i = 0; i < n; i++)
		if (!rust && jobs[i].fs->sandbox == FS_SANDBOX_NONE) {
			snprintf(err, errlen,
				 "fs.%s: sandbox = none: %s (QEMU 7.2's) has only namespace and "
				 "chroot",
				 jobs[i].fs->name, bin);
			return -EINVAL;
		}
	/* 0711 and the sockets the dropped user's: it reconnects after a reboot. */
	if (!mkdtemp(dir) || chmod(dir, 0711) < 0) {
		snprintf(err, errlen, "fs: cannot create a folder for virtiofsd's sockets: %m");
		return -errno;
	}
	for (int i = 0; i < n && ret == 0; i++)
		ret = listen_at(&jobs[i], dir, uid, gid);
	if (ret == 0 && pipe2(pipefd, O_CLOEXEC) < 0)
		ret = -errno;
	if (ret < 0) {
		snprintf(err, errlen, "fs: cannot set up virtiofsd's sockets in %s: %s", dir,
			 strerror(-ret));
		goto err;
	}
	v->pid = fork();
	if (v->pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "fs: cannot start virtiofsd's supervisor: %m");
		close(pipefd[0]);
		close(pipefd[1]);
		goto err;
	}
	if (v->pid == 0) {
		close(pipefd[1]);
		setpgid(0, 0); /* a Ctrl-C at minivmm's terminal is minivmm's to handle */
		supervise(pipefd[0], jobs, n, bin, rust, dir);
	}
	close(pipefd[0]);
	v->keep = pipefd[1];
	for (int i = 0; i < n; i++) {
		close(jobs[i].listen_fd);
		snprintf(jobs[i].fs->socket, sizeof(jobs[i].fs->socket), "%s", jobs[i].sock);
	}
	log_info("fs: virtiofsd (%s) serves %d folder%s, its sockets in %s", bin, n,
		 n > 1 ? "s" : "", dir);
	return 0;
err:
	for (int i = 0; i < n; i++)
		if (jobs[i].listen_fd >= 0) {
			close(jobs[i].listen_fd);
			unlink(jobs[i].sock);
		}
	rmdir(dir);
	v->pid = 0;
	return ret;
}

void virtiofsd_stop(struct virtiofsd *v)
{
	if (v->keep >= 0)
		close(v->keep);
	v->keep = -1;
	if (v->pid > 0)
		waitpid(v->pid, NULL, 0);
	v->pid = 0;
}
