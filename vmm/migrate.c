/* Live migration, the source side as the main thread sees it (see migrate.h): the
 * API's start and cancel, and what the migration thread asks of the VM (migrate_send.c
 * is that thread). */
#include "vmm/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/api.h"
#include "vmm/log.h"
#include "vmm/migrate_priv.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

static uint64_t now_ns(void)
{
	return machine_now_ns();
}

int migrate_open(struct migration **out, enum seccomp_mode mode)
{
	struct migration *mig = calloc(1, sizeof(*mig));
	int ret;

	if (!mig)
		return -ENOMEM;
	mig->mode = mode;
	pthread_mutex_init(&mig->lock, NULL);
	pthread_cond_init(&mig->cond, NULL);
	mig->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mig->efd < 0) {
		ret = -errno;
		goto err;
	}
	ret = -pthread_create(&mig->thread, NULL, migrate_thread, mig);
	if (ret == 0) {
		*out = mig;
		return 0;
	}
	close(mig->efd);
err:
	log_err("cannot start the migration thread: %s", strerror(-ret));
	free(mig);
	return ret;
}

void migrate_close(struct migration *mig)
{
	if (!mig)
		return;
	pthread_mutex_lock(&mig->lock);
	mig->quit = true;
	pthread_cond_broadcast(&mig->cond);
	pthread_mutex_unlock(&mig->lock);
	pthread_join(mig->thread, NULL);
	close(mig->efd);
	stream_free(&mig->state);
	free(mig->cfgtext);
	free(mig);
}

int migrate_wake_fd(const struct migration *mig)
{
	return mig->efd;
}

bool migrate_active(struct migration *mig)
{
	bool job;

	if (!mig)
		return false;
	pthread_mutex_lock(&mig->lock);
	job = mig->job;
	pthread_mutex_unlock(&mig->lock);
	return job;
}

bool migrate_cancel(struct migration *mig)
{
	if (!migrate_active(mig))
		return false;
	atomic_store(&mig->cancel, true);
	return true;
}

void migrate_figures(struct migration *mig, struct migrate_figures *out)
{
	pthread_mutex_lock(&mig->lock);
	*out = mig->fig;
	if (mig->job)
		out->total_ms = (double)(now_ns() - mig->t_start) / 1e6;
	pthread_mutex_unlock(&mig->lock);
}

void migrate_set_received(struct migration *mig, const struct migrate_figures *f)
{
	pthread_mutex_lock(&mig->lock);
	mig->fig = *f;
	pthread_mutex_unlock(&mig->lock);
}

int migrate_start(struct migration *mig, struct vm *vm, const struct migrate_params *p,
		  char *cfgtext, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int ret;

	pthread_mutex_lock(&mig->lock);
	ret = mig->job || mig->quit;
	pthread_mutex_unlock(&mig->lock);
	if (ret) {
		snprintf(err, errlen,
			 mig->quit ? "the migration thread is not running (see the log)"
				   : "a migration is already running");
		ret = -EBUSY;
	} else {
		ret = migrate_parse_addr(p->to, &sa, &len, err, errlen);
	}
	if (ret == 0)
		ret = snapshot_check_savable(vm, err, errlen);
	if (ret == 0) {
		ret = vm_dirty_log(vm, true);
		if (ret < 0)
			snprintf(err, errlen, "cannot track dirty pages: %s", strerror(-ret));
	}
	mig->dma_untracked = false;
	for (size_t i = 0; ret == 0 && i < vm->nr_devs; i++) {
		struct device *d = &vm->devs[i];
		bool tracked = true;

		if (!d->state || !d->spec.ops->mig_start)
			continue;
		d->spec.ops->mig_start(d->state, &tracked);
		if (!tracked) {
			log_warn("migration: nothing logs what %s writes into guest memory by DMA "
				 "(no VFIO DMA logging, no IOMMU dirty tracking): all of guest RAM "
				 "is sent again at the "
				 "switchover, which makes the downtime longer",
				 d->spec.name);
			mig->dma_untracked = true;
		}
	}
	if (ret < 0) {
		free(cfgtext);
		return ret;
	}
	pthread_mutex_lock(&mig->lock);
	mig->vm = vm;
	mig->p = *p;
	mig->cfgtext = cfgtext;
	snapshot_header(vm, mig->header, sizeof(mig->header));
	mig->paused = mig->saved = mig->handed = false;
	atomic_store(&mig->cancel, false);
	mig->t_start = now_ns();
	mig->pages = 0;
	mig->fig = (struct migrate_figures){.state = MIGRATE_ACTIVE};
	snprintf(mig->fig.to, sizeof(mig->fig.to), "%s", p->to);
	mig->job = true;
	pthread_cond_broadcast(&mig->cond);
	pthread_mutex_unlock(&mig->lock);
	log_info("migrating to %s (downtime_ms %u, max_rounds %u, timeout %u s)", p->to,
		 p->downtime_ms, p->max_rounds, p->timeout_s);
	return 0;
}

