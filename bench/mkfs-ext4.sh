#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mkfs-ext4.sh DEVICE: the host's mkfs.ext4 in the VM, with the host's root
# at /host (scripts/vm.sh --virtfs) and the host's loader and libraries.
L=/host/usr/lib/x86_64-linux-gnu
export MKE2FS_CONFIG=/host/etc/mke2fs.conf
exec "$L/ld-linux-x86-64.so.2" --library-path "$L" /host/usr/sbin/mke2fs \
	-t ext4 -q -F -E nodiscard "${1:?usage: mkfs-ext4.sh DEVICE}"
