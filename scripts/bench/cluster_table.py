#!/usr/bin/env python3
"""Renders scripts/bench/cluster.py's JSON as the Markdown of docs/scale.md,
section "Measurements" (scripts/bench-cluster.sh pipes it into doc_section.py).

    cluster_table.py FIGURES.json METERS READINGS_PER_METER
"""

import json
import sys

f = json.load(open(sys.argv[1]))
meters, per = sys.argv[2], sys.argv[3]
print(f"Measured by `scripts/bench-cluster.sh {meters} {per}` on this machine "
      f"({f['cores']} cores, shared with the load tool and with other work).")
print()
print("Ingest scaling, fixed total load (32 connections in all), 1 store worker, 4 partitions:")
print()
print("| ingest nodes | readings stored | seconds | readings/s | ingest CPU per reading (all nodes) "
      "| store worker CPU per reading | nats-server CPU per reading |")
print("|---|---|---|---|---|---|---|")
for r in f["scaling"]:
    print(f"| {r['ingest_nodes']} | {r['stored']:,} | {r['seconds']} | **{r['readings_per_sec']:,}** "
          f"| {r['ingest_cpu_ms_per_reading_all_nodes'] * 1000:.0f} µs "
          f"| {r['store_worker_cpu_ms_per_reading'] * 1000:.0f} µs "
          f"| {r['nats_cpu_ms_per_reading'] * 1000:.0f} µs |")
p = f["partition"]
print()
print(f"One partition drained by one store worker (a backlog of {p['stored']:,} readings, "
      f"judged, stored, acknowledged): **{p['readings_per_sec']:,} readings/s** "
      f"({p['seconds']} s), {p['store_worker_cpu_ms_per_reading'] * 1000:.0f} µs of store-worker "
      "CPU per reading.")
