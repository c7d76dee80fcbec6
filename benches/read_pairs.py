"""Two servers on one database, compared request by request (BENCHMARKS.md).

Sends each read to server A and then server B over keep-alive
connections (the order swapped every pair), N pairs per read, and prints
each server's p50, the median of the pairs' differences and how often B
was faster. Reads: `me`, a page of workspaces, a KEYWORD search and a
VECTOR search (a random unit vector) in WORKSPACE. The token (a tenant
admin's) is read from the file named by $TOKEN_FILE; every answer must be
free of errors. With $SERVER_PIDS (`PID_A,PID_B`) it also prints each
server's CPU time per request (user and system, from /proc).

    python3 benches/read_pairs.py PORT_A PORT_B WORKSPACE N [MODEL]
"""

import http.client
import json
import math
import os
import random
import statistics
import sys
import time

port_a, port_b, workspace, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
model = sys.argv[5] if len(sys.argv) > 5 else "synthetic-1536"
token = open(os.environ.get("TOKEN_FILE", "token.txt")).read().strip()
search = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score highlight document { id title } } }"
vector = [random.gauss(0, 1) for _ in range(1536)]
norm = math.sqrt(sum(x * x for x in vector))
reads = {
    "me": ("{ me { role } }", {}),
    "workspaces": ("{ workspaces(first: 20) { nodes { id name } } }", {}),
    "keyword": (search, {"input": {"workspaceId": workspace, "query": "rain alley detective", "mode": "KEYWORD"}}),
    "vector": (
        search,
        {"input": {"workspaceId": workspace, "embedding": [x / norm for x in vector],
                   "embeddingModel": model, "mode": "VECTOR", "limit": 10}},
    ),
}
headers = {"authorization": "Bearer " + token, "content-type": "application/json"}
connections = {port: http.client.HTTPConnection("127.0.0.1", port) for port in (port_a, port_b)}
pids = dict(zip((port_a, port_b), os.environ["SERVER_PIDS"].split(","))) if "SERVER_PIDS" in os.environ else {}


def cpu_seconds(port):
    """User and system time of the server on `port` so far."""
    fields = open(f"/proc/{pids[port]}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(port, body):
    connection = connections[port]
    started = time.perf_counter()
    connection.request("POST", "/graphql", body, headers)
    answer = connection.getresponse().read()
    took = time.perf_counter() - started
    if b'"errors"' in answer:
        sys.exit(f"{port}: {answer[:300]!r}")
    return took


for name, (query, variables) in reads.items():
    body = json.dumps({"query": query, "variables": variables}).encode()
    for port in (port_a, port_b):
        for _ in range(20):
            post(port, body)
    a, b = [], []
    cpu_before = {port: cpu_seconds(port) for port in pids}
    for i in range(n):
        order = (port_a, port_b) if i % 2 == 0 else (port_b, port_a)
        took = {port: post(port, body) for port in order}
        a.append(took[port_a])
        b.append(took[port_b])
    diffs = [y - x for x, y in zip(a, b)]
    cpu = "".join(
        f", {label} CPU {(cpu_seconds(port) - cpu_before[port]) / n * 1000:.3f} ms/request"
        for label, port in (("A", port_a), ("B", port_b))
        if port in pids
    )
    print(
        f"{name}: A p50 {statistics.median(a) * 1000:.3f} ms, B p50 {statistics.median(b) * 1000:.3f} ms, "
        f"median(B - A) {statistics.median(diffs) * 1000:+.3f} ms, B faster in {sum(d < 0 for d in diffs) / n:.0%} of pairs{cpu}"
    )
