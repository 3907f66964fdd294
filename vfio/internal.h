/* What the files of vfio/ share: the per-VM VFIO state, the passed-through PCI device,
 * and the pure helpers the unit tests call (sysfs discovery, BAR splitting, config
 * space virtualization) on fake trees and buffers.
 *
 * Files: vfio.c (entry points: the start-up phases and their undo), kvm_vfio.c (the
 * KVM-VFIO device, which vfio.c creates and the backends register with), sysfs.c (PCI
 * discovery, checks, bind = auto), mdev.c (mediated devices, VFIO cdevs, the choice of
 * backend; sysfs.c calls it, never the other way), sysfs_path.c (the sysfs helpers
 * both of them use), container.c (legacy IOMMU backend), iommufd.c (iommufd backend),
 * pci.c (the device: regions, BARs), pci_cfg.c (config space), pci_irq.c (INTx, MSI,
 * MSI-X). Calls go one way: vfio.c -> the rest; the backends -> kvm_vfio.c. */
#ifndef MINIVMM_VFIO_INTERNAL_H
#define MINIVMM_VFIO_INTERNAL_H

#include <linux/vfio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "vmm/config.h"
#include "vmm/mem.h"

struct machine;
struct vfio_iommu;
struct vfio_iommu_ops;

#define VFIO_MAX_DEVICES CONFIG_MAX_VFIO
#define VFIO_BDF_LEN	 16 /* "0000:00:04.0" and its NUL, with room */
#define VFIO_ADDR_LEN	 40 /* a UUID (36 characters) and its NUL; a BDF is shorter */
#define VFIO_DRV_LEN	 64
#define VFIO_CDEV_LEN	 16 /* "vfio123" */

/* ---- sysfs.c, mdev.c: one host device as found before anything is touched ---- */

/* What sysfs says about a device's VFIO cdev (<sysdev>/vfio-dev/vfioN). */
enum vfio_cdev_state {
	VFIO_CDEV_UNKNOWN, /* not looked at: the device is not on a VFIO driver yet */
	VFIO_CDEV_OK,	   /* vfioN with a dev node: /dev/vfio/devices/vfioN */
	VFIO_CDEV_NO_DIR,  /* no vfio-dev folder */
	VFIO_CDEV_EMPTY,   /* a vfio-dev folder with no vfioN in it */
	VFIO_CDEV_NO_NODE, /* vfioN without a dev: VFIO built without device cdevs */
};

struct vfio_host {
	const struct config_vfio *cfg;
	/* The name VFIO knows the device by: a PCI address ("0000:00:04.0") or, for a
	 * mediated device, its UUID. */
	char addr[VFIO_ADDR_LEN];
	bool mdev;
	char sysdev[PATH_MAX];	  /* its sysfs folder as the user writes it (/sys/...) */
	char mdev_type[64];	  /* mdev: its type ("mtty-2"), for the log */
	char cdev[VFIO_CDEV_LEN]; /* "vfio0" when cdev_state is VFIO_CDEV_OK */
	enum vfio_cdev_state cdev_state;
	int group;		     /* IOMMU group number */
	uint32_t class;		     /* 24-bit class code */
	char driver[VFIO_DRV_LEN];   /* bound driver at start, "" for none */
	char override[VFIO_DRV_LEN]; /* driver_override at start, "" for none */
	bool rebound;		     /* we moved it to vfio-pci (bind = auto) */
	int device_fd;		     /* VFIO device fd once attached, else -1 */
	bool gone;		     /* removed while the VM ran: a free slot */
};

/* Normalizes "0000:00:04.0" or "00:04.0" (hex, any case) into out ("0000:00:04.0").
 * Returns 0 or -EINVAL. */
int vfio_bdf_normalize(const char *in, char out[VFIO_BDF_LEN]);
/* sysfs_path.c: the last component of the symlink at path in buf ("" if there is no
 * such link); -errno for other failures. */
int vfio_link_name(const char *path, char *buf, size_t len);
/* Where the sysfs path sys ("/sys/...") is under root ("/sys" or a fake tree). */
void vfio_sys_path(const char *root, const char *sys, char *out, size_t len);

/* Fills h from sysfs (root is "/sys", or a fake tree): the device exists, its driver,
 * driver_override, class and IOMMU group. On a problem returns -errno with one message
 * in err naming the device and the fix; nothing is changed on the host. */
