"""Error-heavy load for the RUST_BACKTRACE measurement (BENCHMARKS.md).

Posts N requests over one keep-alive connection to a running server,
cycling four documents that all answer with an error (a malformed UUID,
an empty name, a workspace that does not exist, an unknown field), and
fails unless every answer has one. The token (a tenant admin's) is read
from the file named by $TOKEN_FILE.

    python3 benches/error_load.py PORT N
"""

import http.client
import json
import os
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
token = open(os.environ.get("TOKEN_FILE", "token.txt")).read().strip()
documents = [
    '{ workspace(id: "x") { id } }',
    'mutation { createWorkspace(input: {name: "", slug: "!!"}) { workspace { id } } }',
    'mutation { archiveWorkspace(id: "00000000-0000-0000-0000-000000000000") { workspace { id } } }',
    "{ noSuchField }",
]
bodies = [json.dumps({"query": q}).encode() for q in documents]
headers = {"authorization": "Bearer " + token, "content-type": "application/json"}
connection = http.client.HTTPConnection("127.0.0.1", port)
errors = 0
for i in range(n):
    connection.request("POST", "/graphql", bodies[i % len(bodies)], headers)
    errors += b'"errors"' in connection.getresponse().read()
assert errors == n, f"{errors} of {n} answers had errors"
