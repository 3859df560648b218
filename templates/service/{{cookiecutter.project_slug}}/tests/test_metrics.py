"""Per-route metrics: in statsd, and on the admin port's /metrics.

Asking for the `statsd` fixture (a real statsd server on 127.0.0.1) points the service's
metrics at it. Assert the one metric a test is about, by its name without the prefix:
counters you add to the service later then break no test.
"""


def test_requests_are_counted_and_timed_per_route(client, statsd):
    """Each request sends a counter `<route>.<METHOD>.<status>` and a timer `<route>.<METHOD>`."""
    client.simulate_get("/v1/greetings/Ada")
    client.simulate_get("/v1/greetings/Grace")
    client.simulate_post("/v1/greetings", json={"name": ""})
    assert statsd.counter("v1.greetings.name.GET.200") == 2
    assert statsd.counter("v1.greetings.POST.422") == 1
    assert len(statsd.timings("v1.greetings.name.GET")) == 2


def test_unmatched_paths_share_one_name(client, statsd):
    """Requests no route serves count under `unmatched`, so scanners cannot flood statsd."""
    client.simulate_get("/wp-login.php")
    assert statsd.counter("unmatched.GET.404") == 1


def test_metrics_endpoint(client, admin_client):
    """/metrics on the admin port shows this process's counters and timers (in ms)."""
    client.simulate_get("/v1/greetings/Ada")
    body = admin_client.simulate_get("/metrics").json
    assert body["counters"]["v1.greetings.name.GET.200"] == 1
    assert body["timers"]["v1.greetings.name.GET"]["count"] == 1
