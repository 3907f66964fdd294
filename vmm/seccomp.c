/* Per-thread system call filters (see seccomp.h). The lists are what the code of each
 * thread kind calls, glibc's own needs included (malloc, thread creation, stdio). */
#include "vmm/seccomp.h"

#include <errno.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/vm.h"

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
    SCMP_SYS(fcntl),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(eventfd2),
    SCMP_SYS(futex),
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
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
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(memfd_create),
    SCMP_SYS(ftruncate),
    SCMP_SYS(flock),
    SCMP_SYS(signalfd4),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(tgkill),
    SCMP_SYS(sysinfo),
    SCMP_SYS(prlimit64),
    SCMP_SYS(getrlimit),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(getdents64),
    SCMP_SYS(statx),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(capget),
    SCMP_SYS(uname),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(dup),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getcwd),
    SCMP_SYS(mlock),
    SCMP_SYS(munlock),
    /* the privilege drop, after the first VM is built (privdrop.c) */
    SCMP_SYS(chroot),
    SCMP_SYS(chdir),
};

/* Device I/O threads: queues, images, the tap, the INTx unmask loop. */
static const int io_only[] = {
    SCMP_SYS(fallocate),
};

static int allow_list(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ioctl by request family (bits 15:8): KVM 0xAE; VFIO and iommufd ';'; tun and
 * terminal 'T' (TUNSETIFF, TUNSETOFFLOAD, TCGETS, TCSETS...). */
static int allow_ioctls(scmp_filter_ctx ctx)
{
	static const unsigned int families[] = {0xae, ';', 'T'};
	int ret = 0;

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && ret == 0; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, families[i] << 8));
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
		ret = allow_ioctls(ctx);
	if (ret == 0 && kind != SECCOMP_THREAD_IO)
		ret = allow_threads(ctx); /* vCPUs start VFIO's INTx unmask thread */
	if (ret == 0 && kind == SECCOMP_THREAD_MAIN)
		ret = allow_list(ctx, main_only, sizeof(main_only) / sizeof(main_only[0]));
	/* A disk that is a block device (a partition, an LVM volume, the emulated host's
	 * /dev/vda in the Debian scenarios) has its size from this one request, when a VM
	 * is (re)created. */
	if (ret == 0 && kind == SECCOMP_THREAD_MAIN)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, BLKGETSIZE64));
	if (ret == 0 && kind == SECCOMP_THREAD_IO)
		ret = allow_list(ctx, io_only, sizeof(io_only) / sizeof(io_only[0]));
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
	static const char tail[] = " (see asm/unistd_64.h); it fails with ENOSYS\n";
	char msg[sizeof(head) + sizeof(tail) + 12], num[12];
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
	memcpy(msg + len, tail, sizeof(tail) - 1);
	len += (int)sizeof(tail) - 1;
	if (write(STDERR_FILENO, msg, (size_t)len) < 0)
		return;
	((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

int seccomp_report_setup(enum seccomp_mode mode)
{
	struct sigaction sa = {.sa_sigaction = seccomp_report, .sa_flags = SA_SIGINFO};

	if (mode != SECCOMP_LOG)
		return 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

bool seccomp_enter(struct vm *vm, enum seccomp_thread kind, const char *who)
{
	/* Unit tests drive devices on a VM without a config: no filter there. */
	int ret = vm->cfg ? seccomp_install(vm->cfg->seccomp, kind) : 0;

	if (ret == 0)
		return true;
	log_err("%s: cannot install its seccomp filter: %s", who, strerror(-ret));
	vm_request_stop(vm, VM_STOP_FAULT);
	return false;
}
