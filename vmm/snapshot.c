/* Snapshot and restore (see snapshot.h). */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/arch.h"
#include "devices/stream.h"
#include "vmm/vm.h"

#define PAGE	  4096
#define STATE_MAX (64u << 20) /* far above what any VM's state takes */

int snapshot_next(const uint8_t *data, size_t len, size_t *pos, uint32_t *tag,
		  const uint8_t **payload, uint32_t *plen, char *err, size_t errlen)
{
	uint32_t hdr[2];

	if (*pos == len)
		return 0;
	if (len - *pos < sizeof(hdr)) {
		snprintf(err, errlen, "state: a record header cut short at byte %zu", *pos);
		return -EINVAL;
	}
	memcpy(hdr, data + *pos, sizeof(hdr));
	if (hdr[1] > len - *pos - sizeof(hdr)) {
		snprintf(err, errlen, "state: a record at byte %zu claims %u bytes, %zu are left",
			 *pos, hdr[1], len - *pos - sizeof(hdr));
		return -EINVAL;
	}
	*tag = hdr[0];
	*plen = hdr[1];
	*payload = data + *pos + sizeof(hdr);
	*pos += sizeof(hdr) + hdr[1];
	return 1;
}

static void record(struct device_stream *s, uint32_t tag, const void *a, size_t alen, const void *b,
		   size_t blen)
{
	uint32_t hdr[2] = {tag, (uint32_t)(alen + blen)};

	stream_put(s, hdr, sizeof(hdr));
	stream_put(s, a, alen);
	if (blen)
		stream_put(s, b, blen);
}

