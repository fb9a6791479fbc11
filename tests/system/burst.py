#!/usr/bin/python3
"""burst.py HOST PORT TOTAL SECONDS INFLIGHT [TIMEOUT]

Opens TOTAL TCP connections to HOST:PORT, their starts spread evenly over SECONDS, at most INFLIGHT open at once.
Each sends "GET / HTTP/1.0", half-closes, and must read a reply that starts with "HTTP/1." up to the server's end-of-file within
TIMEOUT seconds (default 30). Prints one line "total=N ok=N failed=N seconds=S" and, for failures, up to ten
"failure: ..." lines; exits 0 only if every connection succeeded.
"""
import socket
import sys
import threading
import time


def one(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(b"GET / HTTP/1.0\r\nHost: ember\r\n\r\n")
        s.shutdown(socket.SHUT_WR)  # the request is complete: servers may read to end-of-file
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    if not reply.startswith(b"HTTP/1."):
        raise RuntimeError("unexpected reply %r" % reply[:40])


def main():
    host, port, total, seconds, inflight = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0, "errors": []}
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= total:
                    return
                state["next"] = i + 1
            delay = t0 + seconds * i / total - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                one(host, port, timeout)
                with lock:
                    state["ok"] += 1
            except Exception as e:  # every failure is counted and reported
                with lock:
                    state["failed"] += 1
                    if len(state["errors"]) < 10:
                        state["errors"].append("connection %d: %s: %s" % (i, type(e).__name__, e))

    threads = [threading.Thread(target=worker) for _ in range(inflight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("total=%d ok=%d failed=%d seconds=%.2f" % (total, state["ok"], state["failed"], time.monotonic() - t0))
    for e in state["errors"]:
        print("failure: " + e)
    return 0 if state["failed"] == 0 and state["ok"] == total else 1


if __name__ == "__main__":
    sys.exit(main())
