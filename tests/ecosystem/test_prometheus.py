"""A real Prometheus scrapes shmqd every second; its HTTP API must agree
with what the test did: `shmq_messages_published_total` summed over the
queue's partitions equals the messages sent, and the median of
`shmq_publish_to_ack_seconds` lies in the bucket holding the publish-to-ACK
latency the test produced (messages consumed a known time after they were
published)."""

import time

import ecosystem

SENT = 200          # over 2 partitions, round robin: offsets 0..99 in each
PARTITIONS = 2
SAMPLE_EVERY = 64   # the histogram samples every 64th offset of a partition (docs/METRICS.md)
# The wait between the end of the produce and the start of the consume. The
# buckets are powers of two (..., 0.537 s, 1.074 s, ...): 0.6 s leaves the
# tools almost half a second to run before a latency leaves its bucket.
DELAY_S = 0.6


def bucket_of(bounds, seconds):
    """(lower, upper) of the bucket holding `seconds`: bounds are the sorted
    finite `le` values; a bucket holds (lower, upper]."""
    lower = 0.0
    for upper in bounds:
        if seconds <= upper:
            return lower, upper
        lower = upper
    return lower, float("inf")


def test_prometheus_sees_the_messages_sent_and_the_latency_produced(tmp_path, children, tool, shmqd_path,
                                                                    prometheus_path, queues):
    queue = queues("prom", "--partitions", str(PARTITIONS))
    shmqd = ecosystem.Shmqd(children, shmqd_path, tmp_path, [queue])
    prom = ecosystem.Prometheus(children, prometheus_path, tmp_path, [shmqd.address])
    # Scraped before any traffic: the counters then rise in Prometheus's view.
    prom.wait_for_scrape_after(time.time(), shmqd.address)

    # The latency the test produces: every message waits DELAY_S between the
    # end of the produce and the start of the consume. A sampled message's
    # publish-to-ACK time therefore lies between the wait (lowest) and the
    # whole span from the produce's start to the consume's end (highest).
    produce_start = time.time()
    tool.produce(queue, (f"message-{i}" for i in range(SENT)))
    produce_end = time.time()
    time.sleep(DELAY_S)
    consume_start = time.time()
    got = tool.consume(queue, "g", "--count", str(SENT))
    consume_end = time.time()
    assert len(got) == SENT
    lowest, highest = consume_start - produce_end, consume_end - produce_start

    # shmqd's own view first: every ACK and every sampled latency recorded.
    samples_expected = PARTITIONS * -(-(SENT // PARTITIONS) // SAMPLE_EVERY)  # offsets 0 and 64 of each
    exposition = shmqd.scrape_until(
        "shmqd to show every ACK and every latency sample",
        lambda s: (ecosystem.total(s, "shmq_group_messages_acked_total", queue=queue, group="g") == SENT
                   and ecosystem.total(s, "shmq_publish_to_ack_seconds_count", queue=queue, group="g")
                   == samples_expected))
    shown_at = time.time()

    # The bucket bounds, read from the exposition.
    buckets = [(float(l["le"]), v) for n, l, v in ecosystem.parse_samples(exposition)
               if n == "shmq_publish_to_ack_seconds_bucket" and l.get("queue") == queue and l.get("group") == "g"]
    bounds = sorted(le for le, _ in buckets if le != float("inf"))
    assert len(bounds) >= 2, f"no histogram buckets for {queue}: {exposition}"
    low_bucket, high_bucket = bucket_of(bounds, lowest), bucket_of(bounds, highest)
    # Normally one bucket; on a very slow machine the span may reach into the next one.
    expected = (low_bucket[0], high_bucket[1])
    # Every sample the exposition holds lies there (cumulative counts: none
    # at or below the expected lower bound, all at its upper bound).
    cumulative = dict(buckets)
    assert cumulative.get(expected[0], 0) == 0 and cumulative[expected[1]] == samples_expected, (
        f"latencies between {lowest:.3f} s and {highest:.3f} s should all be in ({expected[0]}, {expected[1]}]: "
        f"{sorted(cumulative.items())}")

    # Prometheus's view: a scrape taken after shmqd showed everything.
    prom.wait_for_scrape_after(shown_at, shmqd.address)
    published = prom.vector(f'sum(shmq_messages_published_total{{queue="{queue}"}})')
    assert len(published) == 1 and published[0][1] == SENT, (
        f"Prometheus says {published} messages were published to {queue}; the test sent {SENT}")
    per_partition = prom.vector(f'shmq_messages_published_total{{queue="{queue}"}}')
    assert sorted(labels["partition"] for labels, _ in per_partition) == [str(p) for p in range(PARTITIONS)]

    # Prometheus took the whole exposition without a complaint.
    prom.check_scrapes_were_clean(shmqd.address, shmqd.metrics())

    expr = (f'histogram_quantile(0.5, sum by (le) '
            f'(shmq_publish_to_ack_seconds_bucket{{queue="{queue}",group="g"}}))')
    median = prom.vector(expr)
    assert len(median) == 1, f"{expr} gave {median}"
    assert expected[0] <= median[0][1] <= expected[1], (
        f"Prometheus's median publish-to-ACK time is {median[0][1]:.6f} s; the test produced latencies between "
        f"{lowest:.3f} and {highest:.3f} s, in the bucket ({expected[0]}, {expected[1]}]")
