/* Live migration, the source's migration thread (see migrate.h): it connects, sends
 * the hello and guest RAM in rounds, and asks the main thread for the switchover, the
 * handover and the end; everything it reads of the VM is guest memory, the dirty logs
 * and the devices' pre-copy data. */
#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zlib.h>

#include "vmm/log.h"
#include "vmm/migrate_priv.h"
#include "vmm/migrate_wire.h"
#include "vmm/vm.h"

#define WIRE_BUF (1u << 20)

static uint64_t now_ns(void)
{
	return machine_now_ns();
}

/* Asks the main thread for req and waits for its answer. */
static int ask_main(struct migration *mig, enum mig_req req)
{
	uint64_t one = 1;
	int ret;

	pthread_mutex_lock(&mig->lock);
	mig->req = req;
	mig->req_done = false;
	pthread_cond_broadcast(&mig->cond); /* migrate_abandon waits on it */
	pthread_mutex_unlock(&mig->lock);
	if (write(mig->efd, &one, sizeof(one)) != sizeof(one))
		return -EIO;
	pthread_mutex_lock(&mig->lock);
	while (!mig->req_done)
		pthread_cond_wait(&mig->cond, &mig->lock);
	ret = mig->req_ret;
	mig->req = REQ_NONE;
	pthread_mutex_unlock(&mig->lock);
	return ret;
}

static int connect_to(const char *to, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	struct pollfd p;
	socklen_t len, elen = sizeof(int);
	int fd, ret, soerr = 0;

	if (migrate_parse_addr(to, &sa, &len, err, errlen) < 0)
		return -EINVAL;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot make a socket: %s", strerror(-ret));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		ret = -errno;
		goto fail;
	}
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	ret = poll(&p, 1, timeout_ms);
	if (ret == 0) {
		ret = -ETIMEDOUT;
		goto fail;
	}
	if (ret < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0) {
		ret = -errno;
		goto fail;
	}
	if (soerr == 0)
		return fd;
	ret = -soerr;
fail:
	snprintf(err, errlen,
		 "cannot connect to %s: %s (is `minivmm --incoming %s` running there?)", to,
		 strerror(-ret), to);
	close(fd);
	return ret;
}

/* Sending failed with ret: the destination's own reason when it gave one. */
static void send_failed(struct migration *mig, struct wire *w, int ret, char *err, size_t errlen)
{
	char msg[MIG_MAX_MSG + 1];
	uint32_t code;

	w->timeout_ms = 2000;
	w->cancel = NULL;
	if ((ret == -EREMOTEIO || ret == -EPIPE || ret == -ECONNRESET) &&
	    wire_read_reply(w, &code, msg, sizeof(msg)) == 0 && code == MIG_ERROR)
		snprintf(err, errlen, "the destination refused the guest: %.400s", msg);
	else
		snprintf(err, errlen, "sending to %s: %s", mig->p.to, wire_strerror(ret));
}

static void fig_update(struct migration *mig, struct wire *w);

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned int i = 0; i < MIG_PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Sends pages [first, first + n) of region r (RAM offset base): runs of data pages as
 * PAGES, zero pages as ZEROS unless skip_zero (round 0: the destination's RAM starts
 * zeroed). */
static int send_pages(struct migration *mig, struct wire *w, int r, uint64_t base, uint64_t first,
		      uint64_t n, bool skip_zero)
{
	const struct mem_region *reg = &mig->vm->m.mem.regions[r];
	uint64_t i = 0;
	int ret = 0;

	while (i < n && ret == 0) {
		const uint8_t *p = reg->hva + (first + i) * MIG_PAGE;
		bool zero = page_zero(p);
		uint64_t run = 1;

		while (i + run < n && run < (zero ? UINT32_MAX : MIG_MAX_RUN) &&
		       page_zero(p + run * MIG_PAGE) == zero)
			run++;
		if (!(zero && skip_zero)) {
			ret = wire_rec(w, zero ? MIG_ZEROS : MIG_PAGES, (uint32_t)run,
				       base + (first + i) * MIG_PAGE);
			if (ret == 0 && !zero)
				ret = wire_write(w, p, run * MIG_PAGE);
			mig->pages += run;
			if ((mig->pages ^ (mig->pages - run)) >> 10)
				fig_update(mig, w); /* info's figures every 4 MiB or so */
		}
		i += run;
	}
	return ret;
}

/* Every page of guest RAM that holds data: round 0 (zero pages skipped: the
 * destination starts from zeros), or the switchover when device DMA is not tracked
 * (zero pages sent too). The memfd's holes were never touched: they are skipped
 * without reading (which would allocate them). */
