/* minivmm: the whole start-up order, readable in one function (main), and the only
 * place that decides to exit.
 *
 *   arguments -> config (exit 1) -> kernel/initrd files checked (exit 1)
 *   -> [--dry-run: print and exit 0] -> console and signals
 *   -> loop { create VM (exit 2) -> run vCPUs -> event loop until a stop request
 *             -> destroy VM } while the guest rebooted and on_reboot = restart
 *   -> restore the terminal -> exit code from why the VM stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/serial.h"
#include "devices/virtio_backends.h"
#include "vmm/config.h"
#include "vmm/image.h"
#include "vmm/log.h"
#include "vmm/migrate.h"
#include "vmm/privdrop.h"
#include "vmm/virtiofsd.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"
#include "vmm/api.h"
#include "vmm/api_cmds.h"
#include "devices/hotplug.h"

#define MINIVMM_VERSION "0.1.0"

enum exit_code {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,   /* usage or config error, bad kernel/initrd (also at a reboot) */
	EXIT_HOST = 2,	   /* host set-up error: KVM, memory, devices */
	EXIT_GUEST = 3,	   /* guest fault: triple fault (on_reboot = exit), KVM error */
	EXIT_INCOMING = 4, /* --incoming: the migration did not arrive; nothing was started */
	EXIT_UNSURE = 5,   /* migrated out, the destination never confirmed: stopped here */
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

#define MAX_OVERRIDES 64
#define CTRL_A	      0x01

static const char usage[] =
    "usage: minivmm [--set SECTION.KEY=VALUE]... [--dry-run [--dtb FILE]] CONFIG.ini\n"
    "       minivmm [--set SECTION.KEY=VALUE]... --restore SNAPSHOT-DIR\n"
    "       minivmm [--set SECTION.KEY=VALUE]... --incoming ADDRESS\n"
    "       minivmm --help | --version\n"
    "\n"
    "Boots the Linux guest that CONFIG.ini describes; exits when it powers off.\n"
    "  --set S.K=V  override key K of section [S] (repeatable)\n"
    "  --dry-run    validate everything, print the effective config and the guest\n"
    "               memory map, and exit without running\n"
    "  --dtb FILE   with --dry-run (arm64): also write the guest's device tree to FILE\n"
    "               (dtc -I dtb -O dts FILE decompiles it)\n"
    "  --restore D  resume the VM saved in snapshot directory D (the API's snapshot);\n"
    "               its config is D/config.ini, which --set may override (paths)\n"
    "  --incoming A wait on A (unix:PATH, tcp:IP:PORT) for a live migration from\n"
    "               another minivmm (the API's send-migration) and run the guest it\n"
    "               sends; its config comes with it, which --set may override\n"
    "On the console, Ctrl-A x stops the VM (exit 130); Ctrl-A Ctrl-A sends Ctrl-A.\n"
    "Exit codes: 0 guest powered off (or rebooted with on_reboot = exit), 1 usage or\n"
    "config error, 2 host set-up error, 3 guest fault, 4 incoming migration failed,\n"
    "5 migrated out without the destination's confirmation, 130/143 SIGINT/SIGTERM.\n";

/* The terminal as we found it; main.c is the one place allowed state like this. */
static struct termios saved_tty;
static int tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_raw = 0;
}

static void tty_make_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	t = saved_tty;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
		tty_raw = 1;
}

/* Blocks SIGINT/SIGTERM in every thread (vCPU threads inherit the mask) and returns a
 * signalfd for them (SIGUSR1, which kicks vCPUs, is vcpu.c's). */
