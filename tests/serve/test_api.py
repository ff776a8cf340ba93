# The JSON API of `matgrad serve` against the CLI's --format json for the same files, its errors,
# limits and hostile requests. The server is the real binary on a free port (conftest.py).
import glob
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import EXAMPLES, MATGRAD, Server

# Dims that bind every dimension of each example (explain and grad do not draw them).
EXAMPLE_DIMS = {"slides": {}, "gaussian_nll": {"d": 3, "n": 8}, "l2_logistic": {"d": 4, "n": 9},
                "softmax_regression": {"d": 4, "k": 3, "n": 9}, "tanh_mse": {"d": 2, "h": 16, "n": 20}}
NAMES = sorted(EXAMPLE_DIMS)


def example(kind, name):
    with open(os.path.join(EXAMPLES, kind, name + ".mg"), encoding="utf-8") as f:
        return f.read()


def cli(tmp_path, args, model, hand=None):
    """The CLI's stdout as JSON (and its exit status), the model written as model.mg in tmp_path."""
    (tmp_path / "model.mg").write_text(model, encoding="utf-8")
    if hand is not None:
        (tmp_path / "hand.mg").write_text(hand, encoding="utf-8")
    run = subprocess.run([MATGRAD, *args], cwd=tmp_path, capture_output=True, text=True)
    return run.returncode, run.stdout, run.stderr


def dim_args(dims):
    return [arg for name, size in dims.items() for arg in ("--dim", f"{name}={size}")]


def read_npy(path):
    """A float64 .npy file as nested lists (the format matgrad writes: little-endian, C order)."""
    data = open(path, "rb").read()
    header_length = struct.unpack("<H", data[8:10])[0]
    header = eval(data[10:10 + header_length].decode("latin1"))  # a Python dict literal, by the format
    assert header["descr"] == "<f8" and not header["fortran_order"]
    rows, cols = header["shape"] if len(header["shape"]) == 2 else (header["shape"][0], 1)
    values = struct.unpack(f"<{rows * cols}d", data[10 + header_length:])
    return [list(values[r * cols:(r + 1) * cols]) for r in range(rows)]


@pytest.mark.parametrize("name", NAMES)
def test_explain_equals_cli_json(server, tmp_path, name):
    model, dims = example("models", name), EXAMPLE_DIMS[name]
    code, out, err = cli(tmp_path, ["explain", "model.mg", "--seed", "3", *dim_args(dims), "--format", "json"], model)
    assert code == 0, err
    status, answer = server.post("explain", {"model": model, "seed": 3, "dims": dims})
    assert status == 200
    assert answer == json.loads(out)
    assert answer["title"].startswith("model.mg: output ")


@pytest.mark.parametrize("name", NAMES)
def test_verify_equals_cli_json(server, tmp_path, name):
    model, hand = example("models", name), example("derivations", name)
    code, out, err = cli(tmp_path, ["verify", "model.mg", "--seed", "2", "--hand", "hand.mg", "--format", "json"],
                         model, hand)
    assert code in (0, 1), err
    status, answer = server.post("verify", {"model": model, "hand": hand, "seed": 2})
    assert status == 200
    assert answer == json.loads(out)
    assert len(answer["gradients"]) > 0


def test_verify_names_the_first_wrong_step(server):
    # The slides' derivation drops the mean's 1/7 in dA2 (the README's example).
    status, answer = server.post("verify", {"model": example("models", "slides"),
                                            "hand": example("derivations", "slides"), "seed": 1})
    assert status == 200
    assert answer["first_wrong_step"] == "dA2"
    assert answer["gradients"][0]["diagnosis"] == "missing_mean_factor"


@pytest.mark.parametrize("name", NAMES)
def test_derive_equals_cli_json(server, tmp_path, name):
    model = example("models", name)
    code, out, err = cli(tmp_path, ["derive", "model.mg", "--seed", "4", "--format", "json"], model)
    assert code == 0, err
    status, answer = server.post("derive", {"model": model, "seed": 4})
    assert status == 200
    assert answer == json.loads(out)
    assert answer["derivation"].startswith("d")  # the first dNAME = ... line