int vfio_host_probe(const char *root, const struct config_vfio *c, struct vfio_host *h, char *err,
		    size_t errlen);
/* The device must be bound to vfio-pci unless bind = auto: -EBUSY with the commands
 * that hand it over otherwise. */
int vfio_host_check_driver(const struct vfio_host *h, char *err, size_t errlen);
/* Every other device of h's IOMMU group must be bound to vfio-pci or to no driver
 * (bridges aside, and the devices among vm_hosts[0..n) that bind = auto is about to
 * move), else -EBUSY naming the first one that is not, its driver and the commands
 * that fix it. */
int vfio_group_check(const char *root, const struct vfio_host *h, const struct vfio_host *vm_hosts,
		     unsigned int n, char *err, size_t errlen);

/* One line of /sys/kernel/iommu_groups/N/reserved_regions. */
struct vfio_resv {
	uint64_t start, end; /* inclusive */
	char type[24];	     /* msi, direct, direct-relaxable, reserved */
};
/* Reads group's reserved regions; returns how many (<= max) or -errno. */
int vfio_group_reserved(const char *root, int group, struct vfio_resv *r, int max);
/* -ERANGE with a message if a guest RAM region overlaps a reserved region. */
int vfio_ram_check_reserved(const struct vfio_resv *r, int n, const struct guest_mem *mem,
			    const struct vfio_host *h, char *err, size_t errlen);
/* -ENOMEM with a message if ram bytes cannot be pinned under memlock_cur (bytes;
 * RLIM_INFINITY for none) without CAP_IPC_LOCK. */
int vfio_memlock_check(uint64_t ram, uint64_t memlock_cur, bool cap_ipc_lock, char *err,
		       size_t errlen);
/* Whether this process has CAP_IPC_LOCK in its effective set. */
bool vfio_have_cap_ipc_lock(void);

/* bind = auto: moves h to vfio-pci (driver_override + drivers_probe); sets h->rebound
 * when it did. Returns 0 or -errno with a message in err (h is then restored). */
int vfio_host_bind(const char *root, struct vfio_host *h, char *err, size_t errlen);
/* Gives h back to the driver it had (if we moved it); clears h->rebound. */
void vfio_host_restore(const char *root, struct vfio_host *h);

/* ---- mdev.c ---- */

/* Whether s is a UUID (8-4-4-4-12 hex digits), the name of a mediated device. */
bool vfio_is_uuid(const char *s);
/* vfio_host_probe for the mediated device c->sysfs (its last component is a UUID):
 * it exists (else -ENODEV with the command that creates it and the types this host
 * offers), it is a VFIO device (IOMMU group), its type and cdev. */
int vfio_mdev_probe(const char *root, const struct config_vfio *c, struct vfio_host *h, char *err,
		    size_t errlen);
/* Sets h->cdev and h->cdev_state from <sysdev>/vfio-dev. */
void vfio_host_find_cdev(const char *root, struct vfio_host *h);
/* The backend for [vfio] backend = want, given whether /dev/iommu exists and each
 * device's cdev state. With want = iommufd every device needs a cdev: -ENODEV with
 * one message naming the first that has none (hosts whose state is still unknown,
 * because bind = auto has not moved them yet, pass unless final). auto takes iommufd
 * when it can, else legacy. Sets *ops and a reason for the log in why. */
int vfio_backend_pick(enum vfio_backend want, bool have_iommufd, const struct vfio_host *hosts,
		      unsigned int n, bool final, const struct vfio_iommu_ops **ops, char *why,
		      size_t whylen, char *err, size_t errlen);

/* ---- container.c ---- */

/* 0 if [iova, iova + size) lies inside one of the n valid ranges (n == 0: unknown,
 * accepted), else -ERANGE. */
int vfio_iova_check(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size);
/* Both backends: vfio_iova_check with the message for the user; and the message for a
 * failed map (op names the ioctl). */
int vfio_map_check(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size);
void vfio_map_failed(const char *op, uint64_t iova, uint64_t size, int ret);

/* ---- vfio.c: per-VM state ---- */

struct vfio_pci;

