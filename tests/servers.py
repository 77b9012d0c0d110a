"""Real OpenAI-compatible HTTP servers on loopback for tests, and a proxy that injects faults.

`LlamaServer` runs the llama-cpp-python server on a shipped GGUF model in a child process.
`FaultProxy` sits in front of any OpenAI-compatible base URL and, on demand, answers with the
failures a client must survive (5xx, 429, a hang, a body that is not JSON, an empty or a canned
completion) instead of forwarding. Usage::

    with LlamaServer() as llm, FaultProxy(llm.base_url) as proxy:
        proxy.inject("500", times=1)  # the next request fails, later ones are forwarded
        ...  # point the client under test at proxy.base_url
        assert proxy.counts["500"] == 1
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

import components  # noqa: F401  (offline defaults before the model path is resolved)
from components.shipped_models import gguf_model_path

MODES = ("pass", "500", "429", "hang", "garbage", "empty")
REPLY_PREFIX = "reply:"
CUT_PREFIX = "cut:"
# Headers that describe one connection rather than the message, so a proxy must not copy them.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unused_base_url() -> str:
    """An OpenAI-style base URL on loopback where nothing listens: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}/v1"


def endpoint_model(base_url: str, max_concurrency: int, name: str = "slow") -> dict:
    """The registry entry (`models.NAME`) of a model served at `base_url` (a FaultProxy, say):
    one try per call, no structured output, at most `max_concurrency` calls at once."""
    return {
        "provider": "openai",
        "base_url": base_url,
        "model": name,
        "retries": 0,
        "structured_output": "none",
        "max_concurrency": max_concurrency,
    }