@pytest.mark.parametrize("name", NAMES)
def test_grad_equals_cli_json_and_files(server, tmp_path, name):
    model, dims = example("models", name), EXAMPLE_DIMS[name]
    code, out, err = cli(tmp_path, ["grad", "model.mg", "--seed", "5", *dim_args(dims), "--out", "g", "--format", "json"],
                         model)
    assert code == 0, err
    facts = json.loads(out)
    status, answer = server.post("grad", {"model": model, "seed": 5, "dims": dims})
    assert status == 200
    gradients = answer.pop("gradients")
    assert answer == {k: v for k, v in facts.items() if k not in ("out", "files")}
    output = facts["output"] + ".npy"
    assert sorted(g + ".npy" for g in gradients) == sorted(f for f in facts["files"] if f != output)
    for name_, value in gradients.items():
        assert value == read_npy(tmp_path / "g" / (name_ + ".npy"))  # exact: JSON round-trips doubles


def test_model_error_keeps_line_and_column_as_the_cli(server, tmp_path):
    model = "input X : 10 x 7\nparam W1 : 64 x 10\nJ = sum(X*W1)\n"
    code, out, err = cli(tmp_path, ["grad", "model.mg", "--seed", "1", "--out", "g"], model)
    assert code == 2
    status, answer = server.post("grad", {"model": model})
    assert status == 400
    error = answer["error"]
    assert (error["line"], error["column"], error["file"]) == (3, 10, "model.mg")
    assert err.startswith(f"model.mg:3:10: error: {error['message']}\n")


def test_derivation_error_keeps_line_and_column(server, tmp_path):
    model = example("models", "slides")
    hand = "dA2 = -Y ./ A2\ndZ2 = dA2 .* (A2 +* 2)\n"
    code, out, err = cli(tmp_path, ["verify", "model.mg", "--seed", "1", "--hand", "hand.mg"], model, hand)
    assert code == 2
    status, answer = server.post("verify", {"model": model, "hand": hand})
    assert status == 400
    error = answer["error"]
    assert error["file"] == "hand.mg" and error["line"] == 2
    assert err.startswith(f"hand.mg:2:{error['column']}: error: {error['message']}\n")


@pytest.mark.parametrize("endpoint,body,status,words", [
    ("grad", b"{\"model\": ", 400, "not valid JSON"),
    ("grad", b"[1, 2]", 400, "JSON object"),
    ("grad", b"{}", 400, "'model' is missing"),
    ("verify", b"{\"model\": \"param w : 1 x 1\\nJ = w\"}", 400, "'hand' is missing"),
    ("grad", b"{\"model\": 7}", 400, "'model' must be a string"),
    ("grad", b"{\"model\": \"x\", \"seed\": -1}", 400, "'seed'"),
    ("grad", b"{\"model\": \"x\", \"dims\": {\"n\": 0}}", 400, "positive"),
    ("grad", b"{\"model\": \"x\", \"colour\": 1}", 400, "unknown field 'colour'"),
    ("grad", b"{\"model\": \"x\", \"format\": \"html\"}", 400, "unknown format"),
    ("hessian", b"{}", 404, "no endpoint /api/hessian"),
    ("grad", b"[" * 100000 + b"]" * 100000, 400, "nests"),
    ("grad", b"{\"model\": \"\\u0000\\ud800\"}", 400, None),
], ids=["truncated", "array", "empty", "no-hand", "model-number", "negative-seed", "zero-dim", "unknown-field",
        "html-for-grad", "unknown-endpoint", "deep-nesting", "lone-surrogate"])
def test_bad_requests_get_a_json_error(server, endpoint, body, status, words):
    got, answer = server.post(endpoint, body, raw=True)
    assert got == status
    assert set(answer["error"]) == {"message", "line", "column", "file"}
    if words:
        assert words in answer["error"]["message"]


def test_body_over_one_megabyte_is_413(server):
    body = json.dumps({"model": "# " + "x" * (1 << 20)}).encode()
    status, answer = server.post("grad", body, raw=True)
    assert status == 413
    assert "limit" in answer["error"]["message"]
    # Just under the limit is read (and judged on its content).
    body = json.dumps({"model": "#" * ((1 << 20) - 60) + "\nparam w : 1 x 1\nJ = w"}).encode()
    assert len(body) <= 1 << 20
    status, answer = server.post("grad", body, raw=True)
    assert status == 200, answer


