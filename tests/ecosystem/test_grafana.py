"""The Grafana dashboard packaging/grafana/shmq.json, checked without
Grafana (not a Debian package): its model has the shape Grafana imports, it
names only documented metrics, and each panel's PromQL, with the template
variables filled in as Grafana would, runs against a real Prometheus
scraping a shmqd with a busy queue and running bridges: every query must
parse and return at least one series."""

import json
import math
import os
import pathlib
import re
import time

import ecosystem

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
DASHBOARD = SOURCE_DIR / "packaging" / "grafana" / "shmq.json"
METRICS_DOC = SOURCE_DIR / "docs" / "METRICS.md"
RATE_INTERVAL = "1m"  # what Grafana puts for $__rate_interval and $__interval here


def bridge_built():
    return os.environ.get("SHMQ_BRIDGE", "OFF").upper() in ("ON", "1", "TRUE", "YES")


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(panels):
    """Every panel, those inside rows included."""
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def targets(dashboard):
    """(panel title, refId, expr) of every query of the dashboard."""
    return [(p["title"], t["refId"], t["expr"]) for p in all_panels(dashboard["panels"]) for t in p.get("targets", [])]


def documented_metrics():
    """The metric names of docs/METRICS.md's family table."""
    names = set(re.findall(r"^\| `(shmq_[a-z0-9_]+)` \|", METRICS_DOC.read_text(), re.MULTILINE))
    assert len(names) > 20, f"found only {sorted(names)} in {METRICS_DOC}'s table"
    return names


def variable_queue_query(dashboard):
    var = {v["name"]: v for v in dashboard["templating"]["list"]}["queue"]
    q = var["query"]
    return q["query"] if isinstance(q, dict) else q


def substitute(expr, queue):
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", RATE_INTERVAL)
            .replace("${queue}", queue).replace("$queue", queue))


