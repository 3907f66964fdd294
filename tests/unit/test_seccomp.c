/* The seccomp filters themselves (vmm/seccomp.c), installed for real in a forked child:
 * the calls no thread may make kill the process (SIGSYS) under every kind of thread's
 * filter, and the calls each kind makes go through to the kernel.
 *
 * A vCPU or I/O thread's child installs the main thread's filter first, then its own,
 * as the VMM's threads stack them. Calls that would act on something are made on our
 * own pty or eventfd, or on fd -1: the filter decides on the request number alone. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vfio/uapi_compat.h"
#include "vmm/seccomp.h"

static const char *const kind_names[SECCOMP_THREAD_KINDS] = {"main",	"vcpu", "io",	  "io-net",
							     "io-vfio", "api",	"migrate"};

#define KIND(k)	  (1u << (k))
#define ALL_KINDS ((1u << SECCOMP_THREAD_KINDS) - 1)
#define NOT_MAIN  (ALL_KINDS & ~KIND(SECCOMP_THREAD_MAIN))
/* Started before the main thread's filter: their own filter is all they have. */
#define OWN_KINDS (KIND(SECCOMP_THREAD_API) | KIND(SECCOMP_THREAD_MIGRATE))
#define IO_KINDS                                                                                   \
	(KIND(SECCOMP_THREAD_IO) | KIND(SECCOMP_THREAD_IO_NET) | KIND(SECCOMP_THREAD_IO_VFIO) |    \
	 KIND(SECCOMP_THREAD_IO_VHOST))

/* What a call may act on, opened before the filter is installed (opening is the main
 * thread's privilege only). */
struct fds {
	int pty; /* the slave side of a fresh pty, -1 if there is none */
	int efd; /* an eventfd */
};

static void open_fds(struct fds *f)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	f->pty = -1;
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 && ptsname(m))
		f->pty = open(ptsname(m), O_RDWR | O_NOCTTY);
	f->efd = eventfd(0, EFD_CLOEXEC);
}

/* Forks a child that installs the filters of a thread of kind and exits with what
 * call returns. Returns the child's wait status. */
static int run_filtered(enum seccomp_thread kind, int (*call)(const struct fds *f, long arg),
			long arg)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fds f;

		open_fds(&f);
		/* The API and migration threads start before the main thread's filter:
		 * their own is all. */
		if (!(OWN_KINDS & KIND(kind)) &&
		    seccomp_install(SECCOMP_ON, SECCOMP_THREAD_MAIN) < 0)
			_exit(200);
		if (kind != SECCOMP_THREAD_MAIN && seccomp_install(SECCOMP_ON, kind) < 0)
			_exit(201);
		_exit(call(&f, arg));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static bool killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

/* ---- What no thread may do (and what only some may) ---- */

/* Each returns 0 when the call came back, whatever its result: where the filter must
 * kill, coming back at all is the failure. */
static int call_tiocsti(const struct fds *f, long arg)
{
	char c = ' '; /* into our own pty's input, which nobody reads */

	(void)arg;
	ioctl(f->pty, TIOCSTI, &c);
	return 0;
}

static int call_tiocsetd(const struct fds *f, long arg)
{
	int ldisc = 0; /* N_TTY, the one it has: no change if it goes through */

	(void)arg;
	ioctl(f->pty, TIOCSETD, &ldisc);
	return 0;
}

/* On fd -1: as root on the old filter it would take the machine's console. */
static int call_ioctl_badfd(const struct fds *f, long arg)
{
	(void)f;
	ioctl(-1, (unsigned long)arg, 0);
	return 0;
}

static int call_fcntl_setown(const struct fds *f, long arg)
{
	(void)arg;
	fcntl(f->efd, F_SETOWN, getpid());
	return 0;
}

static int call_fcntl_setown_ex(const struct fds *f, long arg)
{
	struct f_owner_ex o = {.type = F_OWNER_PID, .pid = getpid()};

	(void)arg;
	fcntl(f->efd, F_SETOWN_EX, &o);
	return 0;
}

