#!/usr/bin/env python3
"""Where a c=1 request's time goes (issue 25, item 3), per request rather than from /metrics sums.

One keep-alive client, one request at a time, MASSIVE dev en+fr in file order, against a running
`parlance serve`. Each answer's `Server-Timing` header gives the server's own tokenize, queue,
inference and handler-total times, so each request's time outside the graph is its client-side
latency minus its inference time: medians of that move far less with a busy machine's graph time
than the latency itself does.

    parlance serve --port 18512 &
    python3 benches/c1_parts.py 18512 8     # port, seconds

Prints one line: requests, client p50/p99, not-graph (client - inference) p50/mean, queue
(the worker's wake-up) p50/mean, tokenize p50, handler - inference p50/mean, inference p50 (ms).
Compare variants alternated (A/B/A/B), one line each; the client is Python, so its own overhead
is in every not-graph number alike.
"""
import http.client
import json
import pathlib
import statistics as st
import sys
import time

DATA = pathlib.Path(__file__).resolve().parent.parent.parent / "shared/data/massive"


def texts():
    data = pathlib.Path(sys.argv[3]) if len(sys.argv) > 3 else DATA
    out = []
    for name in ("en-US.dev.jsonl", "fr-FR.dev.jsonl"):
        out += [json.loads(line)["utt"] for line in open(data / name)]
    return out


def main():
    port, secs = int(sys.argv[1]), float(sys.argv[2])
    utts = texts()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rows, i, end = [], 0, time.time() + secs
    while time.time() < end:
        body = json.dumps({"text": utts[i % len(utts)]})
        i += 1
        t0 = time.perf_counter()
        conn.request("POST", "/v1/parse", body, {"Content-Type": "application/json"})
        res = conn.getresponse()
        res.read()
        ms = (time.perf_counter() - t0) * 1000
        parts = (p.split(";") for p in res.getheader("Server-Timing").split(","))
        t = {k.strip(): float(v.split("=")[1]) for k, v in parts}
        rows.append((ms, ms - t["inference"], t["queue"], t["tokenize"], t["total"] - t["inference"], t["inference"]))
    client, not_graph, queue, tok, handler, inference = zip(*rows)
    p99 = sorted(client)[int(0.99 * (len(client) - 1))]
    med = st.median
    print(
        f"n={len(rows)} client p50={med(client):.3f} p99={p99:.2f} | not-graph p50={med(not_graph):.3f} mean={st.mean(not_graph):.3f}"
        f" | queue p50={med(queue):.3f} mean={st.mean(queue):.3f} tok p50={med(tok):.3f}"
        f" | handler-inf p50={med(handler):.3f} mean={st.mean(handler):.3f} | inference p50={med(inference):.3f}"
    )


if __name__ == "__main__":
    main()
