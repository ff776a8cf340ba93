# The server under test: `matgrad serve --port 0` started once per module, its URL read from its
# first line; stopped with SIGINT (as Ctrl-C) at the end, which must end it cleanly.
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

MATGRAD = os.environ["MATGRAD_CLI"]
EXAMPLES = os.environ["MATGRAD_EXAMPLES"]


class Server:
    def __init__(self, *args):
        self.process = subprocess.Popen([MATGRAD, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()
        assert first.startswith("matgrad serve: http://127.0.0.1:"), first + self.process.stderr.read()
        self.url = first.split()[2]
        self.host, self.port = self.url[len("http://"):-1].split(":")
        self.port = int(self.port)

    def post(self, endpoint, body, raw=False):
        """(status, parsed JSON answer) of POST /api/<endpoint>; `body` a dict, or bytes with raw."""
        data = body if raw else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "api/" + endpoint, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=20)
        return self.process.returncode, out, err


@pytest.fixture(scope="module")
def server():
    s = Server("--time-limit", "20")
    yield s
    code, out, err = s.stop()
    assert code == 0, err
    assert "matgrad serve: stopped" in out