def test_the_dashboard_is_a_grafana_model_with_the_two_variables():
    d = load_dashboard()
    assert 36 <= d["schemaVersion"] <= 39, d["schemaVersion"]
    assert d["uid"] and d["title"] and d.get("id") is None
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert set(variables) == {"datasource", "queue"}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["queue"]["type"] == "query"
    assert variable_queue_query(d) == "label_values(shmq_queue_info, queue)"
    assert variables["queue"]["datasource"]["uid"] == "${datasource}"

    panels = list(all_panels(d["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    for p in panels:
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, f"{p['title']}: {pos}"
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], f"{p['title']} has no query"
        ref_ids = [t["refId"] for t in p["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{p['title']}: refIds repeat"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", p["title"]
            assert '{queue="$queue"}' in t["expr"] or t["expr"] == "max(shmq_up)", (
                f"{p['title']}: {t['expr']} does not select the queue variable")

    # The panels the dashboard promises, by the metrics they read.
    text = " ".join(expr for _, _, expr in targets(d))
    for needed in ("shmq_depth", "shmq_group_lag", "shmq_messages_published_total", "shmq_group_messages_acked_total",
                   "shmq_messages_redelivered_total", "shmq_in_flight", "shmq_dlq_depth",
                   "shmq_publish_to_ack_seconds_bucket", "shmq_bridge_connected"):
        assert needed in text, f"no panel reads {needed}"


def test_the_dashboard_names_only_documented_metrics():
    documented = documented_metrics()
    histograms = {n for n in documented if n == "shmq_publish_to_ack_seconds"}
    for title, ref, expr in targets(load_dashboard()):
        for name in re.findall(r"\bshmq_[a-z0-9_]+", expr):
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in histograms:
                    family = name[: -len(suffix)]
            assert family in documented, f"{title} ({ref}) reads {name}, which docs/METRICS.md does not list"


def test_every_panel_query_runs_against_prometheus_and_returns_series(tmp_path, children, tool, shmqd_path,
                                                                      prometheus_path, queues):
    dashboard = load_dashboard()
    queue = queues("busy", *ecosystem.busy_queue_options())
    relay = queues("relay")
    shmqd = ecosystem.Shmqd(children, shmqd_path, tmp_path, [queue, relay])
    prom = ecosystem.Prometheus(children, prometheus_path, tmp_path, [shmqd.address])

    # Round 1 makes every series: the queue's groups, the DLQ, the bridges.
    ecosystem.make_busy(tool, shmqd, queue)
    relayed = 0
    if bridge_built():
        nats = ecosystem.NatsServer(children, ecosystem.need_program("SHMQ_NATS_SERVER", "nats-server",
                                                                     "nats-server"), tmp_path)
        ecosystem.start_bridges(children, tool, tmp_path, shmqd, queue, relay, nats)
    workers_lag = ecosystem.BUSY_POISON + ecosystem.BUSY_MESSAGES - ecosystem.BUSY_ACKED

    def relay_some(n):
        # Through the relay's bridge out, the stream and the bridge in, into `queue`.
        nonlocal relayed, workers_lag
        if not bridge_built():
            return
        tool.produce(relay, (f"relayed-{relayed + i}" for i in range(n)))
        relayed += n
        workers_lag += n
        shmqd.scrape_until(f"the relay to bring {relayed} messages into {queue}",
                           lambda s: ecosystem.total(s, "shmq_bridge_messages_total", queue=queue,
                                                     direction="in") == relayed)

    relay_some(5)
    # Prometheus holds every series before round 2, so that its rates have
    # samples on both sides of the traffic.
    prom.wait_for_scrape_after(time.time(), shmqd.address)

    # Round 2: the rates rise, and the latency histogram gets new samples
    # (offsets 64 and 128 of each partition, ACKed by `workers` and `bridge`).
    more = 130
    tool.produce(queue, (f"more-{i}" for i in range(more)))
    workers_lag += more
    got = tool.consume(queue, "workers", "--count", str(workers_lag))
    assert len(got) == workers_lag
    acked = ecosystem.BUSY_ACKED + workers_lag
    relay_some(5)
    shmqd.scrape_until(f"shmqd to show {acked} ACKs of workers",
                       lambda s: ecosystem.total(s, "shmq_group_messages_acked_total", queue=queue,
                                                 group="workers") == acked)
    # Two scrapes after the traffic: the last one shows all of it.
    prom.wait_for_scrape_after(prom.wait_for_scrape_after(time.time(), shmqd.address), shmqd.address)

    prom.check_scrapes_were_clean(shmqd.address, shmqd.metrics())

    # The queue variable, as Grafana resolves label_values(shmq_queue_info, queue).
    metric, label = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable_queue_query(dashboard)).groups()
    answer = prom.api(f"label/{label}/values", **{"match[]": metric})
    assert answer["status"] == "success" and queue in answer["data"], answer

    empty, failed, no_number = [], [], []
    for title, ref, expr in targets(dashboard):
        query = substitute(expr, queue)
        assert "$" not in query, f"{title} ({ref}): a variable is left in {query}"
        answer = prom.api("query", query=query)
        if answer.get("status") != "success":
            failed.append(f"{title} ({ref}): {query}: {answer.get('error')}")
            continue
        result = answer["data"]["result"]
        if not result:
            empty.append(f"{title} ({ref}): {query}")
        # A panel that draws nothing but NaN (a quantile of no new samples) shows nothing either.
        elif not any(math.isfinite(float(r["value"][1])) for r in result):
            no_number.append(f"{title} ({ref}): {query}: {result}")
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    if not bridge_built():
        # Without `shmq bridge` in this build no bridge can run, so the bridge
        # panels have no series; they must still parse (checked above).
        empty = [e for e in empty if "shmq_bridge_" not in e]
        print("shmq bridge is not built (SHMQ_BRIDGE=OFF): the bridge panels' queries were only parsed")
    assert not empty, "queries with no series:\n" + "\n".join(empty)
    assert not no_number, "queries with no finite value:\n" + "\n".join(no_number)
