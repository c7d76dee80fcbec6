#!/usr/bin/env bash
# The database's share of a mutation's audit row, without the HTTP server
# (BENCHMARKS.md, issue 6). pgbench runs transactions shaped like an audited
# `updateWorkspace`, as the app role with row-level security, eight clients
# each on its own workspace:
#
#   none      BEGIN; set tenant; UPDATE workspace; COMMIT
#   insert    … the audit row as a plain INSERT, in one message with COMMIT
#   execute   … the same row as EXECUTE of the INSERT prepared once per
#             connection, in one message with COMMIT (what the server sends)
#
# The three alternate, `runs` times each; the script prints every tps and the
# medians. Usage, with the local development database running
# (`screenplay db start`):
#
#   benches/pgbench/audit_row.sh [seconds per run, 5] [runs, 3]
set -euo pipefail

seconds=${1:-5}
runs=${2:-3}
cd "$(dirname "$0")/../.."
screenplay() { cargo run -q --release -- "$@"; }
app_url=$(screenplay db url)
owner_url=$(screenplay db url --owner)
bin=.screenplay/pip/pgserver/pginstall/bin
work=$(mktemp -d)
trap 'rm -rf "$work"; "$bin/psql" -q "$owner_url" -c "DELETE FROM screenplay.tenants WHERE slug = '"'"'pgbench-audit-row'"'"'" >/dev/null' EXIT

# A tenant of its own with eight workspaces (removed again on exit).
tenant=$("$bin/psql" -qAt "$owner_url" -v ON_ERROR_STOP=1 <<'SQL'
DELETE FROM screenplay.tenants WHERE slug = 'pgbench-audit-row';
WITH t AS (
    INSERT INTO screenplay.tenants (slug, name) VALUES ('pgbench-audit-row', 'pgbench') RETURNING id
), w AS (
    INSERT INTO screenplay.workspaces (tenant_id, name, slug)
    SELECT t.id, 'Bench ' || n, 'bench-' || n FROM t, generate_series(0, 7) AS n
)
SELECT id FROM t;
SQL
)
user=$(uuidgen 2>/dev/null || cat /proc/sys/kernel/random/uuid)

head="BEGIN;
SELECT set_config('app.tenant_id', '$tenant', true);
UPDATE screenplay.workspaces SET description = 'benchmark', updated_at = now()
    WHERE id = (SELECT id FROM screenplay.workspaces WHERE tenant_id = '$tenant' ORDER BY id OFFSET :client_id LIMIT 1);"
columns="id, tenant_id, user_id, subject, role, request_id, operation_type, operation_name, fields, resource_type, resource_ids, outcome, error_codes, ip, user_agent, details, duration_ms, created_at"
values="uuidv7(), '$tenant', '$user', '$user', 'tenant_admin', uuidv7()::text, 'mutation', 'Write', '{updateWorkspace}', 'workspace', '{$user}', 'ok', '{}', '127.0.0.1', 'reqwest', '{\"changes\": [{\"id\": \"$user\", \"type\": \"workspace\", \"after\": {}, \"before\": {}}], \"variables\": {\"i\": {\"id\": \"$user\", \"description\": \"benchmark\"}}}', 5, now()"
params=$(seq -s ', ' -f '$%g' 1 18)

printf '%s\nCOMMIT;\n' "$head" >"$work/none.sql"
printf '%s\nINSERT INTO screenplay.audit_logs (%s) VALUES (%s) \\; COMMIT;\n' "$head" "$columns" "$values" >"$work/insert.sql"
{
    echo '\if :prepared = 0'
    echo "PREPARE audit_insert AS INSERT INTO screenplay.audit_logs ($columns) VALUES ($params);"
    echo '\set prepared 1'
    echo '\endif'
    printf '%s\nEXECUTE audit_insert(%s) \\; COMMIT;\n' "$head" "$values"
} >"$work/execute.sql"

declare -A results
for run in $(seq 1 "$runs"); do
    for kind in none insert execute; do
        tps=$("$bin/pgbench" -n -M simple -D prepared=0 -c 8 -j 2 -T "$seconds" -f "$work/$kind.sql" "$app_url" 2>&1 |
            awk '/^tps/ { printf "%d", $3 }')
        results[$kind]="${results[$kind]:-} $tps"
        echo "run $run $kind: $tps tps"
    done
done
for kind in none insert execute; do
    median=$(tr ' ' '\n' <<<"${results[$kind]}" | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    echo "$kind: median $median tps"
done
