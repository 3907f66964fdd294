/* Per-thread system call filters (see seccomp.h). The lists are what the code of each
 * thread kind calls, glibc's own needs included (malloc, thread creation, stdio). */
#include "vmm/seccomp.h"

#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "arch/arch.h"
#include "vfio/uapi_compat.h"
#include "vmm/log.h"

/* Every thread. */
static const int common[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(close),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(eventfd2),
    SCMP_SYS(futex),
    SCMP_SYS(brk),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(madvise),
    SCMP_SYS(getrandom),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(seccomp), /* only ever narrows: threads add their own filter */
    /* glibc makes every thread of the process run the privilege drop's set*id calls
     * (in a signal handler), so all threads need them; after the drop they can only
     * keep the unprivileged ids. */
    SCMP_SYS(setgroups),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
};

/* The main thread (re)creates VMs: opening devices and images, memory, threads, sysfs
 * (VFIO checks and bind = auto), and runs the event loop. */
static const int main_only[] = {
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(memfd_create), SCMP_SYS(ftruncate),
    SCMP_SYS(signalfd4), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait), SCMP_SYS(rt_sigaction), SCMP_SYS(tgkill), SCMP_SYS(sysinfo),
    SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
    SCMP_SYS(getdents64), SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2), SCMP_SYS(capget), SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(dup), SCMP_SYS(sched_getaffinity), SCMP_SYS(getcwd), SCMP_SYS(mlock),
    SCMP_SYS(munlock),
    /* the privilege drop, after the first VM is built (privdrop.c) */
    SCMP_SYS(chroot), SCMP_SYS(chdir),
    /* an incoming migration's stream, on the connection accepted before this filter
     * (migrate_in.c) */
    SCMP_SYS(sendto), SCMP_SYS(recvfrom),
    SCMP_SYS(shutdown), /* after refusing it: the reply first, then the close */
    /* vhost-user back ends: the handshake when a VM is (re)built (devices/vhost_user.c;
     * socket() is allowed for AF_UNIX only, below) */
    SCMP_SYS(connect), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
    SCMP_SYS(wait4), /* at exit, for the supervisor of [fs] path's virtiofsd */
};

/* A vhost-user device's I/O thread: its back end's messages, with fds (vhost_user.c). */
static const int io_vhost_only[] = {
    SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
    SCMP_SYS(connect), /* to a restarted back end (and socket(AF_UNIX) only) */
};

/* The control API's thread: its clients' sockets and nothing else (vmm/api.c). */
static const int api_only[] = {
    SCMP_SYS(accept4),
    SCMP_SYS(getsockopt), /* SO_PEERCRED */
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
};

/* The migration thread: one outgoing stream socket and its traffic (vmm/migrate.c);
 * socket() only for the address families a migration address can name. */
static const int migrate_only[] = {
    SCMP_SYS(connect),
    SCMP_SYS(getsockopt), /* SO_ERROR of a connect in progress */
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
};