def test_values_over_ten_million_elements_are_refused_at_their_declaration(server):
    model = "input X : n x n\nparam w : n x 1\nJ = sum(X*w)\n"
    status, answer = server.post("grad", {"model": model, "dims": {"n": 3163}})  # 3163^2 > 10^7
    assert status == 422
    assert (answer["error"]["line"], answer["error"]["column"]) == (1, 7)
    assert "10000000" in answer["error"]["message"]
    status, answer = server.post("grad", {"model": model, "dims": {"n": 3000}})  # 9.003e6: allowed
    assert status == 200


def test_an_intermediate_over_the_limit_is_refused_before_it_is_allocated(server):
    model = "param x : n x 1\nJ = sum(x*x')\n"  # x x' is n x n
    status, answer = server.post("grad", {"model": model, "dims": {"n": 4000}})
    assert status == 422
    assert "4000x4000" in answer["error"]["message"]


def test_a_request_past_the_time_limit_is_stopped_and_answered():
    slow = Server("--time-limit", "0.5")
    try:
        # 400 products of 600x600 matrices: about 40 s of work on this machine's 2 cores.
        model = "param A : n x n\nB1 = A*A\n" + "".join(f"B{k} = B{k - 1}*A\n" for k in range(2, 400)) + "J = sum(B399)\n"
        start = time.monotonic()
        status, answer = slow.post("grad", {"model": model, "dims": {"n": 600}})
        elapsed = time.monotonic() - start
        assert status == 422
        assert "time limit" in answer["error"]["message"]
        assert elapsed < 10
        # The server answers the next request.
        status, answer = slow.post("grad", {"model": "param w : 1 x 1\nJ = w .* w"})
        assert status == 200
    finally:
        assert slow.stop()[0] == 0


def test_64_concurrent_requests_each_get_their_own_answer(server):
    model = example("models", "tanh_mse")
    dims = EXAMPLE_DIMS["tanh_mse"]
    expected = {seed: server.post("grad", {"model": model, "seed": seed, "dims": dims})[1] for seed in range(8)}
    assert len({json.dumps(a) for a in expected.values()}) == 8  # the seeds give different answers
    answers = [None] * 64
    def ask(k):
        answers[k] = server.post("grad", {"model": model, "seed": k % 8, "dims": dims})
    threads = [threading.Thread(target=ask, args=(k,)) for k in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (status, answer) in enumerate(answers):
        assert status == 200
        assert answer == expected[k % 8]


def test_hostile_connections_do_not_take_the_server_down(server):
    def raw(data, wait=0.0):
        with socket.create_connection((server.host, server.port), timeout=10) as s:
            s.sendall(data)
            time.sleep(wait)
            try:
                return s.recv(4096)
            except OSError:
                return b""
    raw(b"\x00\xff garbage \r\n\r\n")
    raw(b"POST /api/grad HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n{")
    raw(b"POST /api/grad HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    # A slow client holds its connection without a full request; others are served meanwhile.
    slow = socket.create_connection((server.host, server.port), timeout=10)
    slow.sendall(b"POST /api/grad HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo")
    status, answer = server.post("grad", {"model": "param w : 1 x 1\nJ = w .* w", "seed": 1})
    assert status == 200
    slow.close()
    # A client that sends nothing and goes away.
    socket.create_connection((server.host, server.port), timeout=10).close()
    status, answer = server.post("grad", {"model": "param w : 1 x 1\nJ = w .* w", "seed": 1})
    assert status == 200


def test_page_and_katex_come_from_the_server(server):
    import urllib.request
    page = urllib.request.urlopen(server.url).read().decode()
    assert 'src="/katex/katex.min.js"' in page and "http" not in page.replace("http-equiv", "")
    for path in ["app.js", "style.css", "report.js", "report.css", "katex/katex.min.js", "katex/katex.min.css",
                 "katex/fonts/KaTeX_Main-Regular.woff2"]:
        with urllib.request.urlopen(server.url + path) as answer:
            assert answer.status == 200 and len(answer.read()) > 0
    examples = json.loads(urllib.request.urlopen(server.url + "api/examples").read())
    assert sorted(examples["models"]) == NAMES and sorted(examples["derivations"]) == NAMES
    assert examples["models"]["slides"] == example("models", "slides")
    # Nothing outside KaTeX's directory is reachable through its route.
    for path in ["katex/../../../../etc/passwd", "katex/fonts/..%2F..%2Fkatex.js", "katex/katex.js"]:
        try:
            urllib.request.urlopen(server.url + path)
            assert False, path
        except urllib.error.HTTPError as error:
            assert error.code in (400, 404)
