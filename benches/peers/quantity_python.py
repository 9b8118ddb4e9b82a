#!/usr/bin/env python3
"""Peer measurement for `ksx-bench core`: parses the same mix of quantity strings with the official Kubernetes
Python client (`kubernetes.utils.quantity.parse_quantity`) and prints figures as JSON.

Usage: pip install kubernetes && python3 benches/peers/quantity_python.py
The input mix mirrors ksx_benches::quantity_inputs (same 16 forms, uniformly mixed); the exact sequence does not
matter for a per-item rate because every form is parsed by the same code path family.
"""
import json
import random
import time

from kubernetes.utils.quantity import parse_quantity

FORMS = ["100m", "250m", "1", "2", "1500m", "0.5", "128Mi", "1Gi", "4Gi", "512Mi", "1G", "500M", "1e3", "12e6",
         "1.5Gi", "100Ki"]


def main():
    rng = random.Random(7)
    inputs = [FORMS[rng.randrange(len(FORMS))] for _ in range(200_000)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for s in inputs:
            parse_quantity(s)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"peer": "kubernetes-python parse_quantity",
                      "quantity_parse_per_sec": len(inputs) / best}, indent=2))


if __name__ == "__main__":
    main()
