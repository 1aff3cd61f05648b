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
umount /proc
exec switch_root /newroot /bin/bash /mnt/src/test/vm/guest.sh
