"""The webhook server over real HTTP (waitress, as deployed): idle sockets, oversized bodies and broken
requests are all answered, as JSON, and counted; a few hundred idle clients never block /health."""
import json
import socket
import threading
import time

import pytest
import requests

from day15_SIGNING_webhooks import day15_sign

IDLE_SOCKETS = 300  # far above waitress's default limit of 100, well below DAY15_CONNECTION_LIMIT


@pytest.fixture
def served(fake_buffer, store, secret):
    from day15_CONFIG_settings import day15_load_settings
    from day15_INGRESS_app import day15_create_app
    from day15_SERVER_waitress import day15_create_server, day15_serve

    settings = day15_load_settings(env_file=None, max_body_bytes=64_000)
    app = day15_create_app(fake_buffer, store, [secret], max_body_bytes=settings.max_body_bytes, max_batch_events=50)
    server = day15_create_server(app, settings, app.extensions["day15_count_rejected"], host="127.0.0.1", port=0)
    stop = threading.Event()
    thread = threading.Thread(target=day15_serve, args=(server, stop.is_set), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", server.effective_port
    stop.set()
    thread.join(timeout=20)


def test_hundreds_of_idle_sockets_do_not_block_health_or_a_fresh_sender(served, secret, saas_events):
    base, port = served
    idle = []
    try:
        for _ in range(IDLE_SOCKETS):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        idle[0].sendall(b"POST /webhook/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # a slow sender
        time.sleep(0.5)
        assert requests.get(f"{base}/health", timeout=3).status_code == 200
        event = saas_events[0][0]
        body = json.dumps(event).encode()
        response = requests.post(f"{base}/webhook/events", data=body, headers=day15_sign(secret, "msg_1", body), timeout=3)
        assert response.status_code == 202
    finally:
        for sock in idle:
            sock.close()


def test_a_body_over_the_limit_is_refused_by_the_server_as_json_and_counted(served, secret, fake_buffer):
    base, port = served
    body = b"{" + b" " * 200_000 + b"}"
    response = requests.post(f"{base}/webhook/events", data=body, headers=day15_sign(secret, "msg_big", body), timeout=10)
    assert response.status_code == 413 and response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "payload too large", "limit_bytes": 64_000}
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:  # not even HTTP
        raw.sendall(b"POST /webhook/events HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65_536):  # headers and body may come in separate segments; the server closes
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 400") and '"error":"bad request"' in answer
    counters = fake_buffer.counters()
    assert (counters["received"], counters["rejected"]) == (2, 2)  # both count requests
