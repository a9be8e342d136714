#!/bin/bash
# Installs, upgrades (to itself with a higher version), removes and purges a Debian package in a throwaway root,
# and prints what each step left, as KEY: VALUE lines for the package test to check. The throwaway root is this
# machine's root file system seen through an overlay whose changes go to a memory file system: run it in a mount
# namespace of its own (`unshare --mount --propagation private`), and everything it made is gone when it ends.
# Nothing of the machine's own is written: the package's scripts run chrooted into the overlay.
#
#   package_in_throwaway_root.sh WORK_DIR PACKAGE.deb      (as root; WORK_DIR: an empty folder of the caller's)
#
# Exit status: 0 when every step ran, 3 when this machine cannot be seen whole through an overlay (no overlayfs, or
# /usr or /var on file systems of their own, which an overlay of / does not show), 1 on any other failure.
set -euo pipefail

work=${1:?WORK_DIR}
deb=${2:?PACKAGE.deb}
[ -d "$work" ] && [ -f "$deb" ] || { echo "usage: $0 WORK_DIR PACKAGE.deb" >&2; exit 1; }
# Mounts made here must stay in this namespace: refuse to run where they would show on the machine.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || {
  echo "$0: run me in a mount namespace of my own (unshare --mount --propagation private)" >&2
  exit 1
}

layers=$work/layers
mkdir -p "$layers"
mount -t tmpfs -o size=1g,mode=0700 throwaway "$layers"
mkdir "$layers/upper" "$layers/work" "$layers/root"
if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$layers/root"; then
  echo "no overlay file system here" >&2
  exit 3
fi
root=$layers/root
if [ ! -x "$root/usr/bin/dpkg" ] || [ ! -f "$root/var/lib/dpkg/status" ]; then
  echo "the overlay of / shows no dpkg or no package database: /usr or /var is a file system of its own" >&2
  exit 3
fi
# No /proc: nothing the package runs needs it, and the machine's would let a script reach beyond the overlay.
mount -t tmpfs -o mode=0755 run "$root/run"   # no /run/systemd/system: the scripts start no service
mount -t tmpfs -o mode=1777 tmp "$root/tmp"
# The devices the package's scripts may use, and nothing else of /dev.
mount -t tmpfs -o mode=0755 dev "$root/dev"
for device in null zero random urandom; do
  touch "$root/dev/$device"
  mount --bind "/dev/$device" "$root/dev/$device"
done
cp "$deb" "$root/tmp/package.deb"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
show() { echo "$1: $(in_root sh -c "$2" 2>&1 || true)"; }

# A machine with Ferry installed gives a root with Ferry's user and data: start from one without.
if in_root dpkg-query -W ferry >/dev/null 2>&1; then in_root dpkg -P ferry >&2; fi
in_root sh -c 'rm -rf /var/lib/ferry; if getent passwd ferry >/dev/null; then userdel ferry; fi;
  if getent group ferry >/dev/null; then groupdel ferry; fi'

in_root dpkg -i /tmp/package.deb >&2
show installed "dpkg-query -W -f='\${Status} \${Version}' ferry"
show user "getent passwd ferry | cut -d: -f6,7"
show group "getent group ferry | cut -d: -f1"
show data-root "stat -c '%U:%G %a' /var/lib/ferry"
show data-files "cd /var/lib/ferry && stat -c '%n %U' ferry.db ferryd.toml tls/key.pem ssh/host_ed25519_key | tr '\n' ' '"
show enabled "readlink /etc/systemd/system/multi-user.target.wants/ferryd.service"
show unit-exec "grep '^ExecStart=' /lib/systemd/system/ferryd.service"
show ferryd "ferryd --version"
show ferry "ferry --version"
show man "man -w ferryd.toml"
show add "printf 'pw\n' | ferryd user add --password-stdin alice >/dev/null && stat -c '%U' /var/lib/ferry/homes/alice"

# An upgrade, to the same files as a later version (the package rebuilt with its version raised), so that dpkg
# runs the scripts' upgrade paths (prerm upgrade, postinst configure OLD-VERSION). Before it the administrator
# disables the service and edits a conffile; the upgrade keeps both, and the data root as it is.
in_root sh -c 'umask 022 && dpkg-deb -R /tmp/package.deb /tmp/next &&
  sed -i "s/^Version: .*/&+next1/" /tmp/next/DEBIAN/control && dpkg-deb -Znone -b /tmp/next /tmp/next.deb >/dev/null'
# What `systemctl disable` does (offline, in the root), where the root has no systemctl.
if [ -x "$root/bin/systemctl" ]; then
  in_root SYSTEMD_OFFLINE=1 systemctl disable ferryd.service >&2
else
  rm -f "$root/etc/systemd/system/multi-user.target.wants/ferryd.service"
fi
echo '# kept across upgrades' >>"$root/etc/logrotate.d/ferryd"
# Every file of the data root: its content, owner and mode.
data_root() { in_root sh -c 'cd /var/lib/ferry && find . -type f | sort | while read -r f; do
  echo "$(sha256sum <"$f") $(stat -c "%U:%G %a" "$f") $f"; done'; }
data_before=$(data_root)
in_root dpkg -i /tmp/next.deb >&2
data_after=$(data_root)
echo "data-after-upgrade: $([ -n "$data_before" ] && [ "$data_before" = "$data_after" ] && echo unchanged || echo changed)"
show upgraded "dpkg-query -W -f='\${Status} \${Version}' ferry"
show after-upgrade "ferryd user list | tr '\n' ' '"
show enabled-after-upgrade "test -e /etc/systemd/system/multi-user.target.wants/ferryd.service && echo enabled || echo disabled"
show conffile-after-upgrade "tail -n 1 /etc/logrotate.d/ferryd"

in_root dpkg -r ferry >&2
show removed "dpkg-query -W -f='\${Status}' ferry"
show program-after-remove "test -e /usr/sbin/ferryd && echo present || echo absent"
show data-after-remove "test -f /var/lib/ferry/ferry.db && echo kept || echo gone"
show conffile-after-remove "test -f /etc/logrotate.d/ferryd && echo kept || echo gone"

in_root dpkg -P ferry >&2
show data-after-purge "test -e /var/lib/ferry && echo kept || echo gone"
show conffile-after-purge "test -e /etc/logrotate.d/ferryd && echo kept || echo gone"
show user-after-purge "getent passwd ferry >/dev/null && echo kept || echo gone"