static int write_file(const char *dir, const char *name, const void *p, size_t len, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len) {
		ret = -errno;
		snprintf(err, errlen, "snapshot: cannot write %s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Guest RAM, regions back to back; a page of zeros is left a hole. Pages the guest
 * never wrote (the memfd's holes) are not even read: reading them would allocate them,
 * and a snapshot would leave the VM holding all of its RAM. */
static int write_memory(struct vm *vm, const char *dir, char *err, size_t errlen)
{
	static const uint8_t zero[PAGE];
	char path[PATH_MAX];
	uint64_t off = 0, data, hole;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/memory", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	for (int r = 0; r < vm->m.mem.nr_regions; r++) {
		const struct mem_region *reg = &vm->m.mem.regions[r];

		for (uint64_t at = off;
		     mem_data_extent(&vm->m.mem, at, off + reg->size, &data, &hole); at = hole)
			for (uint64_t p = data; p < hole; p += PAGE)
				if (memcmp(reg->hva + (p - off), zero, PAGE) &&
				    pwrite(fd, reg->hva + (p - off), PAGE, (off_t)p) != PAGE)
					goto fail;
		off += reg->size;
	}
	if (ftruncate(fd, (off_t)off) < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	ret = -errno;
	snprintf(err, errlen, "snapshot: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

int snapshot_check_savable(const struct vm *vm, char *err, size_t errlen)
{
	for (size_t i = 0; i < vm->nr_devs; i++) {
		const struct device *d = &vm->devs[i];
		const char *why = NULL;

		if (!d->state || d->spec.ops->stateless)
			continue;
		if (!d->spec.ops->save)
			why = "this version cannot save its kind";
		else if (d->spec.ops->unmigratable)
			why = d->spec.ops->unmigratable(d->state);

		if (why && d->spec.ops->hotplug) {
			snprintf(err, errlen,
				 "%s (%s) cannot be saved or migrated: %s; remove it first "
				 "(remove-device), and add it back after the restore or on the "
				 "destination (add-device)",
				 d->spec.name, d->spec.ops->kind, why);
			return -ENOTSUP;
		}
		if (why) { /* it cannot be removed while the guest runs either */
			snprintf(
			    err, errlen,
			    "%s (%s) cannot be saved or migrated: %s, and it cannot be removed "
			    "while the guest runs; a VM with it can only be shut down and "
			    "booted again",
			    d->spec.name, d->spec.ops->kind, why);
			return -ENOTSUP;
		}
	}
	return 0;
}

void snapshot_header(const struct vm *vm, char *buf, size_t len)
{
	char cpu[SNAPSHOT_HEADER_MAX / 2] = "unknown";
	int sv;
	const char *arch = arch_state_name(&sv);

	/* Without it a restore is refused ("its CPU features are unreadable"). */
	if (arch_cpu_features(vm->kvm_fd, cpu, sizeof(cpu)) < 0)
		snprintf(cpu, sizeof(cpu), "unknown");
	snprintf(buf, len, "minivmm-snapshot %d\narch %s %d\nvcpus %u\nmemory %llu\ncpu %s\n",
		 SNAPSHOT_VERSION, arch, sv, vm->nr_vcpus, (unsigned long long)vm->m.mem.ram_size,
		 cpu);
}

int snapshot_state(struct vm *vm, struct device_stream *st, char *err, size_t errlen)
{
	struct device_stream dev = {0}, recs = {0};
	void *buf = NULL;
	int ret = 0;

	/* Every device stops reaching others (P2P) before any of them stops (VFIO). */
	for (size_t i = 0; i < vm->nr_devs && ret == 0; i++) {
		struct device *d = &vm->devs[i];

		if (d->state && d->spec.ops->quiesce && (ret = d->spec.ops->quiesce(d->state)) < 0)
			snprintf(err, errlen, "%s could not be quiesced: %s", d->spec.name,
				 strerror(-ret));
	}
	/* Then each is saved, which stops it (no more DMA, no more interrupts), before
	 * KVM's state is read: an interrupt raised after its LAPIC was read would be lost.
	 * Their records still follow the VM's and the vCPUs' in the state. */
	for (size_t i = 0; i < vm->nr_devs && ret == 0; i++) {
		struct device *d = &vm->devs[i];

		if (!d->state || d->spec.ops->stateless)
			continue;
		dev.len = 0;
		ret = d->spec.ops->save(d->state, &dev);
		if (ret == 0)
			record(&recs, SNAP_DEVICE, d->spec.name, strlen(d->spec.name) + 1, dev.data,
			       dev.len);
		else
			snprintf(err, errlen, "%s could not be saved: %s", d->spec.name,
				 strerror(-ret));
	}
	if (ret == 0 && !(buf = calloc(1, arch_vm_state_size() + arch_vcpu_state_size())))
		ret = -ENOMEM;
	vm->m.last_err[0] = 0; /* the arch's own reason, where it gives one */
	if (ret == 0 && (ret = arch_vm_save(vm, buf)) == 0)
		record(st, SNAP_VM, buf, arch_vm_state_size(), NULL, 0);
	for (unsigned int i = 0; buf && ret == 0 && i < vm->nr_vcpus; i++) {
		uint32_t id = i;

		ret = arch_vcpu_save(vm, &vm->vcpus[i], buf);
		if (ret == 0)
			record(st, SNAP_VCPU, &id, sizeof(id), buf, arch_vcpu_state_size());
	}
	if (ret < 0 && buf)
		snprintf(err, errlen, "cannot read the VM's state from KVM: %s",
			 vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
	if (ret == 0 && recs.len)
		stream_put(st, recs.data, recs.len);
	free(buf);
	stream_free(&dev);
	if (ret == 0 && (st->err || recs.err)) {
		ret = st->err ? st->err : recs.err;
		snprintf(err, errlen, "%s", strerror(-ret));
	}
	stream_free(&recs);
	return ret;
}

void snapshot_thaw(struct vm *vm)
{
	for (size_t i = 0; i < vm->nr_devs; i++)
		if (vm->devs[i].state && vm->devs[i].spec.ops->thaw)
			vm->devs[i].spec.ops->thaw(vm->devs[i].state);
}

int snapshot_save(struct vm *vm, const struct config *cfg, const char *dir, char *err,
		  size_t errlen)
{
	struct device_stream st = {0};
	char head[SNAPSHOT_HEADER_MAX], *cfgtext = NULL, why[512];
	struct config *copy = NULL;
	size_t cfglen = 0;
	FILE *f;
	int ret;

	ret = snapshot_check_savable(vm, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "snapshot: %s", why);
		return ret;
	}
	ret = snapshot_state(vm, &st, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "snapshot: %s", why);
		goto out;
	}
	f = open_memstream(&cfgtext, &cfglen);
	copy = malloc(sizeof(*copy));
	if (!f || !copy) {
		ret = -ENOMEM;
		if (f)
			fclose(f);
		goto out;
	}
	*copy = *cfg;
	vm_config_slots(vm, copy); /* restored with the slots the guest knows */
	config_print(copy, f);
	fclose(f);
	snapshot_header(vm, head, sizeof(head));
	/* The state's length and CRC-32: a restore checks them before it changes anything. */
	snprintf(head + strlen(head), sizeof(head) - strlen(head), "state %zu %08lx\n", st.len,
		 crc32(0, st.data, (uInt)st.len));
	ret = write_file(dir, "config.ini", cfgtext, cfglen, err, errlen);
	if (ret == 0)
		ret = write_file(dir, "state", st.data, st.len, err, errlen);
	if (ret == 0)
		ret = write_memory(vm, dir, err, errlen);
	/* The header last: a snapshot cut short by a crash has none and is refused. */
	if (ret == 0)
		ret = write_file(dir, "header", head, strlen(head), err, errlen);
out:
	/* The devices run again (they stop touching guest memory when saved). */
	snapshot_thaw(vm);
	free(copy);
	free(cfgtext);
	stream_free(&st);
	return ret;
}

/* Reads dir/name whole (at most max bytes) into a new buffer. */
static int read_file(const char *dir, const char *name, size_t max, uint8_t **out, size_t *len,
		     char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "snapshot %s: no %s (%s); not a complete snapshot", dir, name,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "snapshot %s: %s is %lld bytes, more than a snapshot's", dir,
			 name, (long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	*out = malloc((size_t)st.st_size + 1);
	n = *out ? read(fd, *out, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(*out);
		snprintf(err, errlen, "snapshot %s: cannot read %s", dir, name);
		return -EIO;
	}
	(*out)[n] = 0;
	*len = (size_t)n;
	return 0;
}

/* The value of the header's line "KEY ..." (to the end of that line), or NULL. */
static const char *header_line(const char *text, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *l = text; *l; l += strcspn(l, "\n"), l += *l == '\n')
		if (!strncmp(l, key, klen) && l[klen] == ' ') {
			snprintf(buf, len, "%.*s", (int)strcspn(l + klen + 1, "\n"), l + klen + 1);
			return buf;
		}
	return NULL;
}

/* A guest that saw CPU features this host lacks is refused (arch/ARCH/cpufeat.c).
 * kvm_fd < 0: only that the line is there (the parsers stay pure for the fuzz targets;
 * the caller checks against this host where it has /dev/kvm). */
static int check_cpu(int kvm_fd, const char *text, const char *what, char *err, size_t errlen)
{
	char line[SNAPSHOT_HEADER_MAX], why[512];
	int ret;

	if (!header_line(text, "cpu", line, sizeof(line))) {
		snprintf(err, errlen, "%s: not from minivmm (no cpu line in its header)", what);
		return -EINVAL;
	}
	if (kvm_fd < 0)
		return 0;
	ret = arch_cpu_check(kvm_fd, line, why, sizeof(why));
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", what, why);
	return ret;
}

int snapshot_cpu_check(const char *header, const char *what, char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), ret;

	if (fd < 0) /* the VM cannot be made either; vm_create says why */
		return 0;
	ret = check_cpu(fd, header, what, err, errlen);
	close(fd);
	return ret;
}

/* my_vcpus 0: the vCPUs and memory are not checked; *mem_out (if given) takes the
 * header's memory. */
static int header_check(int kvm_fd, unsigned int my_vcpus, uint64_t my_mem, const char *text,
			const char *what, uint64_t *mem_out, char *err, size_t errlen)
{
	unsigned int vcpus = 0;
	int version = 0, sv = 0, my_sv;
	const char *my_arch = arch_state_name(&my_sv);
	unsigned long long mem = 0;
	char arch[32] = "";

	if (sscanf(text, "minivmm-snapshot %d\narch %31s %d\nvcpus %u\nmemory %llu", &version, arch,
		   &sv, &vcpus, &mem) != 5) {
		snprintf(err, errlen, "%s: not from minivmm (bad header)", what);
		return -EINVAL;
	}
	if (version != SNAPSHOT_VERSION || strcmp(arch, my_arch) || sv != my_sv) {
		snprintf(err, errlen,
			 "%s: made by another version (snapshot %d, %s state %d; this minivmm "
			 "reads snapshot %d, %s state %d)",
			 what, version, arch, sv, SNAPSHOT_VERSION, my_arch, my_sv);
		return -EINVAL;
	}
	if (my_vcpus && (vcpus != my_vcpus || mem != my_mem)) {
		snprintf(err, errlen,
			 "%s: %u vCPUs and %llu bytes of memory, but its config makes %u and "
			 "%llu; it was changed",
			 what, vcpus, mem, my_vcpus, (unsigned long long)my_mem);
		return -EINVAL;
	}
	if (mem_out)
		*mem_out = mem;
	return check_cpu(kvm_fd, text, what, err, errlen);
}

int snapshot_header_check(const struct vm *vm, const char *text, const char *what, char *err,
			  size_t errlen)
{
	if (!vm)
		return header_check(-1, 0, 0, text, what, NULL, err, errlen);
	return header_check(vm->kvm_fd, vm->nr_vcpus, vm->m.mem.ram_size, text, what, NULL, err,
			    errlen);
}

/* The header of dir checked (against vcpus and mem where vcpus is not 0), then the
 * state file against the header's length and CRC-32, which *state and *len then hold
 * (NULL state: checked, not kept), and the memory file's size. */
static int check_files(int kvm_fd, unsigned int vcpus, uint64_t mem, const char *dir,
		       uint8_t **state, size_t *len, char *err, size_t errlen)
{
	char what[PATH_MAX + 16], line[64], path[PATH_MAX];
	unsigned long long want_len = 0;
	unsigned long crc = 0, got;
	uint8_t *text, *data = NULL;
	struct stat st;
	size_t n = 0;
	int ret = read_file(dir, "header", 4096, &text, &n, err, errlen);

	if (ret < 0)
		return ret;
	snprintf(what, sizeof(what), "snapshot %s", dir);
	ret = header_check(kvm_fd, vcpus, mem, (char *)text, what, &mem, err, errlen);
	if (ret == 0 && (!header_line((char *)text, "state", line, sizeof(line)) ||
			 sscanf(line, "%llu %lx", &want_len, &crc) != 2)) {
		snprintf(err, errlen, "%s: not from minivmm (no state line in its header)", what);
		ret = -EINVAL;
	}
	free(text);
	if (ret == 0)
		ret = read_file(dir, "state", STATE_MAX, &data, &n, err, errlen);
	if (ret < 0)
		return ret;
	got = crc32(0, data, (uInt)n);
	if (n != want_len || got != crc) {
		snprintf(err, errlen,
			 "%s: its state is damaged (%zu bytes, CRC-32 %08lx; its header says %llu "
			 "bytes, CRC-32 %08lx); it cannot be restored",
			 what, n, got, want_len, crc);
		ret = -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/memory", dir);
	if (ret == 0 && (stat(path, &st) < 0 || (uint64_t)st.st_size != mem)) {
		snprintf(err, errlen, "%s: its memory file is missing or not %llu bytes", what,
			 (unsigned long long)mem);
		ret = -EINVAL;
	}
	if (ret == 0 && state) {
		*state = data;
		*len = n;
	} else {
		free(data);
	}
	return ret;
}

int snapshot_precheck(const char *dir, unsigned int vcpus, uint64_t memory, char *err,
		      size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), ret;

	ret = check_files(fd, vcpus, memory, dir, NULL, NULL, err, errlen);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int load_memory(struct vm *vm, const char *dir, char *err, size_t errlen)
{
	struct device *vfio;
	char path[PATH_MAX];
	struct stat st;
	uint64_t off = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/memory", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != vm->m.mem.ram_size) {
		snprintf(err, errlen, "snapshot %s: memory is missing or not %llu bytes", dir,
			 (unsigned long long)vm->m.mem.ram_size);
		ret = -EINVAL;
		goto out;
	}
	/* Holes in the file are pages of zeros: the VM starts from zeros (in place when
	 * its RAM is mapped for DMA) and only the data is read, so that a restored guest
	 * takes the memory it used, not all of it. */
	vfio = vm_device_find(vm, "vfio");
	mem_discard(&vm->m.mem, vfio && vfio->state);
	for (int r = 0; r < vm->m.mem.nr_regions; r++) {
		const struct mem_region *reg = &vm->m.mem.regions[r];
		uint64_t done = 0;

		while (done < reg->size) {
			off_t data = lseek(fd, (off_t)(off + done), SEEK_DATA), hole;
			ssize_t n;

			if (data < 0 && errno == ENXIO)
				break; /* nothing but holes from here */
			if (data < 0)
				data = (off_t)(off + done); /* cannot tell: read it */
			if ((uint64_t)data >= off + reg->size)
				break;
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > off + reg->size)
				hole = (off_t)(off + reg->size);
			done = (uint64_t)data - off;
			n = pread(fd, reg->hva + done, (size_t)(hole - data), data);
			if (n <= 0) {
				snprintf(err, errlen, "snapshot %s: cannot read memory", dir);
				ret = -EIO;
				goto out;
			}
			done += (uint64_t)n;
		}
		off += reg->size;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* One DEVICE record: the device of that name, once, reading exactly its payload. */
static int load_device(struct vm *vm, const uint8_t *p, uint32_t plen, uint64_t *seen, char *err,
		       size_t errlen)
{
	struct device *d = vm_device_find(vm, (const char *)p);
	size_t nl = strlen((const char *)p) + 1;
	struct device_stream in;
	int ret;

	if (!d || !d->state || !d->spec.ops->load || d->spec.ops->stateless ||
	    (*seen & 1ULL << (d - vm->devs))) {
		snprintf(err, errlen, "a device %.64s that this VM does not have (once)", p);
		return -EINVAL;
	}
	*seen |= 1ULL << (d - vm->devs);
	stream_reader(&in, p + nl, plen - nl);
	ret = d->spec.ops->load(d->state, &in);
	return ret == 0 && in.pos != in.len ? -EINVAL : ret; /* not all of it read: not its */
}

/* Every record of the state, in order: the VM's, each vCPU's by id, then each device
 * of the VM exactly once. */
int snapshot_state_load(struct vm *vm, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t vm_size = arch_vm_state_size(), vcpu_size = arch_vcpu_state_size(), pos = 0;
	void *blob = malloc(vm_size > vcpu_size ? vm_size : vcpu_size); /* an aligned copy */
	uint64_t seen = 0, want = 0;
	unsigned int vcpus = 0;
	bool vm_done = false;
	const uint8_t *p;
	uint32_t tag, plen, id = 0;
	int ret;

	_Static_assert(VM_MAX_DEVICES <= 64, "one bit per device in seen");
	err[0] = 0;
	vm->m.last_err[0] = 0;
	if (!blob)
		return -ENOMEM;
	while ((ret = snapshot_next(data, len, &pos, &tag, &p, &plen, err, errlen)) == 1) {
		if (tag == SNAP_VCPU && plen >= 4)
			memcpy(&id, p, 4);
		if (tag == SNAP_VM && !vm_done && plen == vm_size) {
			memcpy(blob, p, plen);
			ret = arch_vm_restore(vm, blob);
			vm_done = true;
		} else if (tag == SNAP_VCPU && vm_done && vcpus < vm->nr_vcpus && id == vcpus &&
			   plen == 4 + vcpu_size) {
			memcpy(blob, p + 4, vcpu_size);
			ret = arch_vcpu_restore(vm, &vm->vcpus[vcpus++], blob);
		} else if (tag == SNAP_DEVICE && vcpus == vm->nr_vcpus && memchr(p, 0, plen)) {
			ret = load_device(vm, p, plen, &seen, err, errlen);
		} else {
			snprintf(err, errlen, "unexpected record (tag %u, %u bytes) at byte %zu",
				 tag, plen, pos - plen - 8);
			ret = -EINVAL;
		}
		if (ret < 0) {
			/* The device's or arch's own reason, where it gave one. */
			if (!err[0])
				snprintf(err, errlen, "a record at byte %zu was refused: %s",
					 pos - plen - 8,
					 vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
			break;
		}
	}
	free(blob);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < vm->nr_devs; i++)
		want |= (uint64_t)(vm->devs[i].state && !vm->devs[i].spec.ops->stateless) << i;
	if (!vm_done || vcpus != vm->nr_vcpus || seen != want) {
		size_t miss = 0;

		while (miss + 1 < vm->nr_devs && !((want & ~seen) >> miss & 1))
			miss++;
		snprintf(
		    err, errlen, "the state is incomplete (VM %s, %u of %u vCPUs, devices %s%s)",
		    vm_done ? "yes" : "no", vcpus, vm->nr_vcpus, seen == want ? "all" : "missing: ",
		    seen == want || !vm->nr_devs ? "" : vm->devs[miss].spec.name);
		return -EINVAL;
	}
	return 0;
}

int snapshot_load(struct vm *vm, const char *dir, char *err, size_t errlen)
{
	uint8_t *state;
	size_t len;
	int ret;

	err[0] = 0;
	ret = check_files(vm->kvm_fd, vm->nr_vcpus, vm->m.mem.ram_size, dir, &state, &len, err,
			  errlen);
	if (ret < 0)
		return ret;
	ret = load_memory(vm, dir, err, errlen);
	if (ret == 0) {
		char why[512] = "";

		ret = snapshot_state_load(vm, state, len, why, sizeof(why));
		if (ret < 0)
			snprintf(err, errlen, "snapshot %s: %s; it cannot be restored", dir, why);
	}
	free(state);
	return ret;
}