static int allow_socket(scmp_filter_ctx ctx, size_t nfamilies)
{
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
	int ret = 0;

	for (size_t i = 0; i < nfamilies && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	return ret;
}

static int allow_list(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ioctl: exact request numbers, never whole families. The terminal and tun requests
 * share the 'T' type with TIOCSTI (push bytes into the terminal's input, which the
 * user's shell reads once minivmm exits), TIOCSETD, TIOCCONS and FIOASYNC; KVM's 0xAE
 * and VFIO's ';' hold calls that no thread here makes either.
 *
 * Filters stack, so the main thread's filter allows every table below (a vCPU or I/O
 * thread can only ever narrow what it inherits), and a request a vCPU or I/O thread
 * makes must be in its own kind's table: each kind of I/O thread gets only what its
 * device makes. The INTx unmask thread is one that a vCPU starts (the guest enabling
 * INTx): what it calls must be in the vCPU table too.
 * Who calls what: grep -rn "ioctl(" vmm devices vfio arch; terminal requests come from
 * glibc's isatty/tcgetattr/tcsetattr in main.c. */
#define IOCTL(nr) SECCOMP_IOCTL(nr)

/* Only the main thread: it creates and tears down VMs and owns the terminal. */
static const struct seccomp_ioctl main_ioctls[] = {
    /* /dev/kvm: capability checks and the VM itself (vm.c, arch/ARCH) */
    IOCTL(KVM_GET_API_VERSION),
    IOCTL(KVM_CHECK_EXTENSION),
    IOCTL(KVM_GET_VCPU_MMAP_SIZE),
    IOCTL(KVM_CREATE_VM),
    /* the VM: [vm] cpu_pm, the vCPUs (arch/ARCH, vcpu.c; the arch's own requests are
     * in its table, arch_seccomp_ioctls) */
    IOCTL(KVM_ENABLE_CAP),
    IOCTL(KVM_CREATE_VCPU),
    /* the KVM-VFIO pseudo device that tells KVM about VFIO (kvm_vfio.c), and the
     * arch's in-kernel devices (arm64: the vGIC, its ITS, each vCPU's PMU) */
    IOCTL(KVM_CREATE_DEVICE),
    IOCTL(KVM_SET_DEVICE_ATTR),
    /* with MINIVMM_STATS, each vCPU's counters (kvmstats.c) */
    IOCTL(KVM_GET_STATS_FD),
    /* VFIO with the legacy container and groups: set-up and teardown (container.c) */
    IOCTL(VFIO_GET_API_VERSION),
    IOCTL(VFIO_CHECK_EXTENSION),
    IOCTL(VFIO_SET_IOMMU),
    IOCTL(VFIO_IOMMU_GET_INFO),
    IOCTL(VFIO_IOMMU_MAP_DMA),
    IOCTL(VFIO_IOMMU_UNMAP_DMA),
    IOCTL(VFIO_GROUP_GET_STATUS),
    IOCTL(VFIO_GROUP_SET_CONTAINER),
    IOCTL(VFIO_GROUP_UNSET_CONTAINER),
    IOCTL(VFIO_GROUP_GET_DEVICE_FD),
    /* VFIO with iommufd and the device cdev (iommufd.c) */
    IOCTL(IOMMU_IOAS_ALLOC),
    IOCTL(IOMMU_IOAS_IOVA_RANGES),
    IOCTL(IOMMU_IOAS_MAP),
    IOCTL(IOMMU_IOAS_UNMAP),
    IOCTL(VFIO_DEVICE_BIND_IOMMUFD),
    IOCTL(VFIO_DEVICE_ATTACH_IOMMUFD_PT),
    /* ... and its dirty-tracking page tables: made at attach, destroyed with their last
     * device, tracking on and off around a migration (iommufd_hwpt.c) */
    IOCTL(IOMMU_HWPT_ALLOC),
    IOCTL(IOMMU_DESTROY),
    IOCTL(IOMMU_HWPT_SET_DIRTY_TRACKING),
    /* the passed-through device: info, regions, reset at start and teardown (pci.c) */
    IOCTL(VFIO_DEVICE_GET_INFO),
    IOCTL(VFIO_DEVICE_GET_REGION_INFO),
    IOCTL(VFIO_DEVICE_RESET),
    /* its VFIO migration: probe, state changes, DMA logging on and off (pci_mig.c) */
    IOCTL(VFIO_DEVICE_FEATURE),
    /* virtio-net's tap (virtio_net.c) */
    IOCTL(TUNSETIFF),
    IOCTL(TUNSETVNETHDRSZ),
    /* a disk that is a block device: its size, when a VM is (re)created (virtio_blk.c) */
    IOCTL(BLKGETSIZE64),
    /* [console] mode = stdio: isatty and tcgetattr, raw mode and its restore at exit
     * (tcsetattr TCSAFLUSH); the termios2 forms are what newer glibc uses for both. */
    IOCTL(TCGETS),
    IOCTL(TCSETS),
    IOCTL(TCSETSW),
    IOCTL(TCSETSF),
    IOCTL(TCGETS2),
    IOCTL(TCSETS2),
    IOCTL(TCSETSW2),
    IOCTL(TCSETSF2),
};

/* vCPU threads: KVM_RUN and the device emulation that a guest's PIO/MMIO access runs. */
static const struct seccomp_ioctl vcpu_ioctls[] = {
    IOCTL(KVM_RUN),
    /* level interrupts: serial port, virtio INTx (serial.c, virtio_pci.c) */
    IOCTL(KVM_IRQ_LINE),
    /* MSI-X table writes and MSI/INTx switches of passed-through devices: routes and
     * irqfds (msix.c, pci_irq.c via irq.c) */
    IOCTL(KVM_SET_GSI_ROUTING),
    IOCTL(KVM_IRQFD),
    /* the guest moves a virtio BAR: its notify ioeventfds follow (virtio_pci.c) */
    IOCTL(KVM_IOEVENTFD),
    /* the guest moves a passed-through BAR: its mmap'd parts follow (pci.c via vm.c) */
    IOCTL(KVM_SET_USER_MEMORY_REGION),
    /* the guest enables or masks INTx, MSI or MSI-X of a passed-through device, and the
     * INTx unmask thread a vCPU starts (pci_irq.c) */
    IOCTL(VFIO_DEVICE_SET_IRQS),
};

/* virtio queue threads (blk, console, rng): INTx when the guest has no MSI-X
 * (virtio_pci.c); MSI-X is an eventfd write. */
static const struct seccomp_ioctl io_ioctls[] = {
    IOCTL(KVM_IRQ_LINE),
};

/* virtio-net's queue thread and its receive thread (on a tap or on passt's socket,
 * which they only read and write: no system call beyond the common ones). */
static const struct seccomp_ioctl io_net_ioctls[] = {
    IOCTL(KVM_IRQ_LINE),
    /* the tap's offloads, once the guest's features are known (virtio_net.c) */
    IOCTL(TUNSETOFFLOAD),
};

/* The migration thread reads KVM's dirty page log (migrate.c), and a passed-through
 * device's pre-copy data size and DMA log (VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
 * vfio/pci_mig.c) or its IOMMU page table's dirty bits (vfio/iommufd_hwpt.c). */
static const struct seccomp_ioctl migrate_ioctls[] = {
    IOCTL(KVM_GET_DIRTY_LOG),
    IOCTL(VFIO_MIG_GET_PRECOPY_INFO),
    IOCTL(VFIO_DEVICE_FEATURE),
    IOCTL(IOMMU_HWPT_GET_DIRTY_BITMAP),
};

/* INTx unmask on guest EOI, for drivers without an unmask eventfd (pci_irq.c). */
static const struct seccomp_ioctl io_vfio_ioctls[] = {
    IOCTL(VFIO_DEVICE_SET_IRQS),
};

#define TABLE(t) (*table = (t), sizeof(t) / sizeof((t)[0]))

size_t seccomp_ioctls(enum seccomp_thread kind, const struct seccomp_ioctl **table)
{
	switch (kind) {
	case SECCOMP_THREAD_VCPU:
		return TABLE(vcpu_ioctls);
	case SECCOMP_THREAD_IO:
		return TABLE(io_ioctls);
	case SECCOMP_THREAD_IO_NET:
		return TABLE(io_net_ioctls);
	case SECCOMP_THREAD_IO_VFIO:
		return TABLE(io_vfio_ioctls);
	case SECCOMP_THREAD_IO_VHOST:
		return TABLE(io_ioctls); /* INTx when the guest has no MSI-X */
	case SECCOMP_THREAD_API:
		*table = NULL;
		return 0; /* none */
	case SECCOMP_THREAD_MIGRATE:
		return TABLE(migrate_ioctls);
	default:
		*table = main_ioctls;
		return sizeof(main_ioctls) / sizeof(main_ioctls[0]);
	}
}

/* The kernel reads the request as an unsigned int: compare those 32 bits, so that a
 * request passed sign-extended is still the same request. */
static int allow_ioctl_table(scmp_filter_ctx ctx, const struct seccomp_ioctl *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					   SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, t[i].nr));

		/* -EEXIST: the same request in two tables (the main filter adds all) */
		if (ret < 0 && ret != -EEXIST)
			return ret;
	}
	return 0;
}

