/**
 * The two shell scripts of the guest kit's initramfs (busybox ash, run by the
 * guest kernel — not on the host):
 *
 *   /init    stage 1, PID 1 in the initramfs: loads the kernel modules in the
 *            order the kit resolved (virtio_ring → virtio → virtio_mmio …),
 *            mounts the root disk, puts the kit's busybox and stage 2 on a tmpfs
 *            at <root>/run/oneedge and switch_roots into the root disk.
 *   stage2   PID 1 in the VM's root: applies the CONTEXT volume (hostname,
 *            ETHx_* network, SSH keys, files, START_SCRIPT), runs busybox acpid
 *            so the ACPI power button shuts the guest down cleanly, reports
 *            readiness (a `ONEEDGE-READY` line on the console and, with a
 *            ONEGATE_ENDPOINT, an HTTP PUT like OneGate's), then runs the
 *            workload command if there is one (its exit powers the VM off) or idles.
 *
 * Console lines the host reads (the driver and tests match on them):
 *   ONEEDGE-PROBE-OK          the probe boot reached the initramfs
 *   ONEEDGE-READY             context applied, START_SCRIPT done
 *   ONEEDGE-EXIT <code>       the workload command exited with <code>
 *   ONEEDGE-POWEROFF          the power button was handled
 *
 * ash pitfalls: `mountpoint` is no busybox-static applet; `&;` is a syntax error.
 */

export const READY_MARK = 'ONEEDGE-READY';
export const PROBE_MARK = 'ONEEDGE-PROBE-OK';
export const EXIT_MARK = 'ONEEDGE-EXIT';

export const STAGE1 = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod /lib/modules/$m 2>/dev/null || echo "oneedge: insmod $m failed"; done < /lib/modules/load-order
ROOT=
INIT=
for x in $(cat /proc/cmdline); do
  case $x in
    root=*) ROOT=\${x#root=} ;;
    oneedge.init=*) INIT=\${x#oneedge.init=} ;;
    oneedge.probe=1) echo "${PROBE_MARK}"; sync; poweroff -f ;;
  esac
