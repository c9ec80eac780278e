"""Remote LMs against a local fake OpenAI-compatible server: max_tokens on the wire, retries, clear errors."""
import json
import os
import socket
import subprocess
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, HTTPServer

import dspy.clients.execution
import pytest

from afirs_dspy.lm import LMOptions, LMUnavailable, lm_failures_explained, make_lm


class FakeServer:
    """Answers /v1/chat/completions; ``statuses`` are returned in turn (200 after they run out)."""

    def __init__(self, statuses=()):
        self.statuses, self.bodies = list(statuses), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                server.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                status = server.statuses.pop(0) if server.statuses else 200
                payload = {"error": {"message": "overloaded"}} if status != 200 else {
                    "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "hello"}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/v1"
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def waits(monkeypatch):
    """DSPy's backoff sleeps, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(dspy.clients.execution, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def test_openai_compatible_server_receives_max_tokens(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    lm = make_lm("openai/qwen", api_base=server.url, options=LMOptions(max_tokens=77, cache=False))
    assert lm("hi") == ["hello"]
    assert server.bodies[0]["max_tokens"] == 77 and "max_completion_tokens" not in server.bodies[0]


def test_transient_server_errors_are_retried_with_backoff(server, waits):
    server.statuses = [503, 503]
    lm = make_lm("hosted_vllm/m", api_base=server.url, options=LMOptions(cache=False, num_retries=3))
    assert lm("hi") == ["hello"]
    assert len(server.bodies) == 3
    assert waits == [1, 2]


def test_a_server_that_keeps_failing_gives_a_clear_error_after_bounded_retries(server, waits):
    server.statuses = [503] * 10
    lm = make_lm("hosted_vllm/m", api_base=server.url, options=LMOptions(cache=False, num_retries=2))
    with pytest.raises(LMUnavailable) as error, lm_failures_explained(lm):
        lm("hi")
    assert len(server.bodies) == 3 and waits == [1, 2]
    assert f"LM hosted_vllm/m at {server.url} failed after 3 attempts" in str(error.value)
    assert "server at" in str(error.value) and "is running" in str(error.value)


def test_no_server_listening_gives_a_clear_error(waits):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    lm = make_lm("hosted_vllm/m", api_base=f"http://127.0.0.1:{port}/v1", options=LMOptions(cache=False, num_retries=1))
    with pytest.raises(LMUnavailable, match="failed after 2 attempts") as error, lm_failures_explained(lm):
        lm("hi")
    assert "onnect" in str(error.value)  # the transport's own words stay in the message


def test_rejected_credentials_are_not_retried_and_say_what_to_set(server, waits):
    server.statuses = [401]
    lm = make_lm("hosted_vllm/m", api_base=server.url, options=LMOptions(cache=False))
    with pytest.raises(LMUnavailable, match="no valid credentials"), lm_failures_explained(lm):
        lm("hi")
    assert len(server.bodies) == 1 and waits == []


OFFLINE_RUN = """
import socket, sys
looked_up = []
real_getaddrinfo = socket.getaddrinfo
def local_only(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost"):
        looked_up.append(host)
        raise socket.gaierror("offline test: no lookups")
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = local_only
from afirs_dspy.lm import make_lm
url = sys.argv[1]
answers = [make_lm(model, api_base=url)("hi")[0] for model in ("openai/qwen", "hosted_vllm/m")]
print(answers, looked_up)
"""


def test_start_up_looks_nothing_up_and_dspy_cache_answers_offline(server, tmp_path):
    env = {**os.environ, "DSPY_CACHEDIR": str(tmp_path / "dspy_cache")}
    env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)  # make_lm must set it itself
    run = [sys.executable, "-c", OFFLINE_RUN, server.url]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert first.stdout.strip() == "['hello', 'hello'] []", first.stderr[-2000:]
    server.close()  # the second run has only the on-disk cache
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert second.stdout.strip() == "['hello', 'hello'] []", second.stderr[-2000:]
    assert len(server.bodies) == 2


def test_other_errors_pass_through_unchanged():
    with pytest.raises(ZeroDivisionError), lm_failures_explained():
        1 / 0
