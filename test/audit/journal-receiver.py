# A stand-in journald for tests: binds an AF_UNIX SOCK_DGRAM socket and prints every
# datagram, decoded per systemd's native journal protocol, as one JSON object per line.
import json
import socket
import struct
import sys


def decode(d):
    fields = {}
    i = 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", d[nl + 1 : nl + 9])
            v = d[nl + 9 : nl + 9 + n]
            if d[nl + 9 + n : nl + 10 + n] != b"\n":
                raise ValueError("binary field %r not terminated by newline" % k)
            i = nl + 10 + n
        fields[k.decode()] = v.decode()
    return fields


s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("READY", flush=True)
while True:
    d = s.recv(1 << 20)
    try:
        print(json.dumps(decode(d)), flush=True)
    except Exception as e:  # a malformed datagram is a test failure, reported as such
        print(json.dumps({"__DECODE_ERROR__": str(e), "__RAW__": d.decode("latin-1")}), flush=True)
