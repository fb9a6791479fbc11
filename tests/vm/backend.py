#!/usr/bin/python3
"""tests/vm/backend.py: the VM tests' backend, a small threaded server on TCP (HOST:PORT) or a unix socket (PATH).

    backend.py ADDR [close|keep|oneshot]

HTTP: a request starting "GET " gets "HTTP/1.0 200 OK" with the body "hello from PID\n"; then the server closes
the connection (close, the default) or keeps it open until the client closes it (keep).
oneshot: the smallest server there is (issue 23's), one connection at a time: one recv(), the HTTP answer (or the
bytes echoed if they are no GET), close()
(no shutdown(), no reading of the rest); a connection closed without a byte (a readiness probe) gets nothing.
Lines, one answer each, until the client closes:
    ping       -> pong
    eat N      -> touches N MiB more and keeps them (-> "ate N")
    burn S     -> spends S seconds of CPU (-> "cpu USEC", the process's whole CPU time so far)
    cpu        -> cpu USEC
    say WORDS  -> prints "said WORDS" on its stdout (the journal, through whatever the supervisor gave it) -> "said"
    count      -> N: how many "count" lines this process has answered, this one included (its memory, kept
                  across a freeze or a checkpoint, lost by a cold start)
"""
import os
import socket
import socketserver
import sys
import time

held = []
counted = [0]


def cpu_usec():
    t = os.times()
    return int((t.user + t.system) * 1e6)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        first = self.rfile.readline()
        if not first:
            return  # a readiness probe: connect and close
        if first.startswith(b"GET "):
            while True:
                line = self.rfile.readline()
                if not line or line in (b"\r\n", b"\n"):
                    break
            body = b"hello from %d\n" % os.getpid()
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
            self.wfile.flush()
            if MODE == "keep":
                while self.rfile.read(4096):
                    pass
            return
        line = first
        while line:
            words = line.split()
            if words[:1] == [b"ping"]:
                out = b"pong"
            elif words[:1] == [b"eat"] and len(words) == 2:
                n = int(words[1])
                held.append(b"\x01" * (n << 20))  # written, so every page is touched
                out = b"ate %d" % n
            elif words[:1] == [b"burn"] and len(words) == 2:
                end = time.process_time() + float(words[1])
                x = 0
                while time.process_time() < end:
                    x += 1
                out = b"cpu %d" % cpu_usec()
            elif words[:1] == [b"count"]:
                counted[0] += 1
                out = b"%d" % counted[0]
            elif words[:1] == [b"say"]:
                sys.stdout.write("said %s\n" % b" ".join(words[1:]).decode(errors="replace"))
                sys.stdout.flush()
                out = b"said"
            elif words[:1] == [b"cpu"]:
                out = b"cpu %d" % cpu_usec()
            else:
                out = b"echo " + line.strip()
            self.wfile.write(out + b"\n")
            self.wfile.flush()
            line = self.rfile.readline()


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def oneshot(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr)
        os.chmod(addr, 0o666)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    s.listen(64)
    while True:
        c, _ = s.accept()
        try:
            data = c.recv(65536)
            if data.startswith(b"GET "):
                body = b"hello from %d\n" % os.getpid()
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            elif data:
                c.sendall(data)
        except OSError:
            pass
        c.close()


ADDR = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "close"
if ADDR.startswith("/"):
    try:
        os.unlink(ADDR)
    except FileNotFoundError:
        pass
if MODE == "oneshot":
    oneshot(ADDR)
elif ADDR.startswith("/"):
    server = UnixServer(ADDR, Handler)
    os.chmod(ADDR, 0o666)
    server.serve_forever()
else:
    host, port = ADDR.rsplit(":", 1)
    server = TCPServer((host, int(port)), Handler)
    server.serve_forever()
