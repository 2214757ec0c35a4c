#!/usr/bin/env python3
"""A man in the middle for the label-auth test: a UDP relay between two WireGuard endpoints
that, for every data message from A to B, first sends B a rewritten copy and then the genuine
one. Type 5/6 copies get, in turn, label 200 in bytes 1-3, type 5<->6, type 4 with bytes 1-3
zeroed, and the TC/BoS bits flipped; a type-4 copy becomes type 5 with label 200 (BoS 1).
Everything else (handshakes, keepalives, B to A) passes unchanged.
Usage: labelrelay.py LISTEN_PORT A_ADDR A_PORT B_ADDR B_PORT. Prints "ready", then one line
"forged N" after every forged datagram, so the test knows it really tampered."""
import socket
import sys

port, a, b = int(sys.argv[1]), (sys.argv[2], int(sys.argv[3])), (sys.argv[4], int(sys.argv[5]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
LABEL200_BOS = (200 << 4) | 1
forged = 0
print("ready", flush=True)


def lse_bytes(lse24):
    return bytes([lse24 & 0xFF, (lse24 >> 8) & 0xFF, (lse24 >> 16) & 0xFF])


def tamper(msg, n):
    t = msg[0]
    if t == 4:
        return bytes([5]) + lse_bytes(LABEL200_BOS) + msg[4:]
    variant = n % 4
    if variant == 0:
        return bytes([t]) + lse_bytes(LABEL200_BOS) + msg[4:]
    if variant == 1:
        return bytes([11 - t]) + msg[1:]  # 5 <-> 6
    if variant == 2:
        return bytes([4, 0, 0, 0]) + msg[4:]
    return bytes([t, msg[1] ^ 0x0F]) + msg[2:]  # TC and BoS


while True:
    msg, src = s.recvfrom(65536)
    if src == a:
        if msg[0] in (4, 5, 6) and len(msg) > 32:
            s.sendto(tamper(msg, forged), b)
            forged += 1
            print("forged %d" % forged, flush=True)
        s.sendto(msg, b)
    elif src == b:
        s.sendto(msg, a)
