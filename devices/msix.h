/* MSI-X emulation shared by virtio-pci and VFIO passthrough.
 *
 * The guest's view: an MSI-X capability in config space and a vector table plus PBA
 * inside one of the device's BARs. Each vector owns an eventfd and a GSI. While MSI-X is
 * enabled and the vector (and the function) unmasked, the eventfd is connected to the
 * GSI with KVM_IRQFD, so a signal on it is injected by KVM with no VMM thread involved:
 * virtio writes to the eventfd, VFIO hands the eventfds to the device. Masking
 * disconnects the irqfd; a signal that arrives meanwhile stays counted in the eventfd
 * and KVM delivers it when the vector is unmasked and the irqfd reconnected. The PBA
 * shows that counted state: a vector's bit is set while it is masked and its eventfd
 * holds a signal.
 *
 * Locking: m->lock guards the table and the irqfd state; table accesses come from vCPU
 * threads, notifications from device threads. */
#ifndef MINIVMM_MSIX_H
#define MINIVMM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct machine;
struct pci_dev;

#define MSIX_ENTRY_SIZE	 16
#define MSIX_NO_VECTOR	 0xffff
#define MSIX_MAX_VECTORS 2048 /* the spec's limit */

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the table entry as the guest wrote it */
	int efd;			       /* eventfd that signals this vector */
	int gsi;   /* KVM GSI carrying its MSI route, -1 until first unmasked */
	bool live; /* irqfd currently connected */
};

struct msix {
	struct machine *mach;
	struct pci_dev *dev;
	pthread_mutex_t lock;
	unsigned int nr;
	struct msix_vector *v;
	uint32_t cap; /* capability offset in config space */
	int bar;
	uint32_t table_off, pba_off; /* within the BAR */
	bool enabled, fn_masked;
	/* Optional: told when MSI-X is enabled or disabled (VFIO reprograms the device's
	 * interrupts then). Called with m->lock NOT held. */
	void (*on_enable)(struct msix *m, bool enabled, void *opaque);
	void *opaque;
};

/* Adds the MSI-X capability (nr_vectors, table and PBA in BAR bar at the given
 * offsets) to dev and creates one eventfd per vector. Before pci_register. */
int msix_init(struct msix *m, struct pci_dev *dev, unsigned int nr_vectors, int bar,
	      uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *m);

/* BAR accesses that fall in the table / PBA (off relative to their start). Accesses
 * must be 4 or 8 bytes and aligned; others are ignored (reads return all ones). */
void msix_table_access(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void msix_pba_access(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Size in bytes of the table and of the PBA. */
uint32_t msix_table_size(const struct msix *m);
uint32_t msix_pba_size(const struct msix *m);

/* From the device's cfg_write hook after any config write: reacts if [off, off+len)
 * touched the capability's message control (enable, function mask). */
void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len);

bool msix_enabled(const struct msix *m);

struct device_stream;
/* The table (address, data, mask per vector) into out, and back; load then applies the
 * enable and function-mask bits of the (already restored) config space, which routes
 * the unmasked vectors. -EINVAL for another vector count or a short stream. */
void msix_save(struct msix *m, struct device_stream *out);
int msix_load(struct msix *m, struct device_stream *in);
/* Signals vector (virtio). Returns 0, or -EINVAL for MSIX_NO_VECTOR / out of range. */
int msix_notify(struct msix *m, unsigned int vector);
/* The eventfd behind vector (its irqfd while unmasked), for a process outside minivmm
 * to signal; -1 for no such vector. */
int msix_vector_fd(struct msix *m, unsigned int vector);

#endif
