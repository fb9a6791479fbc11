#!/usr/bin/env python3
"""answer-backend.py ADDR PIDS [--log=FILE] [--read=all|first]: issue 23's smallest server, for the inetd tests.

Listens on ADDR (an absolute unix socket path, or a TCP port on 127.0.0.1), appends its pid to PIDS, then for every
connection: recv, sendall("answer:" + what it read), close at once. --read=all (the default) reads one recv's worth
(the whole short request) and appends repr() of it to --log; --read=first reads only the first byte and leaves the
rest unread, so that its close resets the connection."""
import argparse
import os
import socket

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("pids")
ap.add_argument("--log")
ap.add_argument("--read", choices=("all", "first"), default="all")
args = ap.parse_args()

if args.addr.startswith("/"):
    if os.path.exists(args.addr):
        os.unlink(args.addr)
    s = socket.socket(socket.AF_UNIX)
    s.bind(args.addr)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(args.addr)))
s.listen(64)
with open(args.pids, "a") as f:
    f.write("%d\n" % os.getpid())
while True:
    c, _ = s.accept()
    d = c.recv(4096 if args.read == "all" else 1)
    if args.log:
        with open(args.log, "a") as f:
            f.write(repr(d) + "\n")
    c.sendall(b"answer:" + d + (b"" if args.read == "all" else b"\n"))
    c.close()