def completion_body(text: str, prompt: str = "", model: str = "fault-proxy") -> dict:
    """A well-formed OpenAI `/v1/completions` response whose single choice is `text`.

    Token counts are words scaled by 4/3, the usual rule of thumb for English, so that code
    which reports usage sees plausible non-zero numbers.
    """
    prompt_tokens = max(1, round(len(prompt.split()) * 4 / 3))
    completion_tokens = round(len(text.split()) * 4 / 3)
    return {
        "id": f"cmpl-fault-{time.monotonic_ns()}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@contextmanager
def post_recorder(path: str = "/", status: int = 200) -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP endpoint on loopback that records the body of every POST and answers `status`
    with an empty body (a webhook, an OTLP collector); yields its URL and the bodies."""
    bodies: list[bytes] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            """Stay quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, name="post-recorder", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", bodies
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_app(app, ready_path: str = "/readyz", timeout: float = 120.0) -> Iterator[str]:
    """Serve an ASGI `app` with uvicorn in a thread on a free loopback port; yields its base URL
    once `ready_path` answers 200, and shuts it down (lifespan included) on exit."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + ready_path, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the app did not answer {ready_path} within {timeout:.0f} s")
        time.sleep(0.2)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class LlamaServer:
    """The llama-cpp-python OpenAI-compatible server on a local GGUF model, as a context manager.

    Entering starts `python -m llama_cpp.server` on a free loopback port and waits until
    `GET /v1/models` answers; leaving terminates it (and kills it if it lingers). Its output goes
    to `log_path`, a temporary file removed on exit unless a path is given.

    Usage::

        with LlamaServer() as server:
            httpx.post(f"{server.base_url}/completions", json={"prompt": "Hi", "max_tokens": 4})
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        alias: str = "gemma-3-270m",
        n_ctx: int = 2048,
        n_threads: int = 2,
        startup_timeout: float = 90.0,
        log_path: str | Path | None = None,
    ):
        """Store the settings; nothing starts before `start()` or `with`.

        Args:
            model_path: A GGUF file; the shipped Gemma 3 270M model when None.
            alias: The model id the server reports and accepts as `model`.
            n_ctx: The context size in tokens.
            n_threads: CPU threads for generation (the server's own default is 1).
            startup_timeout: Seconds to wait for `/v1/models` to answer.
            log_path: Where the server's stdout and stderr go; a temporary file when None.
        """
        if startup_timeout <= 0:
            raise ValueError(f"startup_timeout must be positive, got {startup_timeout}")
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path is not None else None
        self._own_log = log_path is None
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL of the running server, such as `http://127.0.0.1:PORT/v1`."""
        if self.port is None:
            raise RuntimeError("the llama server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LlamaServer":
        """Start the server and block until it answers `GET /v1/models`.

        Raises:
            RuntimeError: The process exited or did not answer in time; the message ends with
                the tail of its log.
        """
        model = self.model_path or gguf_model_path("gemma-3-270m")
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        self.port = free_port()
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", model,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--model_alias", self.alias,
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        """Poll `GET /v1/models` until it answers 200, the process dies or time runs out."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama server exited with code {self.process.returncode} while "
                    f"starting; log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.2)
        raise RuntimeError(
            f"the llama server did not answer GET /v1/models within {self.startup_timeout:.0f} s;"
            f" log {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the server's log, or "" before it has one."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server, kill it after 10 s, and remove a temporary log. Idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> "LlamaServer":
        """Start the server; see `start()`."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        """Stop the server; see `stop()`."""
        self.stop()


class FaultProxy:
    """An HTTP proxy on loopback in front of an OpenAI-compatible server, with a fault switch.

    By default every request is forwarded (method, path, query, body and end-to-end headers)
    and the upstream's status, headers and body come back, streamed as they arrive so that
    server-sent events pass through. `inject(mode, times)` makes it answer by itself instead:

    - "pass": forward (the default);
    - "500": HTTP 500 with a JSON error body;
    - "429": HTTP 429 with `Retry-After: 1` and a JSON error body;
    - "hang": wait `hang_seconds` (or until the proxy closes), then close without answering;
    - "garbage": HTTP 200, `content-type: application/json`, a body that is not JSON;
    - "empty": HTTP 200 with a well-formed completion whose text is "";
    - "reply:<text>": HTTP 200 with a well-formed completion whose text is <text> (streamed, a
      word per event, when the request asks for a stream);
    - "cut:<text>": HTTP 200 with a server-sent event stream of <text>, a word per event, that
      then breaks off: no finish reason, no `[DONE]` (a model server dying mid-answer).

    Every request is recorded as `(path, mode)` in `records`, so tests can count a client's
    calls and retries, and `peak` is the most requests it held at once. An upstream that
    cannot be reached gives HTTP 502. With `delay`, every answer the proxy gives by itself
    comes that many seconds after the request, as a slow model's would: with no upstream
    (`unused_base_url()`) and `inject("reply:...")`, it is a model that answers after a fixed
    delay, however many calls it serves at once.

    Usage::

        with FaultProxy(server.base_url) as proxy:
            proxy.inject("reply:Paris", times=2)
            ...  # two canned answers, then the real server again
    """

    def __init__(
        self,
        upstream: str,
        *,
        hang_seconds: float = 30.0,
        timeout: float = 120.0,
        delay: float = 0.0,
    ):
        """Store the settings; the proxy listens from `start()` or `with`.

        Args:
            upstream: The upstream base URL, such as `http://127.0.0.1:8000/v1`; request paths
                are sent to its scheme, host and port unchanged.
            hang_seconds: How long a "hang" holds the connection before closing it.
            timeout: Seconds to wait for the upstream when forwarding.
            delay: Seconds to wait before each answer the proxy gives by itself.
        """
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self.hang_seconds = hang_seconds
        self.timeout = timeout
        self.delay = delay
        self.records: list[tuple[str, str]] = []
        self._held = 0
        self._peak = 0
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._mode = "pass"
        self._remaining: int | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        """The proxy's base URL, with the upstream's path: `http://127.0.0.1:PORT/v1`."""
        if self._server is None:
            raise RuntimeError("the fault proxy is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    @property
    def requests(self) -> int:
        """How many requests the proxy has received, whatever it did with them."""
        with self._lock:
            return len(self.records)

    @property
    def peak(self) -> int:
        """The most requests the proxy has held at once."""
        with self._lock:
            return self._peak

    @property
    def counts(self) -> Counter:
        """How many requests each mode handled, such as `Counter({"pass": 2, "500": 1})`."""
        with self._lock:
            return Counter(mode for _, mode in self.records)

    @property
    def mode(self) -> str:
        """The mode the next request will get."""
        with self._lock:
            return self._mode

    def inject(self, mode: str, times: int | None = None) -> None:
        """Answer the next `times` requests with `mode`, then go back to "pass".

        Args:
            mode: One of "pass", "500", "429", "hang", "garbage", "empty" or "reply:<text>".
            times: How many requests get the fault; None keeps it until the next `inject`.
        """
        if mode not in MODES and not mode.startswith((REPLY_PREFIX, CUT_PREFIX)):
            raise ValueError(
                f"unknown fault mode {mode!r}; use one of {', '.join(MODES)}, 'reply:<text>' "
                "or 'cut:<text>'"
            )
        if times is not None and times < 1:
            raise ValueError(f"times must be a positive number of requests or None, got {times}")
        with self._lock:
            self._mode = mode
            self._remaining = times

    def _take_mode(self, path: str) -> str:
        """The mode for a request to `path`: recorded, and counted down when `times` was set."""
        with self._lock:
            mode = self._mode
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining == 0:
                    self._mode, self._remaining = "pass", None
            self.records.append((path, mode))
            return mode

    def start(self) -> "FaultProxy":
        """Listen on a free loopback port in a daemon thread."""
        self._client = httpx.Client(timeout=self.timeout)
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and release hanging requests at once. Idempotent."""
        self._closed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "FaultProxy":
        """Start the proxy; see `start()`."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        """Close the proxy; see `close()`."""
        self.close()


class _Server(ThreadingHTTPServer):
    # Many clients connect at once: the default backlog of 5 would leave some waiting a
    # second for the kernel's retry.
    request_queue_size = 256


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `proxy`, as `http.server` wants a class, not an object."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 lets a streamed body end by closing the connection, with no re-chunking.
        protocol_version = "HTTP/1.0"

        def log_message(self, format, *args):
            """Stay quiet: pytest shows failures, and the records say what happened."""

        def do_GET(self):
            """Handle a GET; see `_handle`."""
            self._handle()

        def do_POST(self):
            """Handle a POST; see `_handle`."""
            self._handle()

        def do_DELETE(self):
            """Handle a DELETE; see `_handle`."""
            self._handle()

        def _handle(self) -> None:
            """Read the request, record it, then forward it or answer with the injected fault."""
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            mode = proxy._take_mode(urlsplit(self.path).path)
            with proxy._lock:
                proxy._held += 1
                proxy._peak = max(proxy._peak, proxy._held)
            try:
                if mode not in ("pass", "hang") and proxy.delay:
                    proxy._closed.wait(proxy.delay)
                self._answer(mode, body)
            finally:
                with proxy._lock:
                    proxy._held -= 1

        def _answer(self, mode: str, body: bytes) -> None:
            """Forward the request, or answer it with the fault `mode`."""
            if mode == "pass":
                self._forward(body)
            elif mode == "hang":
                proxy._closed.wait(proxy.hang_seconds)
                self.close_connection = True
            elif mode == "500":
                self._send_json(500, _error("injected server error", "server_error"))
            elif mode == "429":
                self._send_json(
                    429,
                    _error("injected rate limit", "rate_limit_exceeded"),
                    {"Retry-After": "1"},
                )
            elif mode == "garbage":
                self._send(200, b"<html>502 Bad Gateway</html>{not json", "application/json")
            elif mode.startswith(CUT_PREFIX):
                self._send_stream(mode.removeprefix(CUT_PREFIX), complete=False)
            else:
                text = "" if mode == "empty" else mode.removeprefix(REPLY_PREFIX)
                request = _json_or_empty(body)
                if request.get("stream"):
                    self._send_stream(text, complete=True)
                    return
                prompt = request.get("prompt", "")
                self._send_json(
                    200,
                    completion_body(
                        text,
                        prompt if isinstance(prompt, str) else " ".join(map(str, prompt)),
                        request.get("model") or "fault-proxy",
                    ),
                )

        def _forward(self, body: bytes) -> None:
            """Send the request upstream and relay status, headers and body as they arrive."""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            # Bytes are relayed raw, so the upstream may only compress what the client accepts;
            # without this, httpx would ask for gzip on behalf of a client that did not.
            if "accept-encoding" not in self.headers:
                headers["Accept-Encoding"] = "identity"
            request = proxy._client.build_request(
                self.command, proxy._origin + self.path, headers=headers, content=body
            )
            try:
                response = proxy._client.send(request, stream=True)
            except httpx.HTTPError as e:
                self._send_json(502, _error(f"upstream {proxy.upstream} failed: {e}", "proxy"))
                return
            try:
                self.send_response(response.status_code)
                for key, value in response.headers.multi_items():
                    # send_response already wrote the proxy's own Date and Server.
                    if key.lower() not in HOP_BY_HOP | {"date", "server"}:
                        self.send_header(key, value)
                if "content-length" in response.headers:
                    self.send_header("Content-Length", response.headers["content-length"])
                self.end_headers()
                for chunk in response.iter_raw():
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (httpx.HTTPError, OSError):
                # The upstream or the client went away mid-body; the client sees a cut response.
                self.close_connection = True
            finally:
                response.close()

        def _send_stream(self, text: str, complete: bool) -> None:
            """Stream `text` a word per event; then finish properly, or (not `complete`)
            close as if the server had died."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = text.split(" ") if text else []
            for index, word in enumerate(words):
                chunk = completion_body(word if index == 0 else " " + word)
                chunk["choices"][0]["finish_reason"] = None
                del chunk["usage"]
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if complete:
                last = completion_body("")
                self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
            self.close_connection = True

        def _send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            """Answer with `payload` as JSON."""
            self._send(status, json.dumps(payload).encode(), "application/json", headers)

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict | None = None
        ) -> None:
            """Answer with a complete body of the given content type and extra headers."""
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _error(message: str, kind: str) -> dict:
    """An error body shaped like OpenAI's, which the `openai` client parses into its message."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _json_or_empty(body: bytes) -> dict:
    """The request body as a JSON object, or {} when it is not one (a GET, or a broken body)."""
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
