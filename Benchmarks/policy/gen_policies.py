#!/usr/bin/env python3
"""Write N realistic network policies for a pods file (kubectl get pods -A -o json).

Usage: gen_policies.py PODS.json OUTDIR [--count 200] [--seed 1]

Deterministic for a given pods file, count and seed. One policy per workload (namespace + app
label), cycling through the shapes a cluster really has:
  * CiliumNetworkPolicy ingress: allow 2-3 client workloads (some in other namespaces) on the
    workload's container port, plus fromEntities cluster on 9090;
  * CiliumNetworkPolicy egress: allow a few workloads on their ports, kube-dns, and a world
    CIDR set with an except;
  * Kubernetes NetworkPolicy ingress: namespaceSelector + podSelector peers, port ranges;
  * CiliumNetworkPolicy ingressDeny from one namespace;
  * CiliumClusterwideNetworkPolicy selecting a label across namespaces.
Standard library only; writes one YAML file per policy.
"""
import argparse
import json
import os
import random


def workloads(pods):
    seen = {}
    for pod in pods["items"]:
        meta = pod["metadata"]
        app = meta.get("labels", {}).get("app")
        if not app or pod.get("spec", {}).get("hostNetwork"):
            continue
        ports = [p.get("containerPort") for c in pod.get("spec", {}).get("containers", []) for p in c.get("ports", [])]
        seen.setdefault((meta["namespace"], app), ports[0] if ports else 8080)
    return sorted(seen.items())


def selector(ns, app, indent):
    pad = " " * indent
    return f"{pad}- matchLabels:\n{pad}    k8s:io.kubernetes.pod.namespace: {ns}\n{pad}    app: {app}\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pods")
    parser.add_argument("outdir")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pods = json.load(open(args.pods))
    work = workloads(pods)
    os.makedirs(args.outdir, exist_ok=True)
    for i in range(args.count):
        (ns, app), port = work[i % len(work)]
        name = f"p{i:03d}-{app}"
        peers = rng.sample(work, 3)
        shape = i % 10
        if shape < 4:
            body = (f"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                    f"spec:\n  endpointSelector:\n    matchLabels:\n      app: {app}\n  ingress:\n    - fromEndpoints:\n"
                    + "".join(selector(pns, papp, 8) for (pns, papp), _ in peers)
                    + f"      toPorts:\n        - ports:\n            - port: \"{port}\"\n              protocol: TCP\n"
                    f"    - fromEntities:\n        - cluster\n      toPorts:\n        - ports:\n            - port: \"9090\"\n")
        elif shape < 6:
            body = (f"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                    f"spec:\n  endpointSelector:\n    matchLabels:\n      app: {app}\n  egress:\n    - toEndpoints:\n"
                    + "".join(selector(pns, papp, 8) for (pns, papp), _ in peers)
                    + "      toPorts:\n        - ports:\n"
                    + "".join(f"            - port: \"{pport}\"\n              protocol: TCP\n" for _, pport in peers)
                    + "    - toEndpoints:\n        - matchLabels:\n            k8s:io.kubernetes.pod.namespace: kube-system\n"
                    "            k8s:k8s-app: kube-dns\n      toPorts:\n        - ports:\n            - port: \"53\"\n"
                    "              protocol: ANY\n"
                    f"    - toCIDRSet:\n        - cidr: 198.18.0.0/15\n          except:\n            - 198.18.{i % 250}.0/24\n"
                    "      toPorts:\n        - ports:\n            - port: \"443\"\n")
        elif shape < 8:
            body = (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                    f"spec:\n  podSelector:\n    matchLabels:\n      app: {app}\n  policyTypes: [Ingress]\n  ingress:\n"
                    f"    - from:\n        - namespaceSelector:\n            matchLabels:\n"
                    f"              kubernetes.io/metadata.name: {peers[0][0][0]}\n          podSelector:\n"
                    f"            matchLabels:\n              app: {peers[0][0][1]}\n        - podSelector: {{}}\n"
                    f"      ports:\n        - protocol: TCP\n          port: {port}\n        - protocol: TCP\n"
                    f"          port: 8000\n          endPort: 8100\n")
        elif shape < 9:
            body = (f"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                    f"spec:\n  endpointSelector:\n    matchLabels:\n      app: {app}\n  ingressDeny:\n    - fromEndpoints:\n"
                    f"        - matchLabels:\n            k8s:io.kubernetes.pod.namespace: {peers[1][0][0]}\n")
        else:
            body = (f"apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: {name}\n"
                    f"spec:\n  endpointSelector:\n    matchLabels:\n      app: {app}\n  ingress:\n    - fromEndpoints:\n"
                    f"        - matchLabels:\n            app: {peers[2][0][1]}\n      toPorts:\n        - ports:\n"
                    f"            - port: \"{port}\"\n")
        with open(os.path.join(args.outdir, f"{name}.yaml"), "w") as out:
            out.write(body)


if __name__ == "__main__":
    main()