done
NEW=
if [ -n "$ROOT" ]; then
  i=0
  while [ ! -b "$ROOT" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  if mount -t ext4 -o rw "$ROOT" /newroot; then NEW=/newroot; else echo "oneedge: cannot mount root $ROOT"; fi
fi
if [ -z "$NEW" ]; then
  # No root disk: the initramfs itself is the root (diagnostics, probes).
  mkdir -p /run/oneedge
  cp /bin/busybox /stage2 /run/oneedge/
  exec /bin/busybox sh /run/oneedge/stage2
fi
mkdir -p /newroot/run /newroot/dev /newroot/proc /newroot/sys
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot/run/oneedge
cp /bin/busybox /stage2 /newroot/run/oneedge/
echo "ROOTDEV=$ROOT" > /newroot/run/oneedge/rootdev
mount --move /dev /newroot/dev
umount /sys
umount /proc
if [ -n "$INIT" ]; then exec switch_root /newroot "$INIT"; fi
exec switch_root /newroot /run/oneedge/busybox sh /run/oneedge/stage2
`;

export const STAGE2 = `#!/run/oneedge/busybox sh
K=/run/oneedge
B=$K/busybox
mkdir -p $K/bin
$B --install -s $K/bin
export PATH=$K/bin
USERPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$K/bin
mkdir -p /proc /sys /tmp /dev/pts
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devpts devpts /dev/pts 2>/dev/null
[ -f $K/rootdev ] && . $K/rootdev
# Console output as written: no CR before LF (the console log is read by programs).
stty -onlcr 2>/dev/null

# --- ACPI power button: stop everything, flush, power off
mkdir -p $K/acpi/PWRF
cat > $K/acpi/PWRF/00000080 <<'EOS'
#!/run/oneedge/busybox sh
export PATH=/run/oneedge/bin
echo "ONEEDGE-POWEROFF" > /dev/console
kill -TERM -1 2>/dev/null
sleep 0.1
sync
mount -o remount,ro / 2>/dev/null
# Firecracker has no ACPI power-off: its VMM exits when the guest resets (reboot=k).
grep -q oneedge.fc=1 /proc/cmdline && reboot -f
poweroff -f
EOS
chmod 755 $K/acpi/PWRF/00000080
acpid -c $K/acpi
# Ctrl-Alt-Del (Firecracker's SendCtrlAltDel) reaches PID 1 as SIGINT: the same clean power-off.
trap "$K/acpi/PWRF/00000080" INT

TTY=
for x in $(cat /proc/cmdline); do case $x in oneedge.tty=*) TTY=\${x#oneedge.tty=} ;; esac; done

# --- the CONTEXT volume (ISO 9660, volume id CONTEXT), copied to /context
mkdir -p $K/ctx /context
CTX=$(findfs LABEL=CONTEXT 2>/dev/null)
if [ -z "$CTX" ]; then
  for d in /dev/vd[a-z]; do
    [ "$d" = "$ROOTDEV" ] && continue
    if mount -t iso9660 -o ro "$d" $K/ctx 2>/dev/null; then
      if [ -f $K/ctx/context.sh ]; then CTX=$d; umount $K/ctx; break; fi
      umount $K/ctx
    fi
  done
fi
if [ -n "$CTX" ] && mount -t iso9660 -o ro "$CTX" $K/ctx 2>/dev/null; then
  cp -r $K/ctx/. /context/ 2>/dev/null
  umount $K/ctx
fi
# Every context variable is also in the environment of START_SCRIPT and the command (like containers).
set -a
[ -f /context/context.sh ] && . /context/context.sh
[ -f /context/.oneedge-env ] && . /context/.oneedge-env
set +a

# --- hostname
H=\${SET_HOSTNAME:-$HOSTNAME}
[ -n "$H" ] && hostname "$H" && echo "$H" > /etc/hostname 2>/dev/null

# --- network: ETHn_IP / _MASK / _MAC / _MTU / _GATEWAY / _DNS, interfaces matched by MAC.
#     $K/netcfg [IFACE] configures every NIC, or only IFACE (a hot-plugged one); resolv.conf from all.
cat > $K/netcfg <<'EOS'
#!/run/oneedge/busybox sh
export PATH=/run/oneedge/bin
ONLY=$1
set -a
[ -f /context/context.sh ] && . /context/context.sh
set +a
prefix_of() {
  echo "$1" | awk -F. '{ n = 0; for (i = 1; i <= 4; i++) { v = $i; while (v > 0) { n += v % 2; v = int(v / 2) } } print n }'
}
DNS=
n=0
while [ $n -lt 10 ]; do
  eval IP=\\$ETH\${n}_IP
  eval MASK=\\$ETH\${n}_MASK
  eval MAC=\\$ETH\${n}_MAC
  eval MTU=\\$ETH\${n}_MTU
  eval GW=\\$ETH\${n}_GATEWAY
  eval NDNS=\\$ETH\${n}_DNS
  IF=
  if [ -n "$MAC" ]; then
    for f in /sys/class/net/*/address; do
      if [ "$(cat $f)" = "$(echo $MAC | tr A-F a-f)" ]; then IF=\${f#/sys/class/net/}; IF=\${IF%/address}; fi
    done
  fi
  [ -z "$IF" ] && [ -z "$MAC" ] && [ -e /sys/class/net/eth$n ] && IF=eth$n
  if [ -n "$IF" ] && [ -n "$IP" ]; then
    if [ -z "$ONLY" ] || [ "$IF" = "$ONLY" ]; then
      [ -n "$MTU" ] && ip link set dev $IF mtu $MTU
      ip link set dev $IF up
      P=24
      [ -n "$MASK" ] && P=$(prefix_of $MASK)
      ip addr add $IP/$P dev $IF
      [ -n "$GW" ] && ip route add default via $GW dev $IF 2>/dev/null
      (arping -U -c 1 -I $IF $IP >/dev/null 2>&1 &)
    fi
    DNS="$DNS $NDNS"
  fi
  n=$((n + 1))
done
DNS="$DNS $DNS_SERVERS"
if [ -n "$(echo $DNS)" ]; then
  : > /etc/resolv.conf 2>/dev/null
  for s in $DNS; do echo "nameserver $s" >> /etc/resolv.conf; done
fi
EOS
ip link set lo up
sh $K/netcfg

# --- hot-plug (PCIe root ports, see the qemu driver's hotplug.ts): a disk with a serial (its DISK
#     TARGET) is mounted at /mnt/<serial>, at boot and when it arrives; a NIC that arrives re-reads
#     the CONTEXT volume (the host rewrote it first) and is configured from it.
cat > $K/mountdisk <<'EOS'
#!/run/oneedge/busybox sh
export PATH=/run/oneedge/bin
D=$1
S=$(cat /sys/block/$D/serial 2>/dev/null)
case "$S" in ''|*[!a-z0-9]*) exit 0 ;; esac
grep -q "^/dev/$D " /proc/mounts && exit 0
mkdir -p /mnt/$S
mount /dev/$D /mnt/$S 2>/dev/null || mount -o ro /dev/$D /mnt/$S 2>/dev/null || rmdir /mnt/$S 2>/dev/null
grep -q "^/dev/$D " /proc/mounts && echo "oneedge: disk $D mounted at /mnt/$S" > /dev/console
EOS
cat > $K/hotplug <<'EOS'
#!/run/oneedge/busybox sh
export PATH=/run/oneedge/bin
K=/run/oneedge
case "$SUBSYSTEM:$ACTION" in
  net:add)
    [ -z "$INTERFACE" ] || [ "$INTERFACE" = lo ] && exit 0
    CTX=$(cat $K/ctxdev 2>/dev/null)
    if [ -n "$CTX" ]; then
      blockdev --flushbufs "$CTX" 2>/dev/null
      if mount -t iso9660 -o ro "$CTX" $K/ctx 2>/dev/null; then
        cp -r $K/ctx/. /context/ 2>/dev/null
        umount $K/ctx
      fi
    fi
    sh $K/netcfg "$INTERFACE"
    echo "oneedge: nic $INTERFACE hot-plugged" > /dev/console
    ;;
  block:add)
    [ "$DEVTYPE" = disk ] && sh $K/mountdisk "$DEVNAME"
    ;;
  block:remove)
    [ "$DEVTYPE" = disk ] || exit 0
    for m in $(awk -v d="/dev/$DEVNAME" '$1 == d { print $2 }' /proc/mounts); do umount -l "$m"; done
    ;;
esac
EOS
chmod 755 $K/netcfg $K/mountdisk $K/hotplug
echo "$CTX" > $K/ctxdev
for b in /sys/block/vd*; do [ -e "$b/serial" ] && sh $K/mountdisk \${b##*/}; done
uevent $K/hotplug >/dev/null 2>&1 &

