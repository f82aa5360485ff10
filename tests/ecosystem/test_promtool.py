"""shmqd's /metrics checked by Prometheus's own linter, `promtool check
metrics`, while it serves a queue with every kind of activity: published,
ACKed, redelivered, dead-lettered, three groups (two with a lag), the
publish-to-ACK histogram populated, and, when the tool has `shmq bridge`,
a bridge out and a bridge in. promtool must say nothing: no error and no
lint warning, for /metrics and for the textfile alike."""

import os

import ecosystem


def bridge_built():
    return os.environ.get("SHMQ_BRIDGE", "OFF").upper() in ("ON", "1", "TRUE", "YES")


def promtool_says(promtool, text):
    r = ecosystem.run([promtool, "check", "metrics"], input=text, check=False)
    return r.returncode, (r.stdout + r.stderr).strip()


def test_promtool_lints_what_it_is_given(promtool):
    # The control: this promtool does lint (a counter without `_total`, a
    # family without HELP), so the silence below means something.
    rc, said = promtool_says(promtool, "# TYPE shmq_bad_counter counter\nshmq_bad_counter 1\n")
    assert rc != 0 and "shmq_bad_counter" in said, f"promtool exited {rc} and said {said!r}"


def test_promtool_finds_nothing_to_say_about_a_busy_queues_metrics(tmp_path, children, tool, shmqd_path,
                                                                   promtool, queues):
    queue = queues("busy", *ecosystem.busy_queue_options())
    relay = queues("relay")
    textfile = tmp_path / "shmq.prom"
    shmqd = ecosystem.Shmqd(children, shmqd_path, tmp_path, [queue, relay],
                            ["--metrics-textfile", str(textfile), "--metrics-interval-ms", "100"])
    ecosystem.make_busy(tool, shmqd, queue)
    if bridge_built():
        nats = ecosystem.NatsServer(children, ecosystem.need_program("SHMQ_NATS_SERVER", "nats-server",
                                                                     "nats-server"), tmp_path)
        ecosystem.start_bridges(children, tool, tmp_path, shmqd, queue, relay, nats)
    text = shmqd.metrics()

    # The exposition has what it should, so that the linter sees every kind of line.
    samples = ecosystem.parse_samples(text)
    assert ecosystem.families(text)["shmq_publish_to_ack_seconds"] == "histogram"
    for name in ("shmq_messages_published_total", "shmq_messages_acked_total", "shmq_messages_redelivered_total",
                 "shmq_messages_dead_lettered_total", "shmq_dlq_depth", "shmq_group_lag",
                 "shmq_publish_to_ack_seconds_count"):
        assert ecosystem.total(samples, name, queue=queue) > 0, f"{name} of {queue} is 0 or missing:\n{text}"
    if bridge_built():
        for direction in ("out", "in"):
            assert ecosystem.total(samples, "shmq_bridge_connected", queue=queue, direction=direction) == 1

    rc, said = promtool_says(promtool, text)
    assert rc == 0 and said == "", (
        f"promtool check metrics exited {rc} on /metrics and said:\n{said}\n--- the exposition:\n{text}")

    # The textfile (for node_exporter's textfile collector) once it holds the same traffic.
    def refreshed():
        try:
            t = textfile.read_text()
        except OSError:
            return None
        return t if ecosystem.total(ecosystem.parse_samples(t), "shmq_dlq_depth", queue=queue) > 0 else None

    file_text = ecosystem.wait_until(f"{textfile} to show the traffic", refreshed)
    rc, said = promtool_says(promtool, file_text)
    assert rc == 0 and said == "", (
        f"promtool check metrics exited {rc} on {textfile} and said:\n{said}\n--- the file:\n{file_text}")