static int signals_setup(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Console input: bytes from stdin to the UART, with the Ctrl-A escape on a tty.
 * Returns false at end of input. */
static bool console_input(struct vm *vm, int *escape)
{
	uint8_t buf[256], out[256];
	size_t n = 0;
	ssize_t len = read(STDIN_FILENO, buf, sizeof(buf));

	if (len <= 0)
		return len < 0 && errno == EAGAIN;
	for (ssize_t i = 0; i < len; i++) {
		if (tty_raw && *escape) {
			*escape = 0;
			if (buf[i] == 'x') {
				vm_request_stop(vm, VM_STOP_SIGINT);
				return true;
			}
			if (buf[i] != CTRL_A)
				continue;
		} else if (tty_raw && buf[i] == CTRL_A) {
			*escape = 1;
			continue;
		}
		out[n++] = buf[i];
	}
	if ((vm->console_dev ? virtio_console_input(vm->console_dev, out, n)
			     : serial_input(vm->serial, out, n)) < n)
		log_guest("console input dropped: the guest is not reading its serial port");
	return true;
}

/* A pending SIGINT or SIGTERM, as a stop reason (VM_RUNNING if none). */
static enum vm_stop read_signal(int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return VM_RUNNING;
	return si.ssi_signo == SIGINT ? VM_STOP_SIGINT : VM_STOP_SIGTERM;
}

/* Runs until the VM asks to stop; returns why. A signal wins over the guest's own
 * reason: a SIGTERM read in the same wake-up as a guest reset (or just after it) must
 * stop minivmm, not be dropped while the guest is restarted. */
static enum vm_stop event_loop(struct vm *vm, int sfd, bool use_stdin, struct api_ctx *actx)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(EPOLL_CLOEXEC), escape = 0;
	struct device *hpd = vm_device_find(vm, "hotplug");
	struct hotplug *hp = hpd ? hpd->state : NULL;
	enum vm_stop sig = VM_RUNNING;

	if (ep < 0) {
		log_err("epoll_create1: %m");
		vm_request_stop(vm, VM_STOP_FAULT);
		return atomic_load(&vm->m.stop);
	}
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = vm->m.stop_efd;
	epoll_ctl(ep, EPOLL_CTL_ADD, vm->m.stop_efd, &ev);
	if (actx->api) {
		ev.data.fd = api_wake_fd(actx->api);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	if (actx->mig) {
		ev.data.fd = migrate_wake_fd(actx->mig);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	if (hp) {
		ev.data.fd = hotplug_eject_fd(hp);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	ev.data.fd = vm->m.watch_ep;
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = STDIN_FILENO;
	/* stdin that is a regular file or /dev/null cannot be polled: skip it. */
	if (use_stdin && epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
		use_stdin = false;
	while (atomic_load(&vm->m.stop) == VM_RUNNING) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				enum vm_stop got = read_signal(sfd);

				if (got != VM_RUNNING) {
					sig = got;
					vm_request_stop(vm, sig);
				}
			} else if (evs[i].data.fd == STDIN_FILENO) {
				if (!console_input(vm, &escape))
					epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
			} else if (actx->mig && evs[i].data.fd == migrate_wake_fd(actx->mig)) {
				migrate_service(actx->mig, actx->api);
			} else if (actx->api && evs[i].data.fd == api_wake_fd(actx->api)) {
				api_service(actx->api, actx);
			} else if (hp && evs[i].data.fd == hotplug_eject_fd(hp)) {
				api_cmds_ejected(actx, hotplug_take_ejected(hp));
			} else if (evs[i].data.fd == vm->m.watch_ep) {
				enum machine_watch kind;
				unsigned int slot;

				while (machine_watched(&vm->m, &kind, &slot) == 0)
					api_cmds_watched(actx, kind, slot);
			}
		}
	}
	close(ep);
	if (sig == VM_RUNNING)
		sig = read_signal(sfd);
	return sig != VM_RUNNING ? sig : atomic_load(&vm->m.stop);
}

/* The destination cannot take the guest: both sides are told why. */
static int incoming_refused(int fd, const char *what, const char *why)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s: %s", what, why);
	migrate_refuse(fd, msg);
	return EXIT_INCOMING;
}

/* The event that tells API clients why the VM stopped. */
static const char *stop_event(enum vm_stop why)
{
	switch (why) {
	case VM_STOP_POWEROFF:
		return "POWEROFF";
	case VM_STOP_RESET:
	case VM_STOP_TRIPLE:
		return "RESET";
	case VM_STOP_SIGINT:
	case VM_STOP_SIGTERM:
		return "SIGNALED";
	case VM_STOP_MIGRATED:
	case VM_STOP_MIGRATE_UNSURE:
		return "MIGRATED";
	default:
		return "FAULT";
	}
}

/* --incoming: waits for the source, takes its hello and writes its config to a memfd
 * whose /proc path goes into path (config_load reads files). Returns the connection or
 * -errno (-EINTR: a signal came first). */
