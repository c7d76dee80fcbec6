#!/usr/bin/env python3
"""The Rust version is the true minimum, stated once: the workspace's
`rust-version` must be the highest `rust-version` any locked dependency
declares (so that `cargo build --locked` works on it and on nothing older),
and the Dockerfile must build with that same version. Reads
`cargo metadata --locked` for this platform."""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version(text):
    return tuple(int(part) for part in text.split("."))


metadata = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", "x86_64-unknown-linux-gnu"],
    cwd=ROOT, check=True, capture_output=True, text=True).stdout)
members = set(metadata["workspace_members"])
packages = {p["id"]: p for p in metadata["packages"]}
declared = {packages[m]["rust_version"] for m in members}
errors = []
if len(declared) != 1 or None in declared:
    errors.append(f"workspace members declare rust-version {sorted(map(str, declared))}; set it once in [workspace.package]")
declared = next(iter(declared))

# Every package the build of this platform compiles.
nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
reachable, stack = set(), list(members)
while stack:
    node = stack.pop()
    if node in reachable:
        continue
    reachable.add(node)
    stack.extend(dep["pkg"] for dep in nodes[node]["deps"])
needed = max(
    ((version(packages[p]["rust_version"]), packages[p]["name"], packages[p]["version"])
     for p in reachable if p not in members and packages[p]["rust_version"]),
    default=((0,), "", ""),
)
needed_text = ".".join(map(str, needed[0][:2]))
if declared and version(declared)[:2] != needed[0][:2]:
    errors.append(
        f"rust-version is {declared} but the locked dependencies need {needed_text} ({needed[1]} {needed[2]}); "
        f"set rust-version = \"{needed_text}\" in Cargo.toml and the Dockerfile's RUST_VERSION")

with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
    dockerfile = f.read()
match = re.search(r"^ARG RUST_VERSION=(\S+)", dockerfile, re.M)
if not match:
    errors.append("Dockerfile: no ARG RUST_VERSION=")
elif declared and version(match.group(1))[:2] != version(declared)[:2]:
    errors.append(f"Dockerfile builds with Rust {match.group(1)}, Cargo.toml declares {declared}")

if errors:
    print("toolchain:", *errors, sep="\n  ")
    sys.exit(1)
print(f"toolchain: rust-version {declared} = what the locked dependencies need ({needed[1]} {needed[2]}); Dockerfile agrees")
