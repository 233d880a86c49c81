"""A TCP proxy whose target can be switched: without PgBouncer, the failover form's stand-in
for the address a deployment moves to the promoted standby (a virtual IP, a DNS name, a
cloud endpoint). The stack's DATABASE_URL names the proxy; the failover switches its target
and cuts every connection to the old one, as the loss of the primary's host would.

Threads in the harness process: two per connection, blocking I/O (the GIL is released while
they wait).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class SwitchableProxy:
    """Listens on a free port of 127.0.0.1 and forwards each connection to `target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs: set[tuple[socket.socket, socket.socket]] = set()
        self.stopped = False

    def start(self) -> SwitchableProxy:
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()
        return self

    def url_for(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by this proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(database_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def switch(self, target_port: int) -> int:
        """New connections go to `target_port`; every open one is cut. Returns how many."""
        with self.lock:
            self.target_port = target_port
            pairs, self.pairs = self.pairs, set()
        for pair in pairs:
            _close(*pair)
        return len(pairs)

    def stop(self) -> None:
        self.stopped = True
        self.listener.close()
        self.switch(self.target_port)

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                port = self.target_port
            try:
                server = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                client.close()  # the client sees a refused server, as without the proxy
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, server)
            with self.lock:
                self.pairs.add(pair)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, pair), daemon=True).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self.lock:
            self.pairs.discard(pair)
        _close(*pair)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