/* REQ_ABORT: the guest goes on here as if nothing happened. */
static void undo(struct migration *mig, char *why, size_t len)
{
	struct vm *vm = mig->vm;

	if (mig->handed && vm_devices_activate(vm, true, why, len) < 0) {
		/* Somebody took a disk meanwhile: running on could corrupt it. */
		log_err("migration failed and a disk could not be taken back (%s); stopping "
			"the VM so that no image is written by two",
			why);
		machine_request_stop(&vm->m, VM_STOP_MIGRATE_UNSURE);
	}
	if (mig->saved)
		snapshot_thaw(vm);
	if (mig->paused)
		vcpus_resume(vm->vcpus, vm->nr_vcpus);
	mig->paused = mig->saved = mig->handed = false;
}

static int serve(struct migration *mig, enum mig_req req, bool abandoning)
{
	struct vm *vm = mig->vm;
	char why[512] = "";
	int ret = 0;

	switch (req) {
	case REQ_SWITCHOVER:
		if (abandoning)
			return -ECANCELED;
		vcpus_pause(vm->vcpus, vm->nr_vcpus);
		mig->paused = true;
		mig->state.len = 0;
		mig->state.err = 0;
		ret = snapshot_state(vm, &mig->state, why, sizeof(why));
		mig->saved = true; /* frozen even when it failed */
		break;
	case REQ_HANDOVER:
		if (abandoning)
			return -ECANCELED;
		ret = vm_devices_activate(vm, false, why, sizeof(why));
		mig->handed = ret == 0;
		break;
	case REQ_DONE:
	case REQ_UNSURE:
		machine_request_stop(&vm->m,
				     req == REQ_DONE ? VM_STOP_MIGRATED : VM_STOP_MIGRATE_UNSURE);
		break;
	case REQ_ABORT:
		undo(mig, why, sizeof(why));
		break;
	case REQ_NONE:
		break;
	}
	if (ret < 0) {
		pthread_mutex_lock(&mig->lock);
		snprintf(mig->fig.why, sizeof(mig->fig.why), "%s", why);
		pthread_mutex_unlock(&mig->lock);
	}
	return ret;
}

/* The end of a migration: figures, log and event. */
static void finish(struct migration *mig, enum mig_req req, struct api *api)
{
	struct migrate_figures *f = &mig->fig;

	vm_dirty_log(mig->vm, false);
	for (size_t i = 0; i < mig->vm->nr_devs; i++)
		if (mig->vm->devs[i].state && mig->vm->devs[i].spec.ops->mig_end)
			mig->vm->devs[i].spec.ops->mig_end(mig->vm->devs[i].state);
	pthread_mutex_lock(&mig->lock);
	f->state = req == REQ_ABORT ? MIGRATE_FAILED : MIGRATE_COMPLETED;
	f->total_ms = (double)(now_ns() - mig->t_start) / 1e6;
	if (req != REQ_ABORT)
		f->downtime_ms = (double)(now_ns() - mig->t_stop) / 1e6;
	pthread_mutex_unlock(&mig->lock);
	if (req == REQ_ABORT) {
		log_warn("migration to %s failed: %s; the guest runs on here", f->to, f->why);
		api_event(api, "MIGRATION_FAILED",
			  json_pack("{s:s, s:s}", "to", f->to, "error", f->why));
		return;
	}
	if (req == REQ_UNSURE) {
		log_err("migration to %s: %s", f->to, f->why);
		api_event(api, "MIGRATION_FAILED",
			  json_pack("{s:s, s:s, s:b}", "to", f->to, "error", f->why, "stopped", 1));
		return;
	}
	log_info("migrated to %s: %u rounds, %.1f MiB in %llu pages, downtime %.0f ms, total "
		 "%.0f ms",
		 f->to, f->rounds, (double)f->bytes / (1 << 20), (unsigned long long)f->pages,
		 f->downtime_ms, f->total_ms);
	api_event(api, "MIGRATION_COMPLETED",
		  json_pack("{s:s, s:i, s:I, s:f, s:f}", "to", f->to, "rounds", f->rounds, "bytes",
			    (json_int_t)f->bytes, "downtime_ms", f->downtime_ms, "total_ms",
			    f->total_ms));
}

static void service(struct migration *mig, struct api *api, bool abandoning)
{
	uint64_t n;
	enum mig_req req;
	int ret;

	if (read(mig->efd, &n, sizeof(n)) < 0 && !abandoning)
		return;
	pthread_mutex_lock(&mig->lock);
	req = mig->req_done ? REQ_NONE : mig->req;
	pthread_mutex_unlock(&mig->lock);
	if (req == REQ_NONE)
		return;
	ret = serve(mig, req, abandoning);
	if (req == REQ_DONE || req == REQ_UNSURE || req == REQ_ABORT)
		finish(mig, req, api);
	pthread_mutex_lock(&mig->lock);
	mig->req_ret = ret;
	mig->req_done = true;
	pthread_cond_broadcast(&mig->cond);
	pthread_mutex_unlock(&mig->lock);
}

void migrate_service(struct migration *mig, struct api *api)
{
	service(mig, api, false);
}

void migrate_abandon(struct migration *mig, struct api *api)
{
	if (!mig)
		return;
	atomic_store(&mig->cancel, true);
	pthread_mutex_lock(&mig->lock);
	while (mig->job) {
		if (mig->req != REQ_NONE && !mig->req_done) {
			pthread_mutex_unlock(&mig->lock);
			service(mig, api, true);
			pthread_mutex_lock(&mig->lock);
			continue;
		}
		pthread_cond_wait(&mig->cond, &mig->lock);
	}
	pthread_mutex_unlock(&mig->lock);
}
