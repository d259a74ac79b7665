#!/usr/bin/env bash
# Checks deploy/kubernetes against the Kubernetes schemas (kubernetes-validate, strict: unknown
# fields fail) and the ServiceMonitor against its schema (check-jsonschema). Then proves the check
# bites: a copy with a misspelt field must fail.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.ort/manifest-venv
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet kubernetes-validate==1.37.0 check-jsonschema==0.39.0
fi
K8S=(deploy/kubernetes/deployment.yaml deploy/kubernetes/service.yaml deploy/kubernetes/hpa.yaml deploy/kubernetes/pdb.yaml deploy/kubernetes/pvc.yaml)
"$VENV/bin/kubernetes-validate" --strict --quiet "${K8S[@]}"
"$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/servicemonitor.schema.json deploy/kubernetes/servicemonitor.yaml
broken=$(mktemp --suffix .yaml)
sed 's/readinessProbe:/readynessProbe:/' deploy/kubernetes/deployment.yaml >"$broken"
if "$VENV/bin/kubernetes-validate" --strict --quiet "$broken" >/dev/null 2>&1; then
  echo "manifest check did not catch a misspelt field" >&2; exit 1
fi
rm -f "$broken"
echo "manifests: ${#K8S[@]} Kubernetes resources and 1 ServiceMonitor valid"