static int send_all(struct migration *mig, struct wire *w, bool skip_zero)
{
	const struct guest_mem *mem = &mig->vm->m.mem;
	uint64_t base = 0;
	int ret = 0;

	for (int r = 0; r < mem->nr_regions && ret == 0; r++) {
		uint64_t size = mem->regions[r].size, off = 0;

		uint64_t data, hole;

		while (ret == 0 && mem_data_extent(mem, base + off, base + size, &data, &hole)) {
			ret = send_pages(mig, w, r, base, (data - base) / MIG_PAGE,
					 (hole - data) / MIG_PAGE, skip_zero);
			off = hole - base;
		}
		base += size;
	}
	return ret;
}

/* Adds the pages written since the last call, KVM's log and the VMM's together, to the
 * bitmaps (one per region, holding what is not sent yet); returns how many they hold. */
static int64_t collect_dirty(struct migration *mig, uint64_t **bm)
{
	struct guest_mem *mem = &mig->vm->m.mem;
	int64_t count = 0;

	for (int r = 0; r < mem->nr_regions; r++) {
		uint64_t pages = mem->regions[r].size / MIG_PAGE;
		struct kvm_dirty_log log = {.slot = (uint32_t)r, .dirty_bitmap = mig->kvm_bm};

		if (ioctl(mig->vm->m.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -errno;
		for (uint64_t wd = 0; wd < pages / 64 + 1; wd++)
			bm[r][wd] |= mig->kvm_bm[wd];
		mem_dirty_take(mem, r, bm[r]);
	}
	/* And what devices wrote by DMA, where they log it. */
	for (size_t i = 0; i < mig->vm->nr_devs; i++) {
		struct device *d = &mig->vm->devs[i];
		int ret;

		if (d->state && d->spec.ops->mig_dirty &&
		    (ret = d->spec.ops->mig_dirty(d->state, mem, bm)) < 0)
			return ret;
	}
	for (int r = 0; r < mem->nr_regions; r++)
		for (uint64_t wd = 0; wd < mem->regions[r].size / MIG_PAGE / 64 + 1; wd++)
			count += __builtin_popcountll(bm[r][wd]);
	return count;
}

/* The devices' pre-copy data readable now, a DEVDATA record each. */
static int send_devdata(struct migration *mig, struct wire *w)
{
	struct device_stream out = {0};
	int ret = 0;

	for (size_t i = 0; i < mig->vm->nr_devs && ret == 0; i++) {
		struct device *d = &mig->vm->devs[i];
		uint32_t nl = (uint32_t)strlen(d->spec.name), crc;

		if (!d->state || !d->spec.ops->mig_precopy)
			continue;
		out.len = 0;
		ret = d->spec.ops->mig_precopy(d->state, &out);
		if (ret == 0 && out.err)
			ret = out.err;
		if (ret < 0) {
			log_warn("migration: %s: its pre-copy data: %s", d->spec.name,
				 strerror(-ret));
			break;
		}
		if (!out.len)
			continue;
		crc = (uint32_t)crc32(crc32(0, (const Bytef *)d->spec.name, nl), out.data,
				      (uInt)out.len);
		ret = wire_rec(w, MIG_DEVDATA, nl, out.len);
		if (ret == 0)
			ret = wire_write(w, d->spec.name, nl);
		if (ret == 0)
			ret = wire_write(w, out.data, out.len);
		if (ret == 0)
			ret = wire_write(w, &crc, sizeof(crc));
		log_info("migration to %s: %s: %zu bytes of device data sent in pre-copy",
			 mig->p.to, d->spec.name, out.len);
	}
	stream_free(&out);
	return ret;
}

static int send_dirty(struct migration *mig, struct wire *w, uint64_t **bm)
{
	const struct guest_mem *mem = &mig->vm->m.mem;
	uint64_t base = 0;
	int ret = 0;

	for (int r = 0; r < mem->nr_regions && ret == 0; r++) {
		uint64_t pages = mem->regions[r].size / MIG_PAGE;

		for (uint64_t pg = 0; pg < pages && ret == 0;) {
			uint64_t n = 0;

			if (!(bm[r][pg / 64] >> (pg % 64) & 1)) {
				pg++;
				continue;
			}
			while (pg + n < pages && bm[r][(pg + n) / 64] >> ((pg + n) % 64) & 1)
				n++;
			ret = send_pages(mig, w, r, base, pg, n, false);
			pg += n;
		}
		memset(bm[r], 0, (pages / 64 + 1) * 8);
		base += mem->regions[r].size;
	}
	return ret;
}

static void fig_update(struct migration *mig, struct wire *w)
{
	pthread_mutex_lock(&mig->lock);
	mig->fig.bytes = w->bytes + w->out_len;
	mig->fig.pages = mig->pages;
	mig->fig.total_ms = (double)(now_ns() - mig->t_start) / 1e6;
	pthread_mutex_unlock(&mig->lock);
}

/* Pre-copy rounds until what is left fits the downtime limit or the round limit is
 * reached; the bitmaps then hold nothing unsent except what the next collect finds. */
static int precopy(struct migration *mig, struct wire *w, uint64_t **bm, char *err, size_t errlen)
{
	uint64_t t0 = now_ns(), b0 = w->bytes;
	int ret = send_all(mig, w, true);

	if (ret == 0)
		ret = send_devdata(mig, w);
	for (;;) {
		double secs, bw, est_ms;
		int64_t dirty;

		if (ret == 0)
			ret = wire_flush(w);
		if (ret < 0) {
			send_failed(mig, w, ret, err, errlen);
			return ret;
		}
		dirty = collect_dirty(mig, bm);
		if (dirty < 0) {
			snprintf(err, errlen, "KVM_GET_DIRTY_LOG: %s", strerror((int)-dirty));
			return (int)dirty;
		}
		secs = (double)(now_ns() - t0) / 1e9;
		bw = secs > 0 ? (double)(w->bytes - b0) / secs : 0;
		est_ms = bw > 0 ? (double)dirty * MIG_PAGE / bw * 1e3 : 0;
		pthread_mutex_lock(&mig->lock);
		mig->fig.rounds++;
		mig->fig.dirty = (uint64_t)dirty;
		mig->fig.mbps = bw / (1 << 20);
		pthread_mutex_unlock(&mig->lock);
		fig_update(mig, w);
		log_info("migration to %s: round %u sent %.1f MiB in %.0f ms (%.0f MiB/s); %lld "
			 "pages dirty, about %.0f ms to send",
			 mig->p.to, mig->fig.rounds, (double)(w->bytes - b0) / (1 << 20),
			 secs * 1e3, bw / (1 << 20), (long long)dirty, est_ms);
		if (est_ms <= mig->p.downtime_ms || bw == 0)
			return 0;
		if (mig->fig.rounds >= mig->p.max_rounds) {
			log_warn(
			    "migration to %s: the guest dirties memory faster than it can be "
			    "sent; stopping it after %u rounds (max_rounds) with about %.0f ms "
			    "of pages left (downtime_ms is %u)",
			    mig->p.to, mig->fig.rounds, est_ms, mig->p.downtime_ms);
			return 0;
		}
		t0 = now_ns();
		b0 = w->bytes;
		ret = send_dirty(mig, w, bm);
		if (ret == 0)
			ret = send_devdata(mig, w);
	}
}

/* The vCPUs are paused and the state saved: the last pages, the state, READY. */
static int stop_and_copy(struct migration *mig, struct wire *w, uint64_t **bm, char *err,
			 size_t errlen)
{
	char msg[MIG_MAX_MSG + 1];
	int64_t dirty = collect_dirty(mig, bm);
	uint32_t code, crc;
	int ret;

	if (dirty < 0) {
		snprintf(err, errlen, "KVM_GET_DIRTY_LOG: %s", strerror((int)-dirty));
		return (int)dirty;
	}
	if (mig->dma_untracked) {
		/* A device may have written anywhere since round 0: all of RAM again. */
		for (int r = 0; r < mig->vm->m.mem.nr_regions; r++)
			memset(bm[r], 0, (mig->vm->m.mem.regions[r].size / MIG_PAGE / 64 + 1) * 8);
		ret = send_all(mig, w, false);
	} else {
		ret = send_dirty(mig, w, bm);
	}
	crc = (uint32_t)crc32(0, mig->state.data, (uInt)mig->state.len);
	if (ret == 0)
		ret = wire_rec(w, MIG_STATE, 0, mig->state.len);
	if (ret == 0)
		ret = wire_write(w, mig->state.data, mig->state.len);
	if (ret == 0)
		ret = wire_write(w, &crc, sizeof(crc));
	if (ret == 0)
		ret = wire_rec(w, MIG_END, 0, 0);
	if (ret == 0)
		ret = wire_flush(w);
	fig_update(mig, w);
	if (ret == 0)
		ret = wire_read_reply(w, &code, msg, sizeof(msg));
	if (ret < 0) {
		send_failed(mig, w, ret, err, errlen);
		return ret;
	}
	if (code != MIG_READY) {
		snprintf(err, errlen, "the destination refused the guest: %.400s",
			 code == MIG_ERROR ? msg : "an unknown reply");
		return -EPROTO;
	}
	return 0;
}

/* One migration; returns the request that ends it (DONE, UNSURE or ABORT). */
static enum mig_req migrate_one(struct migration *mig, char *err, size_t errlen)
{
	int fd, ret, tmo = (int)mig->p.timeout_s * 1000;
	uint32_t hl = (uint32_t)strlen(mig->header), cl = (uint32_t)strlen(mig->cfgtext), code;
	const struct guest_mem *mem = &mig->vm->m.mem;
	uint64_t *bm[MEM_MAX_REGIONS] = {NULL};
	char msg[MIG_MAX_MSG + 1];
	enum mig_req end = REQ_ABORT;
	uint64_t largest = 0;
	struct wire w;

	fd = connect_to(mig->p.to, tmo, err, errlen);
	if (fd < 0)
		return REQ_ABORT;
	ret = wire_init(&w, fd, WIRE_BUF, tmo, &mig->cancel);
	w.peer_quiet = true;
	for (int r = 0; r < mem->nr_regions && ret == 0; r++) {
		bm[r] = calloc(mem->regions[r].size / MIG_PAGE / 64 + 1, 8);
		if (!bm[r])
			ret = -ENOMEM;
		if (mem->regions[r].size > largest)
			largest = mem->regions[r].size;
	}
	mig->kvm_bm = calloc(largest / MIG_PAGE / 64 + 1, 8);
	if (!mig->kvm_bm)
		ret = -ENOMEM;
	if (ret < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = wire_write(&w, MIG_MAGIC, 8);
	if (ret == 0)
		ret = wire_write(&w, &hl, 4);
	if (ret == 0)
		ret = wire_write(&w, mig->header, hl);
	if (ret == 0)
		ret = wire_write(&w, &cl, 4);
	if (ret == 0)
		ret = wire_write(&w, mig->cfgtext, cl);
	if (ret < 0) {
		send_failed(mig, &w, ret, err, errlen);
		goto out;
	}
	if (precopy(mig, &w, bm, err, errlen) < 0)
		goto out;
	mig->t_stop = now_ns();
	pthread_mutex_lock(&mig->lock);
	mig->fig.state = MIGRATE_STOPPED;
	pthread_mutex_unlock(&mig->lock);
	ret = ask_main(mig, REQ_SWITCHOVER);
	if (ret < 0) {
		snprintf(err, errlen, "cannot save the VM's state: %.400s", mig->fig.why);
		goto out;
	}
	if (stop_and_copy(mig, &w, bm, err, errlen) < 0)
		goto out;
	ret = ask_main(mig, REQ_HANDOVER);
	if (ret < 0) {
		snprintf(err, errlen, "cannot hand the disks over: %.400s", mig->fig.why);
		goto out;
	}
	ret = wire_rec(&w, MIG_GO, 0, 0);
	if (ret == 0)
		ret = wire_flush(&w);
	if (ret < 0) {
		snprintf(err, errlen, "sending the handover to %s: %s", mig->p.to,
			 wire_strerror(ret));
		goto out;
	}
	/* From here the destination may run the guest: this side must not any more. */
	end = REQ_UNSURE;
	w.cancel = NULL;
	ret = wire_read_reply(&w, &code, msg, sizeof(msg));
	if (ret == 0 && code == MIG_ERROR) {
		/* It says it will not run the guest (it cannot take a disk): take it back. */
		snprintf(err, errlen, "the destination could not take the guest over: %.400s", msg);
		end = REQ_ABORT;
		goto out;
	}
	if (ret < 0 || code != MIG_ACK) {
		snprintf(err, errlen,
			 "the destination took the handover but did not confirm it (%.300s); the "
			 "guest runs there or nowhere: this side stops so that it never runs "
			 "twice",
			 ret < 0 ? wire_strerror(ret) : msg);
		goto out;
	}
	end = REQ_DONE;
out:
	fig_update(mig, &w);
	for (int r = 0; r < MEM_MAX_REGIONS; r++)
		free(bm[r]);
	free(mig->kvm_bm);
	mig->kvm_bm = NULL;
	wire_free(&w);
	close(fd);
	return end;
}

void *migrate_thread(void *arg)
{
	struct migration *mig = arg;
	int ret = seccomp_install(mig->mode, SECCOMP_THREAD_MIGRATE);

	pthread_mutex_lock(&mig->lock);
	if (ret < 0) {
		log_err("migration thread: cannot install its seccomp filter: %s; migration "
			"is not possible",
			strerror(-ret));
		mig->quit = true;
	}
	while (!mig->quit) {
		char err[512] = "";
		enum mig_req end;

		if (!mig->job) {
			pthread_cond_wait(&mig->cond, &mig->lock);
			continue;
		}
		pthread_mutex_unlock(&mig->lock);
		end = migrate_one(mig, err, sizeof(err));
		pthread_mutex_lock(&mig->lock);
		snprintf(mig->fig.why, sizeof(mig->fig.why), "%s", err);
		pthread_mutex_unlock(&mig->lock);
		ask_main(mig, end);
		pthread_mutex_lock(&mig->lock);
		mig->job = false;
		free(mig->cfgtext);
		mig->cfgtext = NULL;
		pthread_cond_broadcast(&mig->cond);
	}
	pthread_cond_broadcast(&mig->cond);
	pthread_mutex_unlock(&mig->lock);
	return NULL;
}