static int incoming_config(const char *addr, int sfd, char *header, size_t hlen, char *path,
			   size_t plen)
{
	char *text = NULL;
	int fd = migrate_accept(addr, sfd, CONFIG_MIGRATE_TIMEOUT_S, &text, header, hlen), mfd;

	if (fd < 0)
		return fd;
	mfd = memfd_create("minivmm-incoming.ini", MFD_CLOEXEC);
	if (mfd < 0 || write(mfd, text, strlen(text)) != (ssize_t)strlen(text)) {
		free(text);
		incoming_refused(fd, "cannot keep its config", strerror(errno));
		return -EIO;
	}
	free(text);
	snprintf(path, plen, "/proc/self/fd/%d", mfd);
	return fd;
}

/* A booted guest's console file starts empty; a restored or migrated guest's continues
 * the file (the source may still be writing to it, and a restore that is refused
 * later must not have emptied it). */
static int open_console(const struct config *cfg, bool resume)
{
	int fd;

	switch (cfg->console.mode) {
	case CONSOLE_STDIO:
		return STDOUT_FILENO;
	case CONSOLE_FILE:
		fd = open(cfg->console.path,
			  O_WRONLY | O_CREAT | (resume ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
		if (fd < 0)
			log_err("console file %s: %m; check [console] path", cfg->console.path);
		return fd < 0 ? -2 : fd;
	default:
		return -1;
	}
}

static size_t tl_add(char *line, size_t n, size_t size, const char *what, uint64_t t,
		     uint64_t t_start)
{
	if (t < t_start || n >= size) /* not reached in this cycle */
		return n;
	return n + (size_t)snprintf(line + n, size - n, "%s%s %.1f", n ? ", " : "", what,
				    (double)(t - t_start) / 1e6);
}

/* One line at exit: where the last boot cycle's time went, in ms from its start (the
 * process's, or the restart's), each mark it reached: the boot-cycle breakdown that
 * make bench sets next to other VMMs'. */
/* The main thread's own steps before the VM exists: config parsed, kernel and initrd
 * read, host set-up done (console, signals, API, seccomp). */
enum { PRE_CONFIG, PRE_FILES, PRE_SETUP, PRE_COUNT };

static void log_timeline(uint64_t t_start, const uint64_t *pre, const uint64_t *marks,
			 uint64_t t_down)
{
	static const char *const names[MARK_COUNT] = {
	    [MARK_MEMORY] = "guest RAM",
	    [MARK_DEVICES] = "devices",
	    [MARK_LOADED] = "kernel loaded",
	    [MARK_FIRST_RUN] = "first KVM_RUN",
	    [MARK_FIRST_OUTPUT] = "first console output",
	    [MARK_USERSPACE] = "guest userspace",
	    [MARK_STOP] = "stop request",
	};
	char line[512];
	size_t n = tl_add(line, 0, sizeof(line), "config", pre[PRE_CONFIG], t_start);

	n = tl_add(line, n, sizeof(line), "files read", pre[PRE_FILES], t_start);
	n = tl_add(line, n, sizeof(line), "host set-up", pre[PRE_SETUP], t_start);

	for (int i = 0; i < MARK_COUNT; i++)
		n = tl_add(line, n, sizeof(line), names[i], marks[i], t_start);
	n = tl_add(line, n, sizeof(line), "torn down", t_down, t_start);
	tl_add(line, n, sizeof(line), "exit", machine_now_ns(), t_start);
	log_info("timeline (ms since start): %s", line);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"set", required_argument, NULL, 's'},	{"dry-run", no_argument, NULL, 'n'},
	    {"dtb", required_argument, NULL, 'd'},	{"restore", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},		{"version", no_argument, NULL, 'V'},
	    {"incoming", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0},
	};
	uint64_t t_start = machine_now_ns(), pre[PRE_COUNT] = {0}, t_down = 0,
		 marks[MARK_COUNT] = {0};
	const char *overrides[MAX_OVERRIDES];
	int n_overrides = 0, dry_run = 0, opt, console_fd, sfd = -1, code;
	struct config cfg;
	struct boot_images boot;
	struct privdrop drop;
	struct virtiofsd fsd = {.keep = -1};
	bool dropped = false;
	unsigned int triples = 0; /* triple-fault restarts in a row */
	bool rebooting = false;
	char err[PATH_MAX * 2 + 512], where[PATH_MAX + 64];
	char kernel_kind[160];
	enum vm_stop why = VM_RUNNING;
	struct api_ctx actx = {0};
	const char *restore = NULL, *config_path = NULL, *incoming = NULL, *dtb_path = NULL;
	char restore_ini[PATH_MAX], header[SNAPSHOT_HEADER_MAX];
	int in_fd = -1; /* --incoming: the source's connection until the VM is received */

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (n_overrides == MAX_OVERRIDES) {
				log_err("too many --set options (at most %d)", MAX_OVERRIDES);
				return EXIT_CONFIG;
			}
			overrides[n_overrides++] = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'd':
			dtb_path = optarg;
			break;
		case 'r':
			restore = optarg;
			break;
		case 'i':
			incoming = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		case 'V':
			printf("minivmm %s\n", MINIVMM_VERSION);
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_CONFIG;
		}
	}
	if (dtb_path && !dry_run) {
		log_err("--dtb FILE goes with --dry-run");
		return EXIT_CONFIG;
	}
	if (restore && optind == argc &&
	    snprintf(restore_ini, sizeof(restore_ini), "%s/config.ini", restore) <
		(int)sizeof(restore_ini)) {
		config_path = restore_ini;
	} else if (incoming && !restore && !dry_run && optind == argc) {
		sfd = signals_setup();
		if (sfd < 0) {
			log_err("cannot set up signal handling: %m");
			return EXIT_HOST;
		}
		in_fd = incoming_config(incoming, sfd, header, sizeof(header), restore_ini,
					sizeof(restore_ini));
		if (in_fd < 0)
			return in_fd == -EINTR ? (read_signal(sfd) == VM_STOP_SIGINT ? EXIT_SIGINT
										     : EXIT_SIGTERM)
					       : EXIT_INCOMING;
		/* Refused before the VM is built: a guest that would fault here. */
		if (snapshot_cpu_check(header, "the migration stream", err, sizeof(err)) < 0)
			return incoming_refused(in_fd, "this host cannot run the guest", err);
		config_path = restore_ini;
	} else if (restore || incoming || optind != argc - 1) {
		fputs(usage, stderr);
		return EXIT_CONFIG;
	}
	if (!config_path)
		config_path = argv[optind];
	if (config_load(&cfg, config_path, overrides, n_overrides, err, sizeof(err)) < 0) {
		if (in_fd >= 0) /* the source's config, as sent: say so to both sides */
			return incoming_refused(in_fd, "its config does not load here", err);
		log_err("%s", err);
		return EXIT_CONFIG;
	}
	pre[PRE_CONFIG] = machine_now_ns();
	if (in_fd >= 0)
		snprintf(cfg.file, sizeof(cfg.file), "the config sent by the migration source");
	if (boot_files_open(&boot, &cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return EXIT_CONFIG;
	}
	pre[PRE_FILES] = machine_now_ns();
	/* Its messages name the kernel (and say when the initrd is the problem): point
	 * them at the kernel key like every other config error. */
	if (arch_check_kernel(&boot.files, &cfg, kernel_kind, sizeof(kernel_kind), err,
			      sizeof(err)) < 0) {
		log_err("%s%s", config_origin_prefix(&cfg, &cfg.kernel_at, where, sizeof(where)),
			err);
		boot_files_close(&boot);
		return EXIT_CONFIG;
	}
	if (dry_run) {
		config_print(&cfg, stdout);
		printf("; kernel: %s\n", kernel_kind);
		arch_print_memory_map(&cfg, stdout);
		if (dtb_path && arch_write_dtb(&boot.files, &cfg, dtb_path, err, sizeof(err)) < 0) {
			log_err("%s", err);
			boot_files_close(&boot);
			return EXIT_CONFIG;
		}
		if (dtb_path)
			printf("; device tree written to %s (dtc -I dtb -O dts %s decompiles it)\n",
			       dtb_path, dtb_path);
		boot_files_close(&boot);
		return EXIT_OK;
	}

	/* A snapshot that cannot be restored here is refused before anything is opened,
	 * created or truncated for it. */
	if (restore && snapshot_precheck(restore, cfg.vcpus, cfg.memory, err, sizeof(err)) < 0) {
		log_err("%s", err);
		boot_files_close(&boot);
		return EXIT_CONFIG;
	}
	console_fd = open_console(&cfg, restore || in_fd >= 0);
	if (in_fd < 0)
		sfd = signals_setup();
	if (console_fd == -2 || sfd < 0) {
		if (sfd < 0)
			log_err("cannot set up signal handling: %m");
		boot_files_close(&boot);
		return console_fd == -2 ? EXIT_CONFIG : EXIT_HOST;
	}
	if (privdrop_prepare(&drop, &cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		boot_files_close(&boot);
		return EXIT_CONFIG;
	}
	/* [fs.NAME] path: virtiofsd, forked before any thread and filter exists. */
	if (virtiofsd_start(&fsd, &cfg, drop.user ? drop.uid : (uid_t)-1,
			    drop.user ? drop.gid : (gid_t)-1, err, sizeof(err)) < 0) {
		log_err("%s", err);
		boot_files_close(&boot);
		return EXIT_HOST;
	}
	/* glibc reads /etc/localtime on the first time conversion (the RTC's, on a vCPU
	 * thread, which may not open files): do it now. */
	tzset();
	/* The API thread starts before the main thread's filter, which has no socket
	 * calls: its own filter is its whole filter. */
	if (cfg.api_socket[0] &&
	    api_open(&actx.api, cfg.api_socket, api_commands, api_nr_commands, cfg.seccomp) < 0) {
		virtiofsd_stop(&fsd);
		boot_files_close(&boot);
		return EXIT_CONFIG;
	}
	/* Migrations are started through the API; their thread too has its own filter. */
	if (actx.api && migrate_open(&actx.mig, cfg.seccomp) < 0) {
		api_close(actx.api);
		virtiofsd_stop(&fsd);
		boot_files_close(&boot);
		return EXIT_HOST;
	}
	/* From here on the main thread may only do what (re)creating and running a VM
	 * needs; the threads it starts narrow that further. */
	opt = seccomp_report_setup(cfg.seccomp);
	if (opt == 0)
		opt = seccomp_install(cfg.seccomp, SECCOMP_THREAD_MAIN);
	if (opt < 0) {
		log_err("cannot install the seccomp filter: %s; [security] seccomp = off runs "
			"without one",
			strerror(-opt));
		api_close(actx.api);
		virtiofsd_stop(&fsd);
		boot_files_close(&boot);
		return EXIT_HOST;
	}
	if (cfg.console.mode == CONSOLE_STDIO)
		tty_make_raw();
	actx.cfg = &cfg;

	pre[PRE_SETUP] = machine_now_ns();
	for (;;) {
		struct vm vm;

		/* A reboot loads the files again: they must still be what was checked at
		 * start. */
		if (rebooting && boot_files_reload(&boot, &cfg, err, sizeof(err)) < 0) {
			log_err("%s", err);
			code = EXIT_CONFIG;
			break;
		}
		rebooting = true;
		if (vm_create(&vm, &cfg, &boot.files, console_fd, t_start, in_fd >= 0) < 0) {
			code = EXIT_HOST;
			if (in_fd >= 0)
				code = incoming_refused(in_fd, "it cannot build the VM",
							vm.m.last_err[0] ? vm.m.last_err
									 : "see its log");
			break;
		}
		for (unsigned int i = 0; i < vm.nr_vcpus; i++)
			vm.vcpus[i].seccomp_test = getenv("MINIVMM_SECCOMP_TEST");
		/* --restore: the first VM resumes the saved one; a reboot later boots anew. */
		if (restore && snapshot_load(&vm, restore, err, sizeof(err)) < 0) {
			log_err("%s", err);
			vm_destroy(&vm);
			code = EXIT_CONFIG;
			break;
		}
		/* Restored devices that wait for a go (VFIO's RUNNING) get it now. */
		if (restore && vm_devices_activate(&vm, true, err, sizeof(err)) < 0) {
			log_err("snapshot %s: %s", restore, err);
			vm_destroy(&vm);
			code = EXIT_CONFIG;
			break;
		}
		if (restore)
			log_info("restored the VM saved in %s", restore);
		restore = NULL;
		if (in_fd >= 0) {
			struct migrate_figures fig;

			if (migrate_receive(&vm, in_fd, header, cfg.migration.timeout_s, &fig) <
			    0) {
				vm_destroy(&vm);
				code = EXIT_INCOMING;
				break;
			}
			/* info says how this guest came in */
			snprintf(fig.to, sizeof(fig.to), "%s", incoming);
			if (actx.mig)
				migrate_set_received(actx.mig, &fig);
		}
		in_fd = -1; /* migrate_receive closed it */
		/* Every device and file is open now: give up what is no longer needed.
		 * A reboot later recreates the VM as that user, inside that folder. */
		if (!dropped && privdrop_apply(&drop, err, sizeof(err)) < 0) {
			log_err("%s", err);
			vm_destroy(&vm);
			code = EXIT_HOST;
			break;
		}
		dropped = true;
		if (vm_start(&vm) < 0)
			log_err("vCPUs could not all start; stopping");
		actx.vm = &vm;
		actx.paused = false;
		actx.t_boot = machine_now_ns();
		why = event_loop(&vm, sfd, cfg.console.mode == CONSOLE_STDIO, &actx);
		migrate_abandon(actx.mig, actx.api); /* a migration must let go of the VM */
		actx.vm = NULL;
		for (int i = 0; i < MARK_COUNT; i++)
			marks[i] = atomic_load(&vm.m.stats.mark_ns[i]);
		vm_destroy(&vm);
		t_down = machine_now_ns();
		api_event(actx.api, stop_event(why), NULL);
		/* A triple fault resets a PC, and Linux's reboot=triple relies on it, so with
		 * on_reboot = restart it restarts the guest as QEMU does. With on_reboot =
		 * exit it is exit 3, not 0: a crashing guest ends the same way, and none of
		 * Linux's default reboot methods gets there on this machine (README). */
		if (why == VM_STOP_TRIPLE && cfg.on_reboot == ON_REBOOT_RESTART) {
			/* A guest that faults early does so again at once: log the first few
			 * and then at powers of two, so it cannot flood the log. */
			triples++;
			if (triples <= 3 || !(triples & (triples - 1)))
				log_warn(
				    "guest reset by a triple fault (%u in a row); restarting it "
				    "(on_reboot = restart)%s",
				    triples,
				    triples == 3 ? "; further ones logged at powers of 2" : "");
			t_start = machine_now_ns();
			continue;
		}
		triples = 0;
		if (why == VM_STOP_RESET && cfg.on_reboot == ON_REBOOT_RESTART) {
			log_info("guest rebooted; restarting it");
			t_start = machine_now_ns(); /* boot times of a restart count from here */
			continue;
		}
		code = why == VM_STOP_POWEROFF || why == VM_STOP_RESET || why == VM_STOP_MIGRATED
			   ? EXIT_OK
		       : why == VM_STOP_MIGRATE_UNSURE ? EXIT_UNSURE
		       : why == VM_STOP_SIGINT	       ? EXIT_SIGINT
		       : why == VM_STOP_SIGTERM	       ? EXIT_SIGTERM
						       : EXIT_GUEST;
		break;
	}
	tty_restore();
	if (marks[MARK_FIRST_RUN])
		log_timeline(t_start, pre, marks, t_down);
	log_info("%s (exit %d)",
		 code == EXIT_HOST	   ? "stopped: host set-up failed"
		 : code == EXIT_CONFIG	   ? "stopped: cannot restart the guest"
		 : code == EXIT_INCOMING   ? "stopped: the incoming migration failed"
		 : why == VM_STOP_POWEROFF ? "guest powered off"
		 : why == VM_STOP_MIGRATED ? "guest migrated to the destination"
		 : why == VM_STOP_MIGRATE_UNSURE
		     ? "stopped: migrated without the destination's confirmation"
		 : why == VM_STOP_RESET	  ? "guest rebooted (on_reboot = exit)"
		 : why == VM_STOP_SIGINT  ? "stopped by SIGINT"
		 : why == VM_STOP_SIGTERM ? "stopped by SIGTERM"
		 : why == VM_STOP_TRIPLE  ? "stopped: guest triple fault (on_reboot = exit)"
					  : "stopped: guest fault",
		 code);
	migrate_close(actx.mig);
	api_close(actx.api);
	virtiofsd_stop(&fsd);
	if (console_fd > STDOUT_FILENO)
		close(console_fd);
	close(sfd);
	boot_files_close(&boot);
	return code;
}
