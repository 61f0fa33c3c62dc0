#!/bin/sh
# Print the newest installed Debian 6.1 kernel version that has headers,
# e.g. "6.1.0-56-amd64". Debian bumps the ABI number, so never hard-code it.
for d in $(ls -d /lib/modules/6.1.*-amd64 2>/dev/null | sort -V -r); do
	if [ -d "$d/build" ] && [ -f "/boot/vmlinuz-${d##*/}" ]; then
		echo "${d##*/}"
		exit 0
	fi
done
# Not installed yet: setup.sh will install it; print nothing.
exit 0
