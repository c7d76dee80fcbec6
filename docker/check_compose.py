#!/usr/bin/env python3
"""Static checks of docker-compose.yml where Docker is not available (this
project's CI machines): valid YAML, known keys, every referenced service,
volume, build context, Dockerfile and mounted file present, variable
references well formed. `docker compose config` does more; run it where
Docker exists."""
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
errors = []


def check(cond, message):
    if not cond:
        errors.append(message)


with open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8") as f:
    text = f.read()
doc = yaml.safe_load(text)

check(set(doc) <= {"name", "services", "volumes", "networks", "configs", "secrets"}, f"top-level keys {set(doc)}")
services = doc.get("services") or {}
check({"postgres", "server", "pgbouncer"} <= set(services), f"services {set(services)}")
check(services.get("postgres", {}).get("image", "").startswith("pgvector/pgvector:pg17"), "postgres image")
check(services.get("pgbouncer", {}).get("profiles") == ["pgbouncer"], "pgbouncer is in its own profile")
known = {"image", "build", "environment", "volumes", "ports", "command", "healthcheck", "depends_on",
         "restart", "profiles", "shm_size"}
# The variables the server reads: every `env = "..."` of its configuration.
server_vars = set()
for folder, _, files in os.walk(os.path.join(ROOT, "api", "src")):
    for name in files:
        if name.endswith(".rs"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                server_vars.update(re.findall(r'env = "([A-Z_][A-Z0-9_]*)"', f.read()))
declared_volumes = set((doc.get("volumes") or {}).keys())
for name, svc in services.items():
    check(set(svc) <= known, f"{name}: unexpected keys {set(svc) - known}")
    check("image" in svc or "build" in svc, f"{name}: image or build")
    build = svc.get("build")
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        check(os.path.isfile(os.path.join(ROOT, context, dockerfile)), f"{name}: {context}/{dockerfile} missing")
    for dep in (svc.get("depends_on") or {}):
        check(dep in services, f"{name}: depends on unknown service {dep}")
    env = svc.get("environment") or {}
    check(isinstance(env, dict), f"{name}: environment must be a map")
    for vol in svc.get("volumes") or []:
        source = vol.split(":")[0]
        if source.startswith("./"):
            if not source.startswith("./backups"):
                check(os.path.exists(os.path.join(ROOT, source)), f"{name}: {source} missing")
        else:
            check(source in declared_volumes, f"{name}: volume {source} not declared")
    for port in svc.get("ports") or []:
        check(str(port).startswith("127.0.0.1:"), f"{name}: port {port} should bind 127.0.0.1")
for ref in re.findall(r"\$\{([^}]*)\}", text):
    check(re.fullmatch(r"[A-Z_][A-Z0-9_]*((:?[-?])[^}]*)?", ref) is not None, f"bad variable reference ${{{ref}}}")
server_env = services["server"]["environment"]
for var in ["DATABASE_URL", "SCREENPLAY_MIGRATION_DATABASE_URL", "SCREENPLAY_JWT_SECRET", "SCREENPLAY_DB_PGBOUNCER"]:
    check(var in server_env, f"server: {var} missing")
check("pg_stat_statements" in services["postgres"]["command"], "postgres preloads pg_stat_statements")
for var in server_env:
    check(var in server_vars, f"server: {var} is not a variable the server reads")
for name, svc in services.items():
    check("healthcheck" in svc, f"{name}: no healthcheck")
check("screenplay" in " ".join(services["server"]["healthcheck"]["test"]) and
      "healthcheck" in services["server"]["healthcheck"]["test"], "server: healthcheck runs `screenplay healthcheck`")
for name, svc in services.items():
    for dep, cond in (svc.get("depends_on") or {}).items():
        if "healthcheck" in services.get(dep, {}):
            check(cond.get("condition") == "service_healthy", f"{name}: waits for {dep} to be healthy")
with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
    dockerfile = f.read()
check(re.search(r"^HEALTHCHECK .*\n?.*screenplay\", \"healthcheck", dockerfile, re.M) is not None,
      "Dockerfile: HEALTHCHECK runs `screenplay healthcheck`")
check("SCREENPLAY_ENV=production" in dockerfile, "Dockerfile: SCREENPLAY_ENV=production")
installs = " ".join(re.findall(r"apt-get install[^;&\n]*", dockerfile))
check("postgresql-client" not in installs and "perl" not in installs,
      "Dockerfile: the images install no postgresql-client (and so no Perl)")

if errors:
    print("docker-compose.yml:", *errors, sep="\n  ")
    sys.exit(1)
print(f"docker-compose.yml: {len(services)} services checked")
