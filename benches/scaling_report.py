"""benches/scaling.sh's report: the scaling table and an SVG, written into docs/performance.md
between `<!-- scaling:begin -->` and `<!-- scaling:end -->`.

    python3 benches/scaling_report.py RESULTS.jsonl docs/performance.md docs/scaling.svg COMMAND NPROC
"""
import datetime
import json
import platform
import sys


def best(rows, server, key, low=False):
    rows = [r for r in rows if r["server"] == server]
    if not rows:
        return None
    return (min if low else max)(rows, key=lambda r: r[key])


def summary(results):
    out = []
    for k in sorted({r["cores"] for r in results}):
        rows = [r for r in results if r["cores"] == k]
        noflags = next((r for r in rows if r["server"] == "parlance" and r["layout"] == "no flags"), None)
        out.append({"cores": k, "noflags": noflags, "pbest": best(rows, "parlance", "sat_rps"),
                    "peer": best(rows, "peer", "sat_rps"), "peer_c1": best(rows, "peer", "c1_p50", low=True)})
    return out


def table(results, rows, command, nproc):
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [f"`{command}`, {datetime.date.today()}, on {nproc} cores ({cpu}); `parlance bench`, MASSIVE dev en+fr,",
             "c=1 and saturated closed loops (latencies in ms, throughput in req/s). One run: compare within it.", "",
             "| cores | Parlance no flags: c=1 p50 / req/s | Parlance best layout: req/s | peer best layout: req/s | "
             "peer best c=1 p50 | no flags ÷ peer (req/s) | peer c=1 ÷ no flags c=1 | no flags ÷ Parlance best |",
             "|---|---|---|---|---|---|---|---|"]
    for s in rows:
        n, b, p, pc = s["noflags"], s["pbest"], s["peer"], s["peer_c1"]
        if not (n and b and p and pc):
            continue
        lines.append(f"| {s['cores']} | {n['c1_p50']:.2f} / {n['sat_rps']:.0f} | {b['sat_rps']:.0f} ({b['layout']}) | "
                     f"{p['sat_rps']:.0f} ({p['layout']}) | {pc['c1_p50']:.2f} ({pc['layout']}) | "
                     f"**{n['sat_rps'] / p['sat_rps']:.2f} ×** | **{pc['c1_p50'] / n['c1_p50']:.2f} ×** | "
                     f"{n['sat_rps'] / b['sat_rps']:.2f} × |")
    lines += ["", "Every point (RSS: the server's processes after the run, MB):", "",
              "| cores | server | layout | c=1 p50 | c=1 p99 | saturated req/s | saturated p50 | RSS MB | errors | load generator on CPUs |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['cores']} | {r['server']} | {r['layout']} | {r['c1_p50']:.2f} | {r['c1_p99']:.2f} | "
                     f"{r['sat_rps']:.0f} | {r['sat_p50']:.1f} | {r['rss_mb']:.0f} | {r['errors']} | {r['client_cpus']} |")
    return "\n".join(lines)


def svg(rows):
    series = [("Parlance, no flags", "noflags", "#1f77b4"), ("Parlance, best layout", "pbest", "#2ca02c"),
              ("Python peer, best layout", "peer", "#d62728")]
    pts = {key: [(s["cores"], s[key]["sat_rps"]) for s in rows if s[key]] for _, key, _ in series}
    xs = sorted({c for p in pts.values() for c, _ in p}) or [1]
    ymax = max([v for p in pts.values() for _, v in p] + [1]) * 1.1
    w, h, l, b = 560, 340, 60, 40
    def x(c):
        return l + (xs.index(c) if len(xs) > 1 else 0) * (w - l - 20) / max(len(xs) - 1, 1)
    def y(v):
        return h - b - v / ymax * (h - b - 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{l}" y1="{h - b}" x2="{w - 10}" y2="{h - b}" stroke="black"/>',
           f'<line x1="{l}" y1="20" x2="{l}" y2="{h - b}" stroke="black"/>',
           f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">cores (taskset)</text>',
           f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle">saturated req/s</text>']
    for c in xs:
        out.append(f'<text x="{x(c):.0f}" y="{h - b + 16}" text-anchor="middle">{c}</text>')
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<text x="{l - 6}" y="{y(v) + 4:.0f}" text-anchor="end">{v:.0f}</text>')
    for n, (label, key, colour) in enumerate(series):
        p = pts[key]
        if p:
            path = " ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in p)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out += [f'<circle cx="{x(c):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>' for c, v in p]
        out.append(f'<text x="{l + 12}" y="{h - b - 42 + 16 * n}" fill="{colour}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    results_file, doc, svg_file, command, nproc = sys.argv[1:6]
    results = [json.loads(l) for l in open(results_file) if l.strip()]
    rows = summary(results)
    with open(svg_file, "w") as f:
        f.write(svg(rows))
    block = f"<!-- scaling:begin -->\n{table(results, rows, command, nproc)}\n\n![saturated throughput against cores](scaling.svg)\n<!-- scaling:end -->"
    text = open(doc).read()
    begin, end = text.find("<!-- scaling:begin -->"), text.find("<!-- scaling:end -->")
    if begin >= 0 and end > begin:
        text = text[:begin] + block + text[end + len("<!-- scaling:end -->"):]
    else:
        text = text.rstrip("\n") + "\n\n## Scaling with cores\n\n" + block + "\n"
    open(doc, "w").write(text)
    print(table(results, rows, command, nproc))


if __name__ == "__main__":
    main()
