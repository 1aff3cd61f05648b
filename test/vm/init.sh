#!/bin/busybox sh
# /init of the VM's initramfs (static busybox): loads the modules the kernel needs for its disk,
# the 9p shares and FUSE, mounts the root image and the shares, and hands PID 1 to guest.sh.
# Any failure here ends PID 1, and the kernel (panic=-1, qemu -no-reboot) powers the VM off.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t devtmpfs dev /dev
while read -r m; do
  insmod "/$m" || echo "init: insmod $m failed"
done </modules.list
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 /dev/vda /newroot || { echo "init: cannot mount the root image"; exit 1; }
mkdir -p /newroot/mnt/share /newroot/mnt/src
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /newroot/mnt/share || exit 1
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro src /newroot/mnt/src || exit 1
# The host's Kubernetes and containerd builds, when the run has a kube stage.
for tag in kube containerd; do
  grep -qx "$tag" /newroot/mnt/share/shares 2>/dev/null || continue
  mkdir -p "/newroot/mnt/$tag"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro "$tag" "/newroot/mnt/$tag" || exit 1
done
mount --move /dev /newroot/dev
if grep -q 'procview.init=systemd' /proc/cmdline; then
  # systemd as PID 1, guest.sh its one service (the image is a snapshot: these files go away).
  u=/newroot/etc/systemd/system
  cat >$u/procview-guest.service <<EOF
[Unit]
Description=procview cgroup v2 VM stages
Wants=dbus.service
After=dbus.service systemd-tmpfiles-setup.service
[Service]
Type=oneshot
ExecStart=/bin/bash /mnt/src/test/vm/guest.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
EOF
  mkdir -p $u/multi-user.target.wants
  ln -sf ../procview-guest.service $u/multi-user.target.wants/procview-guest.service
  for m in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer etcd.service; do
    ln -sf /dev/null "$u/$m"
  done
  umount /proc
  exec switch_root /newroot /lib/systemd/systemd
fi
umount /proc
exec switch_root /newroot /bin/bash /mnt/src/test/vm/guest.sh
