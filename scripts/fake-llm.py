#!/usr/bin/env python3
"""fake-llm.py: an OpenAI-compatible stand-in LLM for zaki-locks' OpenClaw tests.

Python 3 standard library only.  Listens on loopback.

Usage: fake-llm.py PORT [--host 127.0.0.1]

Endpoints
  POST /v1/chat/completions, /chat/completions
        "stream": true  -> text/event-stream: `data: {chunk}` lines, then `data: [DONE]`
        otherwise       -> one chat.completion JSON object
        The reply text is FAKE_LLM_REPLY (default "pong") or the one set by /control/reply.
        Each reply is held for the current delay before anything is sent back.  The delay is
        re-read while a request waits, so lowering it (e.g. to 0) releases requests in flight.
  GET  /v1/models, /models      one model, "fake-model"
  GET  /health                  {"ok": true, "delay_s": ..., "in_flight": n, "requests": n}
  GET  /control/state           same as /health
  POST /control/delay           body {"seconds": N}  (N >= 0, float)  -> the new state
  POST /control/reply           body {"text": "..."}                  -> the new state

Environment
  FAKE_LLM_DELAY_S   initial delay in seconds (default 0)
  FAKE_LLM_REPLY     reply text (default "pong")
  FAKE_LLM_QUIET     set to 1 to log nothing per request
"""

import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ID = "fake-model"


class State:
    def __init__(self, delay_s, reply):
        self.cond = threading.Condition()
        self.delay_s = delay_s
        self.reply = reply
        self.in_flight = 0
        self.requests = 0

    def snapshot(self):
        with self.cond:
            return {
                "ok": True,
                "delay_s": self.delay_s,
                "reply": self.reply,
                "in_flight": self.in_flight,
                "requests": self.requests,
            }

    def set_delay(self, seconds):
        with self.cond:
            self.delay_s = seconds
            self.cond.notify_all()

    def set_reply(self, text):
        with self.cond:
            self.reply = text

    def begin(self):
        with self.cond:
            self.in_flight += 1
            self.requests += 1
            self.cond.notify_all()

    def end(self):
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def wait_delay(self, started):
        """Sleep until `started + delay_s`, re-reading delay_s whenever it changes."""
        with self.cond:
            while True:
                remaining = started + self.delay_s - time.monotonic()
                if remaining <= 0:
                    return self.reply
                self.cond.wait(remaining)


def env_float(name, default):
    raw = os.environ.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        sys.exit(f"fake-llm: {name} must be a number, got {raw!r}")
    if value < 0:
        sys.exit(f"fake-llm: {name} must be >= 0, got {raw!r}")
    return value


STATE = State(env_float("FAKE_LLM_DELAY_S", 0.0), os.environ.get("FAKE_LLM_REPLY", "pong"))
QUIET = os.environ.get("FAKE_LLM_QUIET", "") == "1"


def log(msg):
    if not QUIET:
        sys.stderr.write(f"[fake-llm {time.strftime('%H:%M:%S')}] {msg}\n")
        sys.stderr.flush()


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-llm/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # silence the default access log
        pass

    # ------------------------------------------------------------ helpers
    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw:
            return {}
        return json.loads(raw)

    def path_only(self):
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    # ------------------------------------------------------------ GET
    def do_GET(self):
        path = self.path_only()
        if path in ("/health", "/control/state"):
            self.send_json(200, STATE.snapshot())
        elif path in ("/v1/models", "/models"):
            self.send_json(200, {
                "object": "list",
                "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "fake"}],
            })
        else:
            self.send_json(404, {"error": {"message": f"no route GET {path}", "type": "not_found"}})

    # ------------------------------------------------------------ POST
    def do_POST(self):
        path = self.path_only()
        try:
            body = self.read_json()
        except (ValueError, UnicodeDecodeError) as e:
            self.send_json(400, {"error": {"message": f"bad JSON: {e}", "type": "invalid_request_error"}})
            return
        if path in ("/v1/chat/completions", "/chat/completions"):
            self.chat(body)
        elif path == "/control/delay":
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                self.send_json(400, {"error": {"message": 'expected {"seconds": N} with N >= 0'}})
                return
            STATE.set_delay(float(seconds))
            log(f"delay set to {float(seconds)} s")
            self.send_json(200, STATE.snapshot())
        elif path == "/control/reply":
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str):
                self.send_json(400, {"error": {"message": 'expected {"text": "..."}'}})
                return
            STATE.set_reply(text)
            self.send_json(200, STATE.snapshot())
        else:
            self.send_json(404, {"error": {"message": f"no route POST {path}", "type": "not_found"}})

    def chat(self, body):
        if not isinstance(body, dict):
            body = {}
        model = body.get("model") or MODEL_ID
        stream = bool(body.get("stream", False))
        last_user = ""
        for m in body.get("messages") or []:
            if isinstance(m, dict) and m.get("role") == "user":
                c = m.get("content")
                last_user = c if isinstance(c, str) else json.dumps(c)
        started = time.monotonic()
        STATE.begin()
        try:
            log(f"chat model={model} stream={stream} delay={STATE.delay_s}s user={last_user[-80:]!r}")
            reply = STATE.wait_delay(started)
            cid = "chatcmpl-" + uuid.uuid4().hex[:24]
            created = int(time.time())
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            if stream:
                self.stream_reply(cid, created, model, reply, usage)
            else:
                self.send_json(200, {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }],
                    "usage": usage,
                })
            log(f"chat answered after {time.monotonic() - started:.2f}s")
        except (BrokenPipeError, ConnectionResetError):
            log(f"chat: client went away after {time.monotonic() - started:.2f}s")
        finally:
            STATE.end()

    def stream_reply(self, cid, created, model, reply, usage):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta, finish=None, extra=None):
            obj = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if extra:
                obj.update(extra)
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        # The reply in a few pieces, as a real model would stream it.
        step = max(1, len(reply) // 3)
        for i in range(0, len(reply), step):
            chunk({"content": reply[i:i + step]})
        chunk({}, finish="stop", extra={"usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main(argv):
    host = "127.0.0.1"
    args = list(argv)
    if "--host" in args:
        i = args.index("--host")
        if i + 1 >= len(args):
            sys.exit("fake-llm: --host needs a value")
        host = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: fake-llm.py PORT [--host 127.0.0.1]")
    port = int(args[0])
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer((host, port), Handler)
    log(f"listening on http://{host}:{httpd.server_address[1]} (delay {STATE.delay_s}s, reply {STATE.reply!r})")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
