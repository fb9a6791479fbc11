#!/usr/bin/python3
"""A web app whose database is another ember app (README, "Apps that use apps"; tests/system/apps.sh).

A hit counter: every GET adds a row and answers with the count. Its database connections come from a pool
(psycopg2, Debian's python3-psycopg2) that keeps one connection open for as long as the app runs: through ember,
that connection keeps the database warm exactly as long as this app is warm. When ember stops the app (SIGTERM at
its idle stop) the pool closes, and the database idles out after its own idle period.

  DATABASE_URL  the database's address, its ember app's public one: postgresql://USER@HOST:PORT/DB
  PORT          where to serve HTTP on 127.0.0.1 (emberctl new --backend=127.0.0.1:auto sets it)
"""
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2.pool

pool = None


class Hits(BaseHTTPRequestHandler):
    def do_GET(self):
        conn = pool.getconn()
        try:
            with conn, conn.cursor() as cur:
                cur.execute("INSERT INTO hits DEFAULT VALUES")
                cur.execute("SELECT count(*) FROM hits")
                body = ("hits: %d\n" % cur.fetchone()[0]).encode()
        finally:
            pool.putconn(conn)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # one line per request is ember's journal's job


def main():
    global pool
    # minconn=1: one connection stays open while the app runs (more, up to 4, are opened under load and closed
    # when given back); the first is made now, which wakes the database if it sleeps
    pool = psycopg2.pool.ThreadedConnectionPool(1, 4, os.environ["DATABASE_URL"])
    conn = pool.getconn()
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS hits (at timestamptz DEFAULT now())")
    pool.putconn(conn)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hits)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        pool.closeall()  # the database's connections end: it may idle out


if __name__ == "__main__":
    main()
