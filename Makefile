# SPDX-License-Identifier: MIT
# kws top-level build.
#   make                 kernel/kws.ko for $(KVER) plus the userspace parts
#   make KVER=6.12       the module for another installed kernel (6.1, 6.12,
#                        6.12-rt or a full release name)
#   make modules-all     the module for every kernel the VM tests boot
#   make check           host tests, static checks, then the selftests in the
#                        VM on 6.1, 6.12 and 6.12-rt; ends with "N passed, N failed"
#   make demo            the demo (README)
#   make deps            install build and test dependencies (apt-get)

KVER ?= 6.1
KREL := $(shell . tools/vm/kernels; kws_kernel_release $(KVER))
KDIR ?= $(shell . tools/vm/kernels; kws_kernel_kdir $(KVER))
# Each kernel gets its own copy of the module sources so builds for different
# kernels never share objects.
MODDIR := build/mod/$(KREL)
MODSRC := Kbuild kernel codec include

USER_DIRS := codec lib selftests tools selftests/stress selftests/interop \
	tests/conformance

.PHONY: check-debug bench all module modules-all sparse userspace check check-host check-static \
	check-vm demo deps clean $(USER_DIRS)

all: module userspace

module:
	@test -n "$(KREL)" || { echo "no installed kernel matches KVER=$(KVER) (run make deps)" >&2; exit 1; }
	@mkdir -p $(MODDIR)
	@cp -Rp $(MODSRC) $(MODDIR)/
	@# kernel/ also holds the modules built for other kernels; a copied
	@# kws.ko newer than the objects would be taken as this kernel's.
	@rm -f $(MODDIR)/kernel/*.ko
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(MODDIR) modules
	@cp -p $(MODDIR)/kernel/kws.ko kernel/kws-$(KREL).ko
	@if [ "$(KVER)" = 6.1 ]; then cp -p $(MODDIR)/kernel/kws.ko kernel/kws.ko; fi

modules-all:
	@for k in 6.1 6.12 6.12-rt; do $(MAKE) --no-print-directory module KVER=$$k || exit 1; done

# Sparse over the module for one kernel: make sparse KVER=6.12
sparse:
	@mkdir -p $(MODDIR) && cp -Rp $(MODSRC) $(MODDIR)/
	@rm -f $(MODDIR)/kernel/*.ko
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(MODDIR) C=2 CF="-D__CHECK_ENDIAN__" modules

userspace: $(USER_DIRS)

$(USER_DIRS):
	@if [ -f $@/Makefile ]; then $(MAKE) -C $@ all; fi

check:
	@tools/check

# The reliability lane: every VM test on the 6.12 debug kernel (KASAN,
# lockdep, ...), built on first use (Documentation/reliability.md).
check-debug:
	@tools/vm/debug-kernel >/dev/null
	@tools/check --kernels debug --no-static --no-host

demo:
	@tools/demo

deps:
	@tools/deps

clean:
	rm -rf build kernel/*.ko
	@for d in $(USER_DIRS); do [ -f $$d/Makefile ] && $(MAKE) -C $$d clean; done; true

# Benchmarks (Documentation/performance.md): make bench [QUICK=1]
bench:
	@tools/bench/run $(if $(QUICK),--quick)
