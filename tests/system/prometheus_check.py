#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bpfwatchd's metrics through Debian's own Prometheus tools: promtool
check metrics on the textfile and the socket's text, the OpenMetrics 1.0
text through prometheus_client's strict OpenMetrics parser, node_exporter's
textfile collector (node_textfile_scrape_error 0), and a Prometheus on
127.0.0.1 scraping that node_exporter answering rate() of a watch's
counter.  The guest is synthetic (tests/tools/make_guest.c --live bumps its
counters).  Prints ok/FAIL lines and "test_prometheus: N passed, N failed".
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import daemon_harness as dh  # noqa: E402

VM = "prom"
# Labels that promtool's lint accepts (a label such as "gauge" names a type).
WATCH = """\
[Watch]
Map=.bss
Field=stats.ops.enqueues
Aggregate=scalar-counter
Label=enqueues

[Watch]
Map=.bss
Field=state.gauge
Aggregate=scalar
Label=level

[Watch]
Map=cpu_stats
Field=runs
Aggregate=percpu-counter
Label=runs

[Watch]
Map=cpu_stats
Field=runs
Aggregate=percpu
Label=runs_now

[Watch]
Map=.bss
Field=ident
Aggregate=scalar-counter
Label=ident
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


def main():
    h = dh.Harness()
    try:
        tf, wd = h.p("textfile"), h.p("watch.d")
        os.mkdir(tf)
        os.mkdir(wd)
        dh.write(os.path.join(wd, "prom.watch"), WATCH)
        conf, sock, ram = h.p("prom.conf"), h.p("d.sock"), h.p("guest.ram")
        dh.write(conf, "[Metrics]\nTextfileDir=%s\n" % tf)
        dh.Guest(h, ram, "--with-scheduler")
        daemon = dh.Daemon(h, "promd", ["--config", conf, "--instance", VM, "--memory", ram,
                                        "--watch-dir", wd, "--socket", sock, "--interval-ms", "20"])
        prom = os.path.join(tf, VM + ".prom")
        text = dh.wait_until(lambda: (lambda t: t if t and "bw_demo_runs_total{" in t else None)(
            open(prom).read() if os.path.exists(prom) else None), 15)
        h.check("the textfile holds the watches' families", text is not None,
                daemon.stderr()[-500:])
        if text is None:
            return
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True)
        out = (p.stdout + p.stderr).decode()
        print("# promtool check metrics < %s.prom: exit %d, output %r" % (VM, p.returncode, out))
        h.check("promtool check metrics on the textfile: exit 0, no lint output",
                p.returncode == 0 and out.strip() == "", out)
        r = dh.request(sock, {"cmd": "metrics", "format": "prometheus"})
        p = subprocess.run(["promtool", "check", "metrics"], input=r.get("text", "").encode(),
                           capture_output=True)
        out = (p.stdout + p.stderr).decode()
        h.check("promtool check metrics on {\"format\":\"prometheus\"}: exit 0, no lint output",
                p.returncode == 0 and out.strip() == "", out)

        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        om = dh.request(sock, {"cmd": "metrics", "format": "openmetrics"}).get("text", "")
        try:
            fams = {f.name: f for f in text_string_to_metric_families(om)}
            err = ""
        except Exception as e:  # the parser's verdict
            fams, err = {}, "%s: %s" % (type(e).__name__, e)
        h.check("OpenMetrics 1.0 text parses with prometheus_client's OpenMetrics parser",
                fams and not err, err + om[:300])
        enq = fams.get("bw_demo_enqueues")
        h.check("OpenMetrics: bw_demo_enqueues is a counter whose sample is _total, labelled vm",
                enq is not None and enq.type == "counter" and enq.samples and
                enq.samples[0].name == "bw_demo_enqueues_total" and
                enq.samples[0].labels == {"vm": VM}, repr(enq)[:300])
        runs = fams.get("bw_demo_runs_now")
        h.check("OpenMetrics: a per-CPU gauge has one series per CPU",
                runs is not None and runs.type == "gauge" and
                sorted(int(s.labels["cpu"]) for s in runs.samples) == list(range(4)),
                repr(runs)[:300])

        # node_exporter's textfile collector.
        ne_port = free_port()
        t0 = time.monotonic()
        ne = h.spawn(["prometheus-node-exporter", "--collector.disable-defaults",
                      "--collector.textfile", "--collector.textfile.directory=" + tf,
                      "--web.listen-address=127.0.0.1:%d" % ne_port],
                     stdout=subprocess.DEVNULL, stderr=open(h.p("ne.err"), "wb"))
        ne_url = "http://127.0.0.1:%d/metrics" % ne_port
        body = dh.wait_until(lambda: http_get(ne_url), 15) or ""
        lines = body.split("\n")
        h.check("node_exporter scrapes the textfile: node_textfile_scrape_error 0",
                "node_textfile_scrape_error 0" in lines, body[-500:])
        h.check("node_exporter serves the watch's counter with the vm label",
                any(l.startswith('bw_demo_enqueues_total{vm="%s"} ' % VM) for l in lines) and
                'bpfwatch_up{vm="%s"} 1' % VM in lines, body[-500:])

        # Prometheus scraping node_exporter, asked for rate() of the counter.
        pr_port = free_port()
        cfg = h.p("prometheus.yml")
        dh.write(cfg, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                 "scrape_configs:\n  - job_name: node\n    static_configs:\n"
                 "      - targets: ['127.0.0.1:%d']\n" % ne_port)
        h.spawn(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + h.p("tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % pr_port],
                stdout=subprocess.DEVNULL, stderr=open(h.p("prometheus.err"), "wb"))
        query = 'rate(bw_demo_enqueues_total{vm="%s"}[5s])' % VM
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (pr_port, urllib.parse.urlencode(
            {"query": query}))

        def rate_answer():
            body = http_get(url)
            if not body:
                return None
            r = json.loads(body)
            res = r.get("data", {}).get("result", [])
            return r if res and float(res[0]["value"][1]) > 0 else None
        ans = dh.wait_until(rate_answer, 60, interval=0.5)
        print("# Prometheus %s -> %s" % (query, json.dumps(ans)[:300] if ans else None))
        h.check("Prometheus on 127.0.0.1 answers %s with a positive rate" % query,
                ans is not None and ans["data"]["result"][0]["metric"].get("vm") == VM,
                open(h.p("prometheus.err")).read()[-800:])

        # Stop: the textfile goes, so node_exporter stops serving the last values.
        rc = daemon.stop()
        body = http_get(ne_url) or ""
        h.check("after the daemon stops: exit 0, no textfile, node_exporter serves no bw_ series",
                rc == 0 and not os.path.exists(prom) and "bw_demo_" not in body and
                "bpfwatch_up" not in body, "exit %s, files %r" % (rc, os.listdir(tf)))
        print("# node_exporter + Prometheus part took %.1f s" % (time.monotonic() - t0))
    except Exception as e:
        h.check("the test ran to its end", False, "%s: %s" % (type(e).__name__, e))
    finally:
        h.cleanup()
    print("test_prometheus: %d passed, %d failed" % (h.passed, h.failed))
    return 0 if h.failed == 0 and h.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
