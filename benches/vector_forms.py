"""One server, one VECTOR search, its query vector in two forms (BENCHMARKS.md).

The same unit vector as JSON numbers (`embedding`, the float32 values
printed as Python prints floats) and as `embeddingBase64` (base64 of
little-endian float32, as OpenAI returns it with `encoding_format:
"base64"`), sent in turn over one
keep-alive connection (the order reversed every round), N rounds after a
warm-up. Prints each form's p50, the median of its differences to the
first form, how often it was faster, and the server's CPU per request
(from /proc/PID/stat over 1,000 requests of each form). The token (a tenant
admin's) is read from the file named by $TOKEN_FILE; every answer must be
free of errors.

    python3 benches/vector_forms.py PORT SERVER_PID WORKSPACE N [MODEL]
"""

import base64
import http.client
import json
import math
import os
import random
import statistics
import struct
import sys
import time

port, pid, workspace, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
model = sys.argv[5] if len(sys.argv) > 5 else "synthetic-1536"
token = open(os.environ.get("TOKEN_FILE", "token.txt")).read().strip()
search = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score highlight document { id title } } }"
raw = [random.gauss(0, 1) for _ in range(1536)]
norm = math.sqrt(sum(x * x for x in raw))
vector = [x / norm for x in raw]
as_f32 = list(struct.unpack("<1536f", struct.pack("<1536f", *vector)))


def body(field, value):
    input = {"workspaceId": workspace, field: value, "embeddingModel": model, "mode": "VECTOR", "limit": 10}
    return json.dumps({"query": search, "variables": {"input": input}}).encode()


forms = {
    "embedding": body("embedding", as_f32),
    "embeddingBase64": body("embeddingBase64", base64.b64encode(struct.pack("<1536f", *as_f32)).decode()),
}
headers = {"authorization": "Bearer " + token, "content-type": "application/json"}
connection = http.client.HTTPConnection("127.0.0.1", port)
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def post(payload):
    started = time.perf_counter()
    connection.request("POST", "/graphql", payload, headers)
    answer = connection.getresponse().read()
    took = time.perf_counter() - started
    if b'"errors"' in answer:
        sys.exit(answer[:300])
    return took


names = list(forms)
for name in names:
    for _ in range(50):
        post(forms[name])
took = {name: [] for name in names}
for i in range(n):
    for name in names if i % 2 == 0 else reversed(names):
        took[name].append(post(forms[name]))
cpu = {}
for name in names:
    before = cpu_seconds()
    for _ in range(1000):
        post(forms[name])
    cpu[name] = (cpu_seconds() - before) / 1000
first = took[names[0]]
for name in names:
    diffs = [y - x for x, y in zip(first, took[name])]
    print(
        f"{name} ({len(forms[name])} bytes): p50 {statistics.median(took[name]) * 1000:.3f} ms, "
        f"median difference {statistics.median(diffs) * 1000:+.3f} ms, faster in {sum(d < 0 for d in diffs) / n:.0%}, "
        f"server CPU {cpu[name] * 1000:.3f} ms per request"
    )
