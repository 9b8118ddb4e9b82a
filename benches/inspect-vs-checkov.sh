#!/usr/bin/env bash
# ksx inspect against Checkov on the same generated manifests, in the same run (spec inspect.md §8).
#
#   benches/inspect-vs-checkov.sh [APPS] [BIG_OBJECTS]
#
# APPS (default 170, about 1,000 objects) applications are generated, each a Deployment with its Service,
# PodDisruptionBudget, HorizontalPodAutoscaler, NetworkPolicy and Role (six objects in three files, with a realistic
# mix of good and bad settings); both tools inspect that tree, and the script prints both wall times and their ratio.
# Then ksx alone inspects BIG_OBJECTS (default 10,000) objects generated the same way (Checkov needs minutes there;
# CHECKOV_BIG=1 runs it there too, once, and prints that ratio as well). The load average is printed with the
# figures: on a shared machine it says how far to trust them.
#
# Checkov is installed from PyPI into a virtual environment under ${KSX_TOOLS_DIR:-$HOME/.cache/ksx/tools} on
# first use (idempotent; CHECKOV_VERSION overrides the pinned version). ksx is built with `cargo build --release`,
# unless KSX_BIN names a ksx binary to measure instead.
# Not part of scripts/test.sh: it takes minutes and needs PyPI once.
set -euo pipefail

APPS=${1:-170}
BIG_OBJECTS=${2:-10000}
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
TOOLS=${KSX_TOOLS_DIR:-$HOME/.cache/ksx/tools}
VENV="$TOOLS/checkov-$CHECKOV_VERSION"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ksx-inspect-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/checkov" ]]; then
    say "installing checkov $CHECKOV_VERSION into $VENV"
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
if [[ -n "${KSX_BIN:-}" ]]; then
    KSX=$KSX_BIN
else
    (cd "$ROOT" && cargo build --release --quiet -p ksx-examples --bin ksx)
    KSX="$ROOT/target/release/ksx"
fi

# --- generator -------------------------------------------------------------------------------------------------
# gen.py OUT_DIR APPS: APPS applications, three files each (deploy+service, pdb+hpa, netpol+role), spread over
# namespaces; every fifth app runs privileged with a latest image, every third lacks limits, every seventh has no
# probes, so both tools have findings to report.
cat >"$WORK/gen.py" <<'PY'
import os, sys

