"""Metrics under gunicorn with deploy/gunicorn.conf.py: every worker's counters summed
(prometheus-client's multi-process mode), on /metrics with the token and on the loopback port."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import ServerDatabase, gunicorn, request, server_env
from tests.processes import free_port

TOKEN = "deploy-metrics-token"


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in the metrics")


def test_counters_of_every_worker_are_summed(server_db: ServerDatabase, tmp_path: Path) -> None:
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    env = {
        **server_env(server_db, tmp_path, METRICS_TOKEN=TOKEN, METRICS_PORT=str(port)),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    with gunicorn(env, workers=3, log=tmp_path / "gunicorn.log") as server:
        for _ in range(30):
            assert request(server.port, "GET", "/no/such/page")[0] == 404
        assert request(server.port, "GET", "/metrics")[0] == 404
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        seen = set()
        for _ in range(6):  # several scrapes, answered by whichever worker is free
            status, text = request(server.port, "GET", "/metrics", headers=bearer)
            assert status == 200
            seen.add(_value(text, "tipline_http_responses_total", status="4xx"))
        assert seen == {31.0}, seen  # 30 pages and the token-less /metrics, in any worker
        deadline = time.monotonic() + 10
        while (answer := request(port, "GET", "/metrics"))[0] != 200:
            assert time.monotonic() < deadline, f"nothing serves the metrics port: {answer}"
            time.sleep(0.2)
        assert _value(answer[1], "tipline_http_responses_total", status="4xx") == 31.0
        assert request(server.port, "GET", "/readyz")[0] == 200
        log = server.output()
    assert "127.0.0.1" not in log.replace(f"127.0.0.1:{port}", "")