struct vfio_vm {
	struct machine *mach;
	const struct config *cfg; /* its [vfio] and [vfio.NAME] sections */
	const char *sysfs;	  /* "/sys" */
	const char *dev_root;	  /* "/dev" */
	const struct vfio_iommu_ops *iommu_ops;
	struct vfio_iommu *iommu;
	int kvm_vfio_fd; /* KVM_DEV_TYPE_VFIO, one per VM */
	struct vfio_host hosts[VFIO_MAX_DEVICES];
	unsigned int nr_hosts;
	int nr_mapped; /* guest RAM regions mapped in the IOMMU */
};

/* ---- kvm_vfio.c ---- */

/* Creates the VM's KVM-VFIO device; its fd, or -errno after one message. */
int vfio_kvm_create(int vm_fd);
/* Adds (add) or removes a VFIO group or device fd to/from the KVM-VFIO device. */
int vfio_kvm_file(int kvm_vfio_fd, int fd, bool add);

/* ---- pci.c: BAR layout ---- */

struct vfio_area {
	uint64_t off, len;
};
struct vfio_piece {
	uint64_t off, len;
	bool mmap;
};
/* Splits a BAR [0, size) into pieces to mmap (inside an mmap-able area, whole pages,
 * not touching a trapped range) and pieces to trap (the rest: the pages of the MSI-X
 * table and PBA, parts the region cannot mmap, a tail beyond the region). Sorted,
 * adjacent pieces of one kind merged. Returns the number of pieces or -E2BIG. */
int vfio_bar_split(uint64_t size, const struct vfio_area *mm, int n_mm,
		   const struct vfio_area *trap, int n_trap, uint64_t page, struct vfio_piece *out,
		   int max);

/* ---- the passed-through device ---- */

#define VFIO_MAX_PARTS 8
#define VFIO_MAX_CAPS  24
#define VFIO_MSI_MAX   32

struct vfio_bar_part {
	struct vfio_pci *vp;
	int bar;
	uint64_t off, len; /* within the BAR */
	bool mmap;	   /* else trapped: bus range, forwarded or MSI-X */
	void *hva;	   /* the mmap of this part of the region */
	int slot;	   /* memslot while mapped, -1 */
	uint64_t gpa;	   /* where it is mapped */
	bool mapped;
};

struct vfio_bar {
	uint64_t region_off, region_size; /* in the device fd */
	uint32_t flags;			  /* VFIO_REGION_INFO_FLAG_* */
	bool io;
	struct vfio_bar_part parts[VFIO_MAX_PARTS];
	int nr_parts;
};

/* A capability the guest sees whose body reads and writes go to the device. */
struct vfio_cap_map {
	uint16_t goff, doff, len; /* guest offset, device offset, bytes */
	uint16_t hdr;		  /* leading bytes that stay emulated (ID, next pointer) */
};

enum vfio_irq_mode { VFIO_IRQ_NONE, VFIO_IRQ_INTX, VFIO_IRQ_MSI, VFIO_IRQ_MSIX };

struct vfio_msi {
	uint32_t cap;	  /* guest offset of the emulated capability, 0: none */
	bool is64, pvm;	  /* 64-bit address, per-vector masking */
	unsigned int max; /* vectors the device can do (MMC) */
	unsigned int nr;  /* vectors enabled now, 0: disabled */
	int efd[VFIO_MSI_MAX];
	int gsi[VFIO_MSI_MAX];
	bool live[VFIO_MSI_MAX]; /* irqfd connected */
	uint64_t addr;
	uint32_t data, mask;
};

/* Config space of the real device (the VFIO config region; a buffer in tests). */
struct vfio_cfg_io {
	int (*rd)(void *opaque, uint32_t off, void *buf, uint32_t len);
	int (*wr)(void *opaque, uint32_t off, const void *buf, uint32_t len);
	void *opaque;
};

/* The device's VFIO migration (pci_mig.c). */
struct vfio_mig {
	uint64_t flags;	  /* VFIO_MIGRATION_*; 0: the driver cannot migrate it */
	bool logging;	  /* it offers DMA logging */
	bool logging_on;  /* and it runs */
	bool loaded;	  /* destination: state loaded, waiting to run (activate) */
	uint32_t state;	  /* enum vfio_device_mig_state, as last set */
	int data_fd;	  /* of PRE_COPY, STOP_COPY or RESUMING; -1 */
	uint64_t bytes;	  /* device data read by this migration so far */
	bool info_logged; /* VFIO_MIG_GET_PRECOPY_INFO's first answer logged */
	char why[200];	  /* the last failure */
	/* The IOMMU's dirty tracking (iommufd): the HWPT that can record the device's DMA
	 * writes (0: none, and untracked says why), and whether it does for this
	 * migration (used where the device's own DMA logging is not). */
	uint32_t hwpt;
	bool hwpt_on;
	char untracked[200];
};

