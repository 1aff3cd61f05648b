"""Writes the plain ELF kernel inside a Debian vmlinuz (xz-compressed bzImage) to a file.

Booted through PVH it starts at once; the bzImage spends 9-16 s decompressing itself in
emulated code (the kernel tree's scripts/extract-vmlinux does the same search).
Usage: extract-vmlinux.py VMLINUZ OUT
"""
import lzma, sys
data = open(sys.argv[1], 'rb').read()
pos = 0
while True:
    i = data.find(b'\xfd7zXZ\x00', pos)
    if i < 0:
        sys.exit("no xz stream with an ELF kernel found in " + sys.argv[1])
    try:
        out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
        if out[:4] == b'\x7fELF':
            open(sys.argv[2], 'wb').write(out)
            break
    except lzma.LZMAError:
        pass
    pos = i + 1
