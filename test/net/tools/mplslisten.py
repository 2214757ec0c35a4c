#!/usr/bin/env python3
"""Prints (hex) every MPLS frame an interface receives, until killed: what a datapath writes up
its TUN is seen here even on a kernel that has no MPLS routing and drops it afterwards."""
import socket
import sys

ifname = sys.argv[1]
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
s.bind((ifname, 0))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65535)
    proto, pkttype = addr[1], addr[2]
    if proto in (0x8847, 0x8848) and pkttype != PACKET_OUTGOING:
        print(f"{proto:#06x} {data.hex()}", flush=True)