static int call_fcntl_setsig(const struct fds *f, long arg)
{
	(void)arg;
	fcntl(f->efd, F_SETSIG, SIGUSR1);
	return 0;
}

static int call_fcntl_setfl_async(const struct fds *f, long arg)
{
	(void)arg;
	fcntl(f->efd, F_SETFL, O_NONBLOCK | O_ASYNC);
	return 0;
}

static int call_fcntl_dupfd(const struct fds *f, long arg)
{
	(void)arg;
	fcntl(f->efd, F_DUPFD_CLOEXEC, 0);
	return 0;
}

static int call_mmap_exec(const struct fds *f, long arg)
{
	(void)f;
	(void)arg;
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

/* The page is mapped under the filter (without PROT_EXEC, allowed): only the mprotect
 * is forbidden. */
static int call_mprotect_exec(const struct fds *f, long arg)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)f;
	(void)arg;
	if (p == MAP_FAILED)
		return 50;
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

static int call_socket(const struct fds *f, long arg)
{
	(void)f;
	close(socket((int)arg, SOCK_STREAM | SOCK_CLOEXEC, 0));
	return 0;
}

static const struct forbidden {
	const char *what;
	int (*call)(const struct fds *f, long arg);
	long arg;
	unsigned int kill; /* the kinds whose filter must kill; the others let it through */
} forbidden[] = {
    {"ioctl(TIOCSTI)", call_tiocsti, 0, ALL_KINDS},
    {"ioctl(TIOCSETD)", call_tiocsetd, 0, ALL_KINDS},
    {"ioctl(TIOCCONS)", call_ioctl_badfd, TIOCCONS, ALL_KINDS},
    {"ioctl(FIOASYNC)", call_ioctl_badfd, FIOASYNC, ALL_KINDS},
    {"ioctl(TUNSETPERSIST)", call_ioctl_badfd, TUNSETPERSIST, ALL_KINDS},
    {"ioctl(KVM_GET_DIRTY_LOG)", call_ioctl_badfd, KVM_GET_DIRTY_LOG,
     NOT_MAIN & ~KIND(SECCOMP_THREAD_MIGRATE)},
    {"ioctl(VFIO_DEVICE_GET_IRQ_INFO)", call_ioctl_badfd, VFIO_DEVICE_GET_IRQ_INFO, ALL_KINDS},
    {"fcntl(F_SETOWN)", call_fcntl_setown, 0, ALL_KINDS},
    {"fcntl(F_SETOWN_EX)", call_fcntl_setown_ex, 0, ALL_KINDS},
    {"fcntl(F_SETSIG)", call_fcntl_setsig, 0, ALL_KINDS},
    {"fcntl(F_SETFL, O_ASYNC)", call_fcntl_setfl_async, 0, ALL_KINDS},
    {"fcntl(F_DUPFD_CLOEXEC)", call_fcntl_dupfd, 0, ALL_KINDS},
    {"mmap(PROT_EXEC)", call_mmap_exec, 0, ALL_KINDS},
    {"mprotect(PROT_EXEC)", call_mprotect_exec, 0, ALL_KINDS},
    {"socket(AF_UNIX)", call_socket, AF_UNIX,
     NOT_MAIN & ~KIND(SECCOMP_THREAD_MIGRATE) & ~KIND(SECCOMP_THREAD_IO_VHOST)},
    {"socket(AF_INET)", call_socket, AF_INET, ALL_KINDS & ~KIND(SECCOMP_THREAD_MIGRATE)},
    {"socket(AF_NETLINK)", call_socket, AF_NETLINK, ALL_KINDS},
    {"socket(AF_PACKET)", call_socket, AF_PACKET, ALL_KINDS},
    /* the main thread's set-up requests, in the narrower filters */
    {"ioctl(KVM_CREATE_VM)", call_ioctl_badfd, KVM_CREATE_VM, NOT_MAIN},
    {"ioctl(TUNSETIFF)", call_ioctl_badfd, TUNSETIFF, NOT_MAIN},
    {"ioctl(TCSETSF)", call_ioctl_badfd, TCSETSF, NOT_MAIN},
    {"ioctl(VFIO_DEVICE_RESET)", call_ioctl_badfd, VFIO_DEVICE_RESET, NOT_MAIN},
    /* a vCPU's, in an I/O thread; an I/O thread's, in a vCPU; one device's I/O
     * thread's, in another's */
    {"ioctl(KVM_RUN)", call_ioctl_badfd, KVM_RUN, IO_KINDS | OWN_KINDS},
    {"ioctl(KVM_IRQFD)", call_ioctl_badfd, KVM_IRQFD, IO_KINDS | OWN_KINDS},
    {"ioctl(TUNSETOFFLOAD)", call_ioctl_badfd, TUNSETOFFLOAD,
     NOT_MAIN & ~KIND(SECCOMP_THREAD_IO_NET)},
    {"ioctl(VFIO_DEVICE_SET_IRQS)", call_ioctl_badfd, VFIO_DEVICE_SET_IRQS,
     KIND(SECCOMP_THREAD_IO) | KIND(SECCOMP_THREAD_IO_NET) | KIND(SECCOMP_THREAD_IO_VHOST) |
	 OWN_KINDS},
    {"ioctl(KVM_IRQ_LINE)", call_ioctl_badfd, KVM_IRQ_LINE,
     KIND(SECCOMP_THREAD_IO_VFIO) | OWN_KINDS},
};

