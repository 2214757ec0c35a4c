#!/usr/bin/env python3
"""Sends one MPLS frame out of an interface through an AF_PACKET socket (protocol 0x8847 or
0x8848), the way the kernel hands MPLS to a TUN: the datapath reads it with that protocol."""
import socket
import sys

ifname, proto, frame_hex = sys.argv[1], int(sys.argv[2], 0), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(proto))
s.sendto(bytes.fromhex(frame_hex), (ifname, proto))