/* A kind's requests: the tables here, then the arch's own (arch_seccomp_ioctls). */
static int allow_kind_ioctls(scmp_filter_ctx ctx, enum seccomp_thread kind)
{
	const struct seccomp_ioctl *t;
	size_t n = seccomp_ioctls(kind, &t); /* first: t is its output */
	int ret = allow_ioctl_table(ctx, t, n);

	if (ret == 0) {
		n = arch_seccomp_ioctls(kind, &t);
		ret = allow_ioctl_table(ctx, t, n);
	}
	return ret;
}

static int allow_ioctls(scmp_filter_ctx ctx, enum seccomp_thread kind)
{
	int ret = 0;

	if (kind != SECCOMP_THREAD_MAIN)
		return allow_kind_ioctls(ctx, kind);
	for (int k = 0; k < SECCOMP_THREAD_KINDS && ret == 0; k++)
		ret = allow_kind_ioctls(ctx, (enum seccomp_thread)k);
	return ret;
}

/* fcntl: reading and setting the descriptor flags (FD_CLOEXEC) and the file status
 * flags (O_NONBLOCK), as glibc and non-blocking set-up do; nothing that sends signals
 * (F_SETOWN, F_SETOWN_EX, F_SETSIG, or O_ASYNC through F_SETFL) or duplicates
 * descriptors. The main thread also takes and tests the disk images' OFD locks
 * (devices/disk_lock.c) when it opens them, and seals guest RAM's memfd at its size
 * (vmm/mem.c). */
static int allow_fcntl(scmp_filter_ctx ctx, enum seccomp_thread kind)
{
	static const int cmds[] = {F_GETFD, F_SETFD, F_GETFL};
	static const int main_cmds[] = {F_OFD_SETLK, F_OFD_GETLK, F_ADD_SEALS};
	int ret = 0;

	for (size_t i = 0; kind == SECCOMP_THREAD_MAIN && i < 3 && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, main_cmds[i]));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, cmds[i]));
	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_SETFL),
				       SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0));
	return ret;
}

