"""A server on 127.0.0.1 that misbehaves at the socket level, as pytest-httpserver cannot: it trickles its answer a
byte at a time, or sends a body larger than any caller should hold. Each connection is served by a bounded loop,
and the server stops when the test ends."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n"


def trickle(connection: socket.socket, data: bytes, every: float, most: int = 200) -> None:
    for byte in data[:most]:
        connection.sendall(bytes([byte]))
        time.sleep(every)


def slow_body(connection: socket.socket) -> None:
    """Headers at once, then one byte of the body every 0.1 s."""
    connection.sendall(OK_HEAD)
    trickle(connection, b"x" * 1000, 0.1)


def slow_headers(connection: socket.socket) -> None:
    """The status line and headers themselves one byte every 0.1 s."""
    trickle(connection, OK_HEAD, 0.1)


def huge_body(connection: socket.socket, size: int = 256 << 20) -> None:
    """A chunked body of `size` bytes, as fast as the reader takes it."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"Date,Open,High,Low,Close\r\n" * 2500
    sent = 0
    while sent < size:
        connection.sendall(b"%x\r\n%s\r\n" % (len(block), block))
        sent += len(block)
    connection.sendall(b"0\r\n\r\n")


def gzip_bomb(connection: socket.socket) -> None:
    """A small gzip body that inflates to 1 GB of zeros."""
    zeros = gzip.compress(b"\0" * (64 << 20), 9)
    body = b"".join([zeros] * 16)  # concatenated gzip members inflate one after another
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(body), body))


@contextmanager
def hostile(behaviour) -> Iterator[str]:
    """Serve `behaviour(connection)` to every connection; yields the base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    done = threading.Event()

    def serve_one(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)  # the request
                behaviour(connection)
            except OSError:
                pass  # the client hung up: what a client that gives up does

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        listener.close()
