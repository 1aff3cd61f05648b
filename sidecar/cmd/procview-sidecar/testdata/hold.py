# hold.py FILE N: a reader that keeps N open handles of FILE, as an fd leak or a poller per
# thread would: the odd ones read to the end, the even ones only their first 100 bytes (stopped
# mid-file). The handles are spread over forked children, each within the per-process limit on
# open files. Prints "ready" once all are open, and holds them until its standard input closes.
# Used by TestManyOpenHandlesStayCheap and by make bench (test/bench/inner.sh).
import os
import resource
import sys

path, left = sys.argv[1], int(sys.argv[2])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
kids = []
while left > 0:
    n = min(hard - 100, left)
    left -= n
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        fds = []
        for i in range(n):
            fd = os.open(path, os.O_RDONLY)
            if i % 2:
                while os.read(fd, 65536):
                    pass
            else:
                os.read(fd, 100)
            fds.append(fd)
        os.write(w, b"1")
        sys.stdin.read()
        os._exit(0)
    os.close(w)
    if os.read(r, 1) != b"1":
        sys.exit("a holder failed")
    os.close(r)
    kids.append(pid)
print("ready", flush=True)
sys.stdin.read()
for pid in kids:
    os.waitpid(pid, 0)
