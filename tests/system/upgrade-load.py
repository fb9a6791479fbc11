#!/usr/bin/python3
"""Load for tests/system/upgrade.sh and upgrade-fixed.sh: clients that open a new connection per request, plus long-lived connections
that talk all the time, against ADDR until STOPFILE exists (bounded by --max-seconds). Prints one JSON summary.

  upgrade-load.py HOST:PORT STOPFILE [--short=16] [--long=4] [--proto=tag|http] [--max-seconds=120]
                  [--progress=FILE]

tag: the backend is ember-test-backend --mode=tag: each request line "X\\n" is answered "TAG X\\n". http: one
GET per connection, the answer's body names the backend. A failed connect, a reset, a timeout or a wrong answer
is counted, never retried; the tags seen tell which generation served, and first_usec when the earliest request
that each tag answered began (µs of CLOCK_MONOTONIC, the clock of the journal's __MONOTONIC_TIMESTAMP: to order
requests against a backend's events). Long-lived connections must keep one tag for their whole life (they stay on
their own backend); when their backend closes them (a drain timeout) that is counted as closed_by_server, not as a
failure; "ended" says the connection is over.

--progress=FILE: the summary so far, rewritten (atomically) every 50 ms while the load runs, for a test to wait on
what the load has seen (every client answered, answers from a new generation, a long-lived connection ended)
instead of sleeping. "clients" is how many there are, "answered" how many have had at least one answer.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

lock = threading.Lock()
stats = {"clients": 0, "answered": 0, "requests": 0, "failed_connect": 0, "reset": 0, "timeout": 0, "wrong": 0,
         "tags": {}, "first_usec": {}, "max_ms": 0, "long": [], "errors": []}


def note_error(kind, detail):
    with lock:
        stats[kind] += 1
        if len(stats["errors"]) < 20:
            stats["errors"].append("%s: %s" % (kind, detail))


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def one_request(addr, proto, n):
    t0 = time.monotonic()
    try:
        sock = socket.create_connection(addr, timeout=30)
    except OSError as e:
        note_error("failed_connect", repr(e))
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if proto == "tag":
            want = "r%d" % n
            sock.sendall((want + "\n").encode())
            line = read_line(sock).rstrip("\n")
            tag, _, got = line.partition(" ")
            ok = got == want
        else:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            text = data.decode(errors="replace")
            ok = text.startswith("HTTP/1.") and " 200 " in text.split("\r\n", 1)[0]
            tag = text.rsplit("\n", 2)[-2].split(" ")[-1] if ok and text.count("\n") >= 2 else ""
            line = text[:80]
        if not ok:
            note_error("wrong", repr(line))
            return False
        ms = (time.monotonic() - t0) * 1000
        with lock:
            stats["requests"] += 1
            stats["tags"][tag] = stats["tags"].get(tag, 0) + 1
            start = round(t0 * 1000000)
            stats["first_usec"][tag] = min(stats["first_usec"].get(tag, start), start)
            stats["max_ms"] = max(stats["max_ms"], round(ms))
        return True
    except ConnectionResetError as e:
        note_error("reset", repr(e))
    except socket.timeout as e:
        note_error("timeout", repr(e))
    except OSError as e:
        note_error("reset", repr(e))
    finally:
        sock.close()
    return False


def note_answered():
    with lock:
        stats["answered"] += 1


def short_client(addr, proto, stop, base):
    n = base
    answered = False
    while not stop():
        if one_request(addr, proto, n) and not answered:
            answered = True
            note_answered()
        n += 1


def long_client(addr, stop, index):
    me = {"index": index, "messages": 0, "tags": [], "closed_by_server": False, "failed": "", "ended": False}
    with lock:
        stats["long"].append(me)
    try:
        sock = socket.create_connection(addr, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as e:
        me["failed"] = "connect: %r" % e
        me["ended"] = True
        return
    n = 0
    try:
        while not stop():
            want = "l%d-%d" % (index, n)
            sock.sendall((want + "\n").encode())
            line = read_line(sock)
            if not line:
                me["closed_by_server"] = True
                return
            tag, _, got = line.rstrip("\n").partition(" ")
            if got != want:
                me["failed"] = "wrong answer %r to %r" % (line, want)
                return
            if tag not in me["tags"]:
                me["tags"].append(tag)
            if me["messages"] == 0:
                note_answered()
            me["messages"] += 1
            n += 1
            time.sleep(0.01)
    except OSError as e:
        me["failed"] = repr(e)
    finally:
        sock.close()
        me["ended"] = True


def write_progress(path):
    with lock:
        text = json.dumps(stats, sort_keys=True)
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


def report_progress(path, done):
    while not done.wait(0.05):
        write_progress(path)
    write_progress(path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("stopfile")
    p.add_argument("--short", type=int, default=16)
    p.add_argument("--long", type=int, default=4)
    p.add_argument("--proto", choices=["tag", "http"], default="tag")
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--progress")
    a = p.parse_args()
    host, _, port = a.addr.rpartition(":")
    addr = (host, int(port))
    deadline = time.monotonic() + a.max_seconds

    def stop():
        return os.path.exists(a.stopfile) or time.monotonic() > deadline

    threads = [threading.Thread(target=long_client, args=(addr, stop, i)) for i in range(a.long)]
    threads += [threading.Thread(target=short_client, args=(addr, a.proto, stop, i * 1000000)) for i in range(a.short)]
    stats["clients"] = len(threads)
    done = threading.Event()
    reporter = threading.Thread(target=report_progress, args=(a.progress, done)) if a.progress else None
    if reporter:
        reporter.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    if reporter:
        reporter.join()
    json.dump(stats, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
