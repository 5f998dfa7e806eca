"""A real HTTP/1.1 server on 127.0.0.1 for fake APIs: routes, a request log, scripted faults.

The fakes in ``tests/fake_*.py`` subclass :class:`FakeApi` and register handlers; clients under
test talk to them over real sockets, so headers, status codes, bodies and timeouts are real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (a slow page)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return body, headers


Handler = Callable[[Request], Response]


class FakeApi:
    """Routes ``(METHOD, path)`` to handlers; ``faults`` queues one-shot answers for a route."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, Handler]] = []
        self.requests: list[Request] = []
        self.faults: dict[tuple[str, str], list[Response]] = {}
        self._lock = threading.Lock()

    def route(self, method: str, path: str, handler: Handler, prefix: bool = False) -> None:
        self.routes.append((method, path if not prefix else path + "*", handler))

    def fail_next(self, method: str, path: str, *responses: Response) -> None:
        """Answer the next requests to ``method path`` with ``responses`` (in order) before the real handler."""
        self.faults.setdefault((method, path), []).extend(responses)

    def requests_to(self, path: str, method: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            queued = self.faults.get((request.method, request.path))
            if queued:
                return queued.pop(0)
        for method, path, handler in self.routes:
            if method != request.method:
                continue
            if path.endswith("*") and request.path.startswith(path[:-1]) or path == request.path:
                return handler(request)
        return Response(404, {"message": f"no route for {request.method} {request.path}"})


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.api.dispatch(request)
        if response.delay_s:
            time.sleep(response.delay_s)
        payload, headers = response.encoded()
        try:
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_HEAD = _handle


class LoopbackServer:
    """Serve a :class:`FakeApi` on ``127.0.0.1:port`` (0: any free port) until :meth:`close`."""

    def __init__(self, api: FakeApi, port: int = 0, host: str = "127.0.0.1") -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer((host, port), _RequestHandler)
        self.httpd.daemon_threads = True
        self.httpd.api = api
        self.api = api
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