# --- SSH keys
if [ -n "$SSH_PUBLIC_KEY" ]; then
  mkdir -p /root/.ssh && chmod 700 /root/.ssh
  touch /root/.ssh/authorized_keys
  echo "$SSH_PUBLIC_KEY" | while read -r key; do
    [ -n "$key" ] && ! grep -qxF "$key" /root/.ssh/authorized_keys && echo "$key" >> /root/.ssh/authorized_keys
  done
  chmod 600 /root/.ssh/authorized_keys
fi

# --- interactive console (VNC)
if [ -n "$TTY" ] && [ -e /dev/$TTY ]; then
  (while :; do setsid sh -c "exec env PATH=$USERPATH sh -l </dev/$TTY >/dev/$TTY 2>&1"; sleep 1; done) &
fi

# --- START_SCRIPT, then readiness
SCRIPT=
if [ -n "$START_SCRIPT" ]; then SCRIPT="$START_SCRIPT";
elif [ -n "$START_SCRIPT_BASE64" ]; then SCRIPT="$(echo "$START_SCRIPT_BASE64" | base64 -d)"; fi
if [ -n "$SCRIPT" ]; then
  echo "$SCRIPT" > $K/start.sh
  (cd /; PATH=$USERPATH sh $K/start.sh)
  echo "start.sh exited with $?"
fi
# --- the workload command (application VMs) starts before readiness is reported; its exit powers the VM off
CMD=
if [ -f /context/.oneedge-command ]; then
  (cd /; PATH=$USERPATH exec sh /context/.oneedge-command) &
  CMD=$!
fi
echo "${READY_MARK} $(hostname)"
if [ -n "$ONEGATE_ENDPOINT" ]; then
  HP=\${ONEGATE_ENDPOINT#*://}
  HP=\${HP%%/*}
  GH=\${HP%:*}
  GP=\${HP##*:}
  [ "$GP" = "$HP" ] && GP=80
  BASE=\${ONEGATE_ENDPOINT#*://$HP}
  printf 'PUT %s/vm HTTP/1.0\\r\\nHost: %s\\r\\nX-ONEGATE-TOKEN: %s\\r\\nX-ONEGATE-VMID: %s\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\nContent-Length: 9\\r\\n\\r\\nREADY=YES' \\
    "$BASE" "$HP" "$ONEGATE_TOKEN" "$VMID" | nc -w 5 "$GH" "$GP" > $K/onegate.out 2>&1
  echo "oneedge: onegate $(head -1 $K/onegate.out)"
fi

if [ -n "$CMD" ]; then
  wait $CMD
  rc=$?
  echo "${EXIT_MARK} $rc"
  sync
  mount -o remount,ro / 2>/dev/null
  poweroff -f
fi
while :; do sleep 3600 & wait $!; done
`;
