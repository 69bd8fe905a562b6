#!/usr/bin/env python3
"""Appends the Endpoints object of default/kubernetes to demo-cluster.services.json, as
'kubectl get services,endpoints -A -o json' would list it: the API server's address is its
static pod's, kube-system/kube-apiserver-kind-control-plane-xpltq in demo-cluster.pods.json
(host network on kind-control-plane, 172.18.0.4), on port 6443 (the service's targetPort).

Run from the repository root, after the shared generator wrote the services file:

    python3 Captures/demo/add-apiserver-endpoints.py

Deterministic and idempotent (a second run changes nothing); keeps the generator's layout
(json.dumps with indent 1, no newline at the end).
"""
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-cluster.services.json")
PODS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-cluster.pods.json")


def main():
    with open(PATH) as handle:
        services = json.load(handle)
    with open(PODS) as handle:
        pods = json.load(handle)["items"]
    apiserver = next(pod for pod in pods if pod["metadata"]["namespace"] == "kube-system"
                     and pod["metadata"]["name"].startswith("kube-apiserver-"))
    endpoints = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": apiserver["status"]["podIP"]}],
                     "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}],
    }
    items = [item for item in services["items"]
             if not (item["kind"] == "Endpoints" and item["metadata"]["name"] == "kubernetes"
                     and item["metadata"]["namespace"] == "default")]
    services["items"] = items + [endpoints]
    with open(PATH, "w") as handle:
        handle.write(json.dumps(services, indent=1))


if __name__ == "__main__":
    main()