/* mmap and mprotect, never executable: all our code is mapped at start (the dynamic
 * loader runs before any filter), guest memory, vCPU run areas and BARs are data, and
 * glibc's thread stacks are PROT_NONE then PROT_READ|PROT_WRITE (GNU_STACK is RW in
 * the binary and its libraries). */
static int allow_memory(scmp_filter_ctx ctx)
{
	int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				   SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));

	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return ret;
}

/* Threads, never processes: clone only with CLONE_THREAD; clone3 (whose flags live in
 * memory, out of a filter's reach) answers ENOSYS, and glibc falls back to clone. */
static int allow_threads(scmp_filter_ctx ctx)
{
	int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				   SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));

	if (ret == 0)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return ret;
}

int seccomp_install(enum seccomp_mode mode, enum seccomp_thread kind)
{
	scmp_filter_ctx ctx;
	int ret;

	if (mode == SECCOMP_OFF)
		return 0;
	ctx = seccomp_init(mode == SECCOMP_LOG ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	ret = allow_list(ctx, common, sizeof(common) / sizeof(common[0]));
	if (ret == 0) /* libseccomp sets no_new_privs before loading a filter */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
	if (ret == 0)
		ret = allow_ioctls(ctx, kind);
	if (ret == 0)
		ret = allow_fcntl(ctx, kind);
	if (ret == 0)
		ret = allow_memory(ctx);
	if (ret == 0 && (kind == SECCOMP_THREAD_MAIN || kind == SECCOMP_THREAD_VCPU))
		ret = allow_threads(ctx); /* vCPUs start VFIO's INTx unmask thread */
	if (ret == 0 && kind == SECCOMP_THREAD_MAIN)
		ret = allow_list(ctx, main_only, sizeof(main_only) / sizeof(main_only[0]));
	if (ret == 0 && kind == SECCOMP_THREAD_API)
		ret = allow_list(ctx, api_only, sizeof(api_only) / sizeof(api_only[0]));
	if (ret == 0 && kind == SECCOMP_THREAD_MIGRATE)
		ret = allow_list(ctx, migrate_only, sizeof(migrate_only) / sizeof(migrate_only[0]));
	if (ret == 0 && kind == SECCOMP_THREAD_MIGRATE)
		ret = allow_socket(ctx, 3);
	if (ret == 0 && kind == SECCOMP_THREAD_MAIN)
		ret = allow_socket(ctx, 1); /* AF_UNIX: vhost-user and passt back ends */
	if (ret == 0 && kind == SECCOMP_THREAD_IO_VHOST)
		ret = allow_list(ctx, io_vhost_only,
				 sizeof(io_vhost_only) / sizeof(io_vhost_only[0]));
	if (ret == 0 && kind == SECCOMP_THREAD_IO_VHOST)
		ret = allow_socket(ctx, 1);
	if (ret == 0)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* log mode: a denied call raises SIGSYS in the thread that made it; say which call and
 * let it fail with ENOSYS. Only async-signal-safe work here: no stdio, no malloc. */
static void seccomp_report(int sig, siginfo_t *si, void *uctx)
{
	static const char head[] = "minivmm: seccomp: denied system call ";
	static const char see[] = " (see ";
	static const char tail[] = "); it fails with ENOSYS\n";
	const char *table = arch_syscall_table();
	size_t tlen = strlen(table);
	char msg[sizeof(head) + sizeof(see) + 64 + sizeof(tail) + 12], num[12];
	int n = 0, len = 0;
	unsigned int nr = (unsigned int)si->si_syscall;

	(void)sig;
	do
		num[n++] = (char)('0' + nr % 10);
	while ((nr /= 10) && n < (int)sizeof(num));
	memcpy(msg, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	while (n)
		msg[len++] = num[--n];
	memcpy(msg + len, see, sizeof(see) - 1);
	len += (int)sizeof(see) - 1;
	tlen = tlen > 64 ? 64 : tlen;
	memcpy(msg + len, table, tlen);
	len += (int)tlen;
	memcpy(msg + len, tail, sizeof(tail) - 1);
	len += (int)sizeof(tail) - 1;
	if (write(STDERR_FILENO, msg, (size_t)len) < 0)
		return;
	arch_seccomp_set_return(uctx, -ENOSYS);
}

int seccomp_report_setup(enum seccomp_mode mode)
{
	struct sigaction sa = {.sa_sigaction = seccomp_report, .sa_flags = SA_SIGINFO};

	if (mode != SECCOMP_LOG)
		return 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}