out, apps = sys.argv[1], int(sys.argv[2])
for i in range(apps):
    ns = f"team-{i % 23}"
    name = f"app-{i}"
    d = os.path.join(out, ns, name)
    os.makedirs(d, exist_ok=True)
    image = "nginx:latest" if i % 5 == 0 else f"registry.example.com/{name}:1.{i % 9}.{i % 4}"
    privileged = "true" if i % 5 == 0 else "false"
    limits = "" if i % 3 == 0 else "\n            limits: {cpu: 500m, memory: 256Mi}"
    probes = "" if i % 7 == 0 else """
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}"""
    with open(os.path.join(d, "deploy.yaml"), "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}, tier: web}}
spec:
  replicas: {2 + i % 3}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}, tier: web}}
    spec:
      serviceAccountName: {name}
      containers:
        - name: app
          image: {image}
          ports:
            - {{name: http, containerPort: 8080}}
          env:
            - {{name: LOG_LEVEL, value: info}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}{limits}
          securityContext:
            privileged: {privileged}
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: {"true" if i % 2 else "false"}
            runAsNonRoot: true
            capabilities: {{drop: [ALL]}}{probes}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector: {{app: {name}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
""")
    with open(os.path.join(d, "scaling.yaml"), "w") as f:
        f.write(f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  namespace: {ns}
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: {name}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  namespace: {ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: {4 + i % 8}
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
""")
    with open(os.path.join(d, "access.yaml"), "w") as f:
        f.write(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
  podSelector:
    matchLabels: {{app: {name}}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {{matchLabels: {{tier: web}}}}
      ports:
        - {{port: 8080}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}
  namespace: {ns}
rules:
  - apiGroups: [""]
    resources: [{"secrets" if i % 11 == 0 else "configmaps"}]
    verbs: [get, list, watch]
""")
PY

# Wall seconds of a command (its output discarded; its exit code ignored: both tools exit non-zero on findings).
wall() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}

# Best of three runs (like ksx-bench's --repeat): ksx runs are short enough for a busy machine's noise to matter.
best3() {
    local a b c
    a=$(wall "$@")
    b=$(wall "$@")
    c=$(wall "$@")
    python3 -c "print(f'{min($a, $b, $c):.3f}')"
}

SMALL="$WORK/small"
python3 "$WORK/gen.py" "$SMALL" "$APPS"
objects=$((APPS * 6))
files=$(find "$SMALL" -name '*.yaml' | wc -l)
bytes=$(find "$SMALL" -name '*.yaml' -printf '%s\n' | awk '{s += $1} END {print s}')
say "bundle: $objects objects in $files files ($bytes bytes of YAML)"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ksx_small=$(best3 "$KSX" inspect -f "$SMALL" --format json -o "$WORK/ksx-small.json")
ksx_small_findings=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['findings']))" "$WORK/ksx-small.json")
checkov_small=$(wall "$VENV/bin/checkov" -d "$SMALL" --framework kubernetes --quiet --compact -o json --output-file-path "$WORK/checkov")
checkov_failed=$(python3 - "$WORK/checkov" <<'PY'
import glob, json, sys
total = 0
for p in glob.glob(sys.argv[1] + "/*.json"):
    data = json.load(open(p))
    for block in data if isinstance(data, list) else [data]:
        total += len(block.get("results", {}).get("failed_checks", []))
print(total)
PY
)
ratio=$(python3 -c "print(f'{$checkov_small / max($ksx_small, 0.001):.0f}')")

BIG="$WORK/big"
big_apps=$(((BIG_OBJECTS + 5) / 6))
python3 "$WORK/gen.py" "$BIG" "$big_apps"
big_objects=$((big_apps * 6))
big_files=$(find "$BIG" -name '*.yaml' | wc -l)
big_bytes=$(find "$BIG" -name '*.yaml' -printf '%s\n' | awk '{s += $1} END {print s}')
ksx_big=$(best3 "$KSX" inspect -f "$BIG" --format json -o "$WORK/ksx-big.json")
checkov_big=""
if [[ "${CHECKOV_BIG:-0}" == 1 ]]; then
    say "checkov on $big_objects objects (minutes)"
    checkov_big=$(wall "$VENV/bin/checkov" -d "$BIG" --framework kubernetes --quiet --compact -o json --output-file-path "$WORK/checkov-big")
    big_ratio=$(python3 -c "print(f'{$checkov_big / max($ksx_big, 0.001):.0f}')")
fi
# Peak RSS of the big run, when GNU time is there.
rss=""
if [[ -x /usr/bin/time ]]; then
    rss=$({ /usr/bin/time -f '%M' "$KSX" inspect -f "$BIG" --format json -o /dev/null >/dev/null 2>/dev/null; } 2>&1 | tail -1 || true)
fi

printf 'machine: %s, %s cores; load average %s before the runs, %s after\n' "$(uname -m)" "$(nproc)" "$load_before" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'checkov %s (%s)\n' "$CHECKOV_VERSION" "$("$VENV/bin/python" --version 2>&1)"
printf '%-44s %10s\n' "figure" "value"
printf '%-44s %10s\n' "objects (files)" "$objects ($files)"
printf '%-44s %9ss\n' "ksx inspect, $objects objects (best of 3)" "$ksx_small"
printf '%-44s %9ss\n' "checkov, same files" "$checkov_small"
printf '%-44s %9s×\n' "ratio checkov / ksx" "$ratio"
printf '%-44s %10s\n' "ksx findings / checkov failed checks" "$ksx_small_findings / $checkov_failed"
printf '%-44s %9ss\n' "ksx inspect, $big_objects objects ($big_files files, $big_bytes B, best of 3)" "$ksx_big"
if [[ -n "$checkov_big" ]]; then
    printf '%-44s %9ss\n' "checkov, $big_objects objects" "$checkov_big"
    printf '%-44s %9s×\n' "ratio checkov / ksx, $big_objects objects" "$big_ratio"
fi
if [[ -n "$rss" ]]; then
    printf '%-44s %8sKiB\n' "ksx peak RSS, $big_objects objects" "$rss"
fi