/* Under ASan the sanitizer runtime itself makes system calls the filters forbid (the
 * Makefile's check-asan runs the VMM without sigaltstack for the same reason), so these
 * children would die of SIGSYS for the runtime's sake; the normal build runs them. */
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_ASAN()                                                                          \
	UNIT_SKIP("built with ASan, whose runtime makes system calls the filters forbid; the "     \
		  "normal build (make check) runs these")
#else
#define SKIP_UNDER_ASAN() ((void)0)
#endif

START_TEST(forbidden_call_kills)
{
	const struct forbidden *c = &forbidden[_i];

	SKIP_UNDER_ASAN();

	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		int st = run_filtered((enum seccomp_thread)k, c->call, c->arg);

		if (c->kill & KIND(k))
			ck_assert_msg(killed_by_sigsys(st),
				      "%s under the %s filter: not killed by SIGSYS (status %#x)",
				      c->what, kind_names[k], st);
		else
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				      "%s under the %s filter: status %#x, expected a normal exit",
				      c->what, kind_names[k], st);
	}
}
END_TEST

/* ---- What each kind does make ---- */

/* Table part of kind t: the core's (part 0) or the arch's own (part 1). */
static size_t table_part(int t, int part, const struct seccomp_ioctl **tab)
{
	return part ? arch_seccomp_ioctls(t, tab) : seccomp_ioctls((enum seccomp_thread)t, tab);
}

/* Every request in kind's tables, the core's and the arch's (for the main thread, all
 * of them: its filter is the union) reaches the kernel: on fd -1 it fails with EBADF.
 * Returns 0, or 1 + the index of the first request that did not, in the order of the
 * tables. */
static int call_table_ioctls(const struct fds *f, long kind)
{
	int idx = 0;

	(void)f;
	for (int t = 0; t < 2 * SECCOMP_THREAD_KINDS; t++) {
		const struct seccomp_ioctl *tab;
		size_t n;

		if (kind != SECCOMP_THREAD_MAIN && t / 2 != kind)
			continue;
		n = table_part(t / 2, t % 2, &tab);
		for (size_t i = 0; i < n; i++, idx++)
			if (ioctl(-1, tab[i].nr, 0) != -1 || errno != EBADF)
				return 1 + idx;
	}
	return 0;
}

