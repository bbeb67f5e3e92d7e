"""A local threaded HTTP server on 127.0.0.1 for acquisition tests.

Routes map a path (query ignored) to a ``Resource`` or to a function of the
parsed query returning one (or None for 404). A resource can refuse Range,
fail its next requests (a status, ``"drop"`` the connection, ``("truncate",
n)`` after n body bytes, ``("sleep", s)`` before answering), send extra
headers, or send its body again and again without end. Every request is logged with its headers and arrival time.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Resource:
    body: bytes
    content_type: str = "application/octet-stream"
    ranges: bool = True
    failures: list = field(default_factory=list)  # consumed one per request
    headers: dict = field(default_factory=dict)  # sent with failure answers too (e.g. Retry-After)
    status: int = 200
    endless: bool = False  # repeat the body forever, chunked (a hostile server), until the client leaves


@dataclass
class Hit:
    path: str
    query: dict
    headers: dict
    time: float


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out or drop mid-answer are part of the tests


class LocalServer:
    """``with LocalServer() as server: server.add("/f", b"...")``; ``server.url("/f")``."""

    def __init__(self):
        self.routes: dict[str, Resource | Callable[[dict], Resource | None]] = {}
        self.log: list[Hit] = []
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes, **kwargs) -> Resource:
        self.routes[path] = resource = Resource(body, **kwargs)
        return resource

    def route(self, path: str, func: Callable[[dict], Resource | None]) -> None:
        self.routes[path] = func

    def hits(self, path: str | None = None) -> list[Hit]:
        with self.lock:
            return [h for h in self.log if path is None or h.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _handler(server: LocalServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with server.lock:
                server.log.append(Hit(parts.path, query, dict(self.headers), time.monotonic()))
                target = server.routes.get(parts.path)
                resource = target(query) if callable(target) else target
                failure = resource.failures.pop(0) if resource and resource.failures else None
            if resource is None:
                return self._answer(404, b"not found", "text/plain", {})
            if resource.endless:
                return self._endless(resource.body)
            truncate = None
            if isinstance(failure, tuple) and failure[0] == "sleep":
                time.sleep(failure[1])
            elif isinstance(failure, tuple) and failure[0] == "truncate":
                truncate = failure[1]
            elif failure == "drop":
                return  # close without an answer
            elif isinstance(failure, int):
                return self._answer(failure, b"failure", "text/plain", resource.headers)
            self._serve(resource, truncate)

        def _serve(self, resource: Resource, truncate: int | None):
            body, status, headers = resource.body, resource.status, dict(resource.headers)
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if resource.ranges and match:
                start = int(match[1])
                if start >= len(body):
                    headers["Content-Range"] = f"bytes */{len(body)}"
                    return self._answer(416, b"", "text/plain", headers)
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                body, status = body[start:], 206
            if resource.ranges:
                headers["Accept-Ranges"] = "bytes"
            self._answer(status, body, resource.content_type, headers, truncate)

        def _endless(self, body: bytes):
            self.protocol_version = "HTTP/1.1"  # chunked transfer needs 1.1
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n"
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:  # the client stopped reading
                self.close_connection = True

        def _answer(self, status, body, content_type, headers, truncate=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body if truncate is None else body[:truncate])
            self.close_connection = True

    return Handler


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- Google Drive pages ------------------------------------------------------------


def drive_confirm_page(file_id: str, token: str) -> bytes:
    return (
        f"<html><head><title>Google Drive - Virus scan warning</title></head><body>"
        f'<a id="uc-download-link" href="/uc?export=download&amp;confirm={token}&amp;id={file_id}">'
        f"Download anyway</a></body></html>"
    ).encode()


def drive_scan_form(action: str, file_id: str, uuid: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
        f'<body><form id="download-form" action="{action}" method="get">'
        f'<input type="submit" id="uc-download-link" value="Download anyway"/>'
        f'<input type="hidden" name="id" value="{file_id}">'
        f'<input type="hidden" name="export" value="download">'
        f'<input type="hidden" name="confirm" value="t">'
        f'<input type="hidden" name="uuid" value="{uuid}"></form></body></html>'
    ).encode()


DRIVE_QUOTA_PAGE = (
    b"<html><head><title>Google Drive - Quota exceeded</title></head><body>"
    b"<p>Sorry, you can't view or download this file at this time.</p><p>Too many "
    b"users have viewed or downloaded this file recently.</p></body></html>"
)


def add_drive_file(server: LocalServer, file_id: str, body: bytes, flow: str = "direct") -> None:
    """Serve ``body`` as Drive file ``file_id`` at ``/uc``, behind a ``flow`` of
    ``"direct"``, ``"confirm"`` (token link), ``"form"`` (virus-scan form to
    ``/download``) or ``"quota"``.
    """
    token, uuid = "Xy-12_ab", "0f0e-1234"
    page = {
        "confirm": drive_confirm_page(file_id, token),
        "form": drive_scan_form(server.url("/download"), file_id, uuid),
        "quota": DRIVE_QUOTA_PAGE,
    }.get(flow)
    file = Resource(body)
    previous_uc = server.routes.get("/uc")

    def uc(query: dict) -> Resource | None:
        if query.get("id") != file_id:
            return previous_uc(query) if callable(previous_uc) else None
        if page is None or (flow == "confirm" and query.get("confirm") == token):
            return file
        return Resource(page, content_type="text/html; charset=utf-8", ranges=False)

    def usercontent(query: dict) -> Resource | None:
        if query.get("id") == file_id and query.get("confirm") == "t" and query.get("uuid") == uuid:
            return file
        return previous_download(query) if callable(previous_download) else None

    previous_download = server.routes.get("/download")
    server.route("/uc", uc)
    if flow == "form":
        server.route("/download", usercontent)