struct vfio_pci {
	struct pci_dev pci;
	struct vfio_vm *vv;
	struct vfio_host *host;
	struct machine *mach;
	char name[CONFIG_NAME_MAX + VFIO_ADDR_LEN + 8]; /* "vfio.nvme (0000:00:04.0)" */
	int fd; /* VFIO device fd (host->device_fd); -1 in unit tests */
	struct vfio_device_info info;
	uint64_t cfg_region_off, cfg_region_size;
	/* The expansion ROM, read once from VFIO's ROM region (it cannot be mmap'd and does
	 * not change): the guest's reads of the ROM BAR are served from it. NULL: none. */
	uint8_t *rom;
	uint64_t rom_size;
	struct vfio_cfg_io cfg;
	struct vfio_cap_map caps[VFIO_MAX_CAPS];
	int nr_caps;
	struct vfio_bar bars[PCI_NR_BARS];
	bool has_msix;
	struct msix msix;
	struct vfio_msi msi;
	uint8_t pin; /* INTx pin, 0: none */
	int intx_efd, intx_resample;
	uint32_t intx_gsi;
	/* Drivers without an unmask eventfd (mdev samples): a thread unmasks on EOI. */
	pthread_t intx_thread;
	int intx_stop; /* eventfd that ends intx_thread, -1 when it does not run */
	bool intx_thread_logged;
	enum vfio_irq_mode mode;
	unsigned int mode_logs; /* mode switches logged so far */
	pthread_mutex_t irq_lock;
	int watch_efd[2]; /* device request, error: eventfds the main thread watches */
	struct vfio_mig mig;
};

/* pci.c */
/* Builds the guest's PCI device for h (attached: h->device_fd is open) and registers
 * it with the PCI core. Returns 0 or -errno after one message, nothing left behind. */
int vfio_pci_create(struct vfio_vm *vv, struct vfio_host *h, struct vfio_pci **out);
/* Stops interrupts, unmaps BARs and resets the device; the fd stays attached. */
void vfio_pci_teardown(struct vfio_pci *vp);

/* pci_mig.c holds the device kind (vfio_pci_device_ops): it makes the function with
 * vfio_pci_create, probes and drives its migration, and tears it down. */

/* pci_cfg.c: builds the guest's view in vp->pci (ids, capabilities; BARs are pci.c's)
 * from the real config space read through vp->cfg. Returns 0 or -errno. */
int vfio_cfg_build(struct vfio_pci *vp);
void vfio_cfg_read(struct pci_dev *dev, uint32_t off, uint8_t *data, uint32_t len);
void vfio_cfg_write(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len);

/* pci_irq.c: puts the device's interrupts in the mode the guest's config asks for
 * (MSI-X if enabled, else MSI if enabled, else INTx if it has a pin). */
void vfio_irq_update(struct vfio_pci *vp);
void vfio_irq_msix_enable(struct msix *m, bool enabled, void *opaque);
void vfio_irq_teardown(struct vfio_pci *vp);
/* The device-request interrupt (the host wants the device back: an unbind from
 * vfio-pci waits for the VMM) and the error interrupt (AER), as eventfds the main
 * thread watches (machine_watch); a device without them works without. */
void vfio_irq_watch_start(struct vfio_pci *vp);
void vfio_irq_watch_stop(struct vfio_pci *vp);
/* After a migration or restore, with the device running: its INTx (if that is what it
 * uses) is signalled once. An injection KVM still had queued when the source saved
 * its irqchip is lost, and a device like mtty, which signals only when its FIFO
 * reaches the trigger level, would never signal again; a driver finds nothing to do
 * on a spurious one. */
void vfio_irq_kick(struct vfio_pci *vp);
/* The MSI data value vector i of nr sends, given what the guest wrote. */
uint32_t vfio_msi_data(uint32_t data, unsigned int nr, unsigned int i);

/* The guest-side PCI function of a passed-through device (pci.c); the unit tests drive
 * its BAR mapping directly. */
extern const struct pci_dev_ops vfio_pci_ops;

#endif