/* The name of the request call_table_ioctls numbered idx (1-based) for kind. */
static const char *table_ioctl_name(enum seccomp_thread kind, int idx)
{
	for (int t = 0; t < 2 * SECCOMP_THREAD_KINDS; t++) {
		const struct seccomp_ioctl *tab;
		size_t n;

		if (kind != SECCOMP_THREAD_MAIN && t / 2 != (int)kind)
			continue;
		n = table_part(t / 2, t % 2, &tab);
		if ((size_t)(idx - 1) < n)
			return tab[idx - 1].name;
		idx -= (int)n;
	}
	return "?";
}

START_TEST(allowed_ioctls_reach_the_kernel)
{
	SKIP_UNDER_ASAN();
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		int st = run_filtered((enum seccomp_thread)k, call_table_ioctls, k);

		ck_assert_msg(!killed_by_sigsys(st),
			      "an allowed ioctl killed the %s filter's child", kind_names[k]);
		ck_assert_msg(
		    WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "%s filter: ioctl(-1, %s) did not fail with EBADF (status %#x)", kind_names[k],
		    WIFEXITED(st) ? table_ioctl_name((enum seccomp_thread)k, WEXITSTATUS(st)) : "?",
		    st);
	}
}
END_TEST

/* The requests the code makes on each kind of thread, stated here independently of
 * the tables (a request dropped from a table by mistake fails here). */
static const struct {
	unsigned long nr;
	const char *name;
	unsigned int kinds;
} needed[] = {
    {KVM_RUN, "KVM_RUN", KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU)},
    {KVM_CREATE_VM, "KVM_CREATE_VM", KIND(SECCOMP_THREAD_MAIN)},
    {KVM_CREATE_VCPU, "KVM_CREATE_VCPU", KIND(SECCOMP_THREAD_MAIN)},
    {KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
     KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU)},
    {KVM_IOEVENTFD, "KVM_IOEVENTFD", KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU)},
    {KVM_IRQFD, "KVM_IRQFD", KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU)},
    {KVM_SET_GSI_ROUTING, "KVM_SET_GSI_ROUTING",
     KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU)},
    {KVM_IRQ_LINE, "KVM_IRQ_LINE", ALL_KINDS & ~KIND(SECCOMP_THREAD_IO_VFIO) & ~OWN_KINDS},
    {KVM_GET_DIRTY_LOG, "KVM_GET_DIRTY_LOG",
     KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_MIGRATE)},
    {IOMMU_HWPT_GET_DIRTY_BITMAP, "IOMMU_HWPT_GET_DIRTY_BITMAP",
     KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_MIGRATE)},
    {IOMMU_HWPT_ALLOC, "IOMMU_HWPT_ALLOC", KIND(SECCOMP_THREAD_MAIN)},
    {IOMMU_HWPT_SET_DIRTY_TRACKING, "IOMMU_HWPT_SET_DIRTY_TRACKING", KIND(SECCOMP_THREAD_MAIN)},
    {IOMMU_DESTROY, "IOMMU_DESTROY", KIND(SECCOMP_THREAD_MAIN)},
    {VFIO_DEVICE_SET_IRQS, "VFIO_DEVICE_SET_IRQS",
     KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_VCPU) | KIND(SECCOMP_THREAD_IO_VFIO)},
    {TUNSETOFFLOAD, "TUNSETOFFLOAD", KIND(SECCOMP_THREAD_MAIN) | KIND(SECCOMP_THREAD_IO_NET)},
    {TUNSETIFF, "TUNSETIFF", KIND(SECCOMP_THREAD_MAIN)},
    {BLKGETSIZE64, "BLKGETSIZE64", KIND(SECCOMP_THREAD_MAIN)},
    {TCGETS, "TCGETS", KIND(SECCOMP_THREAD_MAIN)},
    {TCSETSF, "TCSETSF", KIND(SECCOMP_THREAD_MAIN)},
};

