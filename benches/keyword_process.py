"""KEYWORD search against the bare statement, both from a client in its own
process (BENCHMARKS.md, issue 13).

The bare statement is `bench search`'s (`BARE_KEYWORD`), prepared on one
connection as the schema owner through psycopg; `searchDocuments` goes to a
server process over one keep-alive connection. Queries: three words in a
row (six characters of a Chinese chunk) from 5 chunks of each of the
tenant's workspaces, picked with a fixed seed. Query by query, the bare
statement then the API; per round the p50 of each and their ratio, overall
and by language. The token (of the tenant's admin) is read from
$TOKEN_FILE.

    pip install "psycopg[binary]"
    TOKEN_FILE=… python3 benches/keyword_process.py OWNER_DATABASE_URL PORT TENANT_ID ROUNDS
"""

import http.client
import json
import os
import re
import statistics
import sys
import time

import psycopg

url, port, tenant, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
token = open(os.environ["TOKEN_FILE"]).read().strip()
BARE = (
    "SELECT d.id FROM screenplay.code_documents AS d, screenplay.keyword_tsquery(%s) AS q "
    "WHERE d.workspace_id = %s AND d.search_vector @@ q ORDER BY ts_rank(d.search_vector, q, 1) DESC, d.id LIMIT 10"
)
API = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { score document { id title sourcePath } highlight } }"

db = psycopg.connect(url, autocommit=True)
db.execute("SELECT setseed(0.13)")  # the same queries on every run of the same data
chunks = db.execute(
    "SELECT w.id::text, d.content FROM screenplay.workspaces AS w "
    "CROSS JOIN LATERAL (SELECT content FROM screenplay.code_documents "
    "  WHERE workspace_id = w.id AND status = 'READY' ORDER BY random() LIMIT 5) AS d "
    "WHERE w.tenant_id = %s ORDER BY 1",
    (tenant,),
).fetchall()


def three_words(text):
    """Three words in a row from the middle of a chunk (six CJK characters)."""
    cjk = re.findall(r"[\u4e00-\u9fff]{6}", text)
    if cjk:
        return "chinese", cjk[len(cjk) // 2]
    words = re.findall(r"[a-z]+", text.lower())
    middle = max(0, len(words) // 2 - 1)
    return "english", " ".join(words[middle:middle + 3])


queries = [(workspace, *three_words(content)) for workspace, content in chunks]
connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"authorization": "Bearer " + token, "content-type": "application/json"}


def bare(workspace, text):
    return [row[0] for row in db.execute(BARE, (text, workspace), prepare=True).fetchall()]


def api(workspace, text):
    body = {"query": API, "variables": {"input": {"workspaceId": workspace, "query": text, "mode": "KEYWORD", "limit": 10}}}
    connection.request("POST", "/graphql", json.dumps(body), headers)
    answer = json.loads(connection.getresponse().read())
    if "errors" in answer:
        sys.exit(f"API error: {answer['errors']}")
    return answer


for workspace, _, text in queries:  # warm-up: plans, caches, connections
    bare(workspace, text)
    api(workspace, text)
ratios = []
for round_no in range(rounds):
    times = []
    for workspace, language, text in queries:
        started = time.perf_counter()
        bare(workspace, text)
        middle = time.perf_counter()
        api(workspace, text)
        times.append((language, middle - started, time.perf_counter() - middle))
    parts = []
    for language in ("english", "chinese", None):
        picked = [t for t in times if language in (None, t[0])]
        if not picked:
            continue
        b = statistics.median(t[1] for t in picked) * 1000
        a = statistics.median(t[2] for t in picked) * 1000
        parts.append(f"{language or 'all'} {len(picked)}: bare {b:.3f} ms, API {a:.3f} ms, {a / b:.2f}x")
        if language is None:
            ratios.append(a / b)
    print(f"round {round_no}: " + " | ".join(parts))
print(f"median ratio over rounds: {statistics.median(ratios):.2f}x")
