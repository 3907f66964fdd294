/* Live migration, the destination side: minivmm --incoming ADDR (see migrate.h). */
#include "vmm/migrate.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/migrate_wire.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

static int listen_on(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	struct stat st;
	socklen_t len;
	int fd, one = 1;

	if (migrate_parse_addr(addr, &sa, &len, err, errlen) < 0)
		return -EINVAL;
	if (sa.ss_family == AF_UNIX) {
		const char *path = ((struct sockaddr_un *)&sa)->sun_path;

		/* A socket left by an earlier run is replaced; any other file is not ours. */
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--incoming %s: %s exists and is not a socket", addr,
				 path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 1) < 0) {
		int ret = -errno;

		snprintf(err, errlen, "--incoming %s: cannot listen: %s", addr, strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (sa.ss_family == AF_UNIX)
		chmod(((struct sockaddr_un *)&sa)->sun_path, 0600);
	return fd;
}

/* Tells the source why (it logs it), logs it here; returns ret. */
static int refuse(struct wire *w, int ret, const char *why)
{
	log_err("incoming migration: %s; nothing was started", why);
	if (w->fd >= 0 && wire_reply(w, MIG_ERROR, why) == 0)
		wire_linger(w);
	return ret;
}

void migrate_refuse(int fd, const char *why)
{
	struct wire w;

	if (wire_init(&w, fd, 1024, 1000, NULL) == 0)
		refuse(&w, -EINVAL, why);
	wire_free(&w);
	close(fd);
}

int migrate_accept(const char *addr, int sfd, unsigned int timeout_s, char **cfgtext, char *header,
		   size_t hlen)
{
	char err[512];
	struct pollfd p[2];
	struct wire w;
	int lfd, fd, ret;

	lfd = listen_on(addr, err, sizeof(err));
	if (lfd < 0) {
		log_err("%s", err);
		return lfd;
	}
	log_info("waiting for a migration on %s", addr);
	p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	while ((ret = poll(p, 2, -1)) < 0 && errno == EINTR)
		;
	if (ret < 0 || p[1].revents) {
		close(lfd);
		return ret < 0 ? -errno : -EINTR;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ret = -errno;
	close(lfd);
	if (addr[0] == '/' || !strncmp(addr, "unix:", 5))
		unlink(addr[0] == '/' ? addr : addr + 5);
	if (fd < 0) {
		log_err("--incoming %s: accept: %s", addr, strerror(-ret));
		return ret;
	}
	wire_init(&w, fd, 0, (int)timeout_s * 1000, NULL);
	ret = migrate_read_hello(&w, cfgtext, header, hlen, err, sizeof(err));
	if (ret < 0) {
		migrate_refuse(fd, err);
		return ret;
	}
	return fd;
}

static int load_state(void *ctx, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	return snapshot_state_load(ctx, data, len, err, errlen);
}

/* A device's pre-copy data (VFIO): to its load_early op, in order. */
static int load_devdata(void *ctx, const char *name, const uint8_t *data, size_t len, char *err,
			size_t errlen)
{
	struct vm *vm = ctx;
	struct device *d = vm_device_find(vm, name);
	int ret;

	if (!d || !d->state || !d->spec.ops->load_early) {
		snprintf(err, errlen,
			 "device data for %.64s, which this VM does not have (or "
			 "which takes none)",
			 name);
		return -EINVAL;
	}
	vm->m.last_err[0] = 0;
	ret = d->spec.ops->load_early(d->state, data, len);
	if (ret < 0)
		snprintf(err, errlen, "%s", vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
	return ret;
}

int migrate_receive(struct vm *vm, int fd, const char *header, unsigned int timeout_s,
		    struct migrate_figures *fig)
{
	char err[512], why[512];
	uint64_t t0 = machine_now_ns(), t_ready, pages = 0;
	struct device *vfio;
	struct mig_rec go;
	struct wire w;
	int ret;

	ret = wire_init(&w, fd, 4096, (int)timeout_s * 1000, NULL);
	if (ret < 0)
		return ret;
	ret = snapshot_header_check(vm, header, "the migration stream", err, sizeof(err));
	if (ret < 0)
		goto out;
	/* The pages come over the one the new VM was booted with: start from zeros, which
	 * round 0 does not send; in place if guest RAM is mapped for device DMA. */
	vfio = vm_device_find(vm, "vfio");
	mem_discard(&vm->m.mem, vfio && vfio->state);
	ret = migrate_recv_records(
	    &w, &vm->m.mem,
	    &(struct mig_sink){.state = load_state, .devdata = load_devdata, .ctx = vm}, &pages,
	    why, sizeof(why));
	if (ret < 0) {
		snprintf(err, sizeof(err), "%s", why);
		goto out;
	}
	log_info("incoming migration: %llu pages (%.1f MiB) and the state loaded in %.0f ms; "
		 "waiting for the handover",
		 (unsigned long long)pages, (double)w.bytes / (1 << 20),
		 (double)(machine_now_ns() - t0) / 1e6);
	t_ready = machine_now_ns();
	ret = wire_reply(&w, MIG_READY, NULL);
	if (ret == 0)
		ret = wire_read(&w, &go, sizeof(go));
	if (ret == 0 && go.tag != MIG_GO)
		ret = -EPROTO;
	if (ret < 0) {
		snprintf(err, sizeof(err), "the source did not hand the guest over (%s)",
			 ret == -EPROTO ? "a bad record" : wire_strerror(ret));
		goto out;
	}
	ret = vm_devices_activate(vm, true, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, sizeof(err), "cannot take over %.400s", why);
		goto out;
	}
	/* If this reply is lost the source stops anyway (it cannot tell): run. */
	wire_reply(&w, MIG_ACK, NULL);
	*fig = (struct migrate_figures){.state = MIGRATE_RECEIVED,
					.bytes = w.bytes,
					.pages = pages,
					.total_ms = (double)(machine_now_ns() - t0) / 1e6,
					.downtime_ms = (double)(machine_now_ns() - t_ready) / 1e6};
	log_info("incoming migration complete in %.0f ms: the guest runs here (%.0f ms from "
		 "READY to the handover)",
		 fig->total_ms, fig->downtime_ms);
out:
	if (ret < 0)
		refuse(&w, ret, err);
	wire_free(&w);
	close(fd);
	return ret;
}