static int call_needed(const struct fds *f, long i)
{
	(void)f;
	return ioctl(-1, needed[i].nr, 0) == -1 && errno == EBADF ? 0 : 1;
}

START_TEST(needed_ioctls_are_allowed)
{
	SKIP_UNDER_ASAN();
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
			int st = run_filtered((enum seccomp_thread)k, call_needed, (long)i);
			bool allowed = needed[i].kinds & KIND(k);

			if (allowed)
				ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
					      "ioctl(%s) under the %s filter: status %#x, expected "
					      "EBADF",
					      needed[i].name, kind_names[k], st);
			else
				ck_assert_msg(killed_by_sigsys(st),
					      "ioctl(%s) under the %s filter: status %#x, expected "
					      "SIGSYS",
					      needed[i].name, kind_names[k], st);
		}
}
END_TEST

/* fcntl's flag commands and non-executable memory work under every filter. */
static int call_allowed_fcntl_mmap(const struct fds *f, long arg)
{
	void *p;

	(void)arg;
	if (fcntl(f->efd, F_GETFD) != FD_CLOEXEC || fcntl(f->efd, F_SETFD, 0) < 0)
		return 1;
	if (fcntl(f->efd, F_SETFL, fcntl(f->efd, F_GETFL) | O_NONBLOCK) < 0 ||
	    !(fcntl(f->efd, F_GETFL) & O_NONBLOCK))
		return 2;
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 3;
	if (mprotect(p, 4096, PROT_NONE) < 0 || mprotect(p, 4096, PROT_READ) < 0)
		return 4;
	if (munmap(p, 8192) < 0)
		return 5;
	return 0;
}

START_TEST(fcntl_flags_and_data_mappings_are_allowed)
{
	SKIP_UNDER_ASAN();
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		int st = run_filtered((enum seccomp_thread)k, call_allowed_fcntl_mmap, 0);

		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s filter: status %#x",
			      kind_names[k], st);
	}
}
END_TEST

/* Threads as the VMM stacks them: the main thread starts a vCPU thread, which starts
 * an I/O thread (the INTx unmask thread) that unmasks through VFIO. glibc's thread
 * creation (stacks, guard pages, clone) needs nothing executable. */
static void *io_thread(void *arg)
{
	long *ret = arg;

	if (seccomp_install(SECCOMP_ON, SECCOMP_THREAD_IO_VFIO) < 0)
		*ret = 10;
	else if (ioctl(-1, VFIO_DEVICE_SET_IRQS, 0) != -1 || errno != EBADF)
		*ret = 11;
	return NULL;
}

static void *vcpu_thread(void *arg)
{
	long *ret = arg;
	pthread_t t;

	if (seccomp_install(SECCOMP_ON, SECCOMP_THREAD_VCPU) < 0)
		*ret = 20;
	else if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		*ret = 21;
	else if (pthread_create(&t, NULL, io_thread, ret) != 0)
		*ret = 22;
	else
		pthread_join(t, NULL);
	return NULL;
}

static int call_thread_chain(const struct fds *f, long arg)
{
	long ret = 0;
	pthread_t t;

	(void)f;
	(void)arg;
	if (pthread_create(&t, NULL, vcpu_thread, &ret) != 0)
		return 30;
	pthread_join(t, NULL);
	return (int)ret;
}

START_TEST(threads_start_under_stacked_filters)
{
	int st;

	SKIP_UNDER_ASAN();
	st = run_filtered(SECCOMP_THREAD_MAIN, call_thread_chain, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
END_TEST

Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("filters");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, forbidden_call_kills, 0,
			    (int)(sizeof(forbidden) / sizeof(forbidden[0])));
	tcase_add_test(tc, allowed_ioctls_reach_the_kernel);
	tcase_add_test(tc, needed_ioctls_are_allowed);
	tcase_add_test(tc, fcntl_flags_and_data_mappings_are_allowed);
	tcase_add_test(tc, threads_start_under_stacked_filters);
	suite_add_tcase(s, tc);
	return s;
}
