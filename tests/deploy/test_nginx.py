"""deploy/nginx/tipline.conf, run for real (Debian's nginx) in front of gunicorn on loopback
ports: slow clients no longer delay anyone, TLS, the 413 page, and one client per traveler."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests import factories
from tests.deploy.conftest import (
    DEPLOY,
    FORM,
    SECRET,
    ServerDatabase,
    gunicorn,
    receipt_in,
    request,
    server_env,
    tip_body,
)
from tipline.db import db
from tipline.intake import tokens

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SLOW_CLIENTS = 4
TRICKLE_SECONDS = 2.0  # one byte every 2 s
NORMAL_LOADS = 8

pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() or not shutil.which("openssl"),
    reason="Debian's nginx and openssl are needed (make system-deps installs them)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site(tmp: Path, *, http_port: int, https_port: int, upstream: int) -> str:
    """The shipped site with only its machine-specific lines changed for loopback ports."""
    text = (DEPLOY / "nginx" / "tipline.conf").read_text()
    swaps = [
        (r"listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;"),
        (r"listen \[::\]:80 default_server;", ""),
        (r"listen 443 ssl http2 default_server;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"listen \[::\]:443 ssl http2 default_server;", ""),
        (r"server 127\.0\.0\.1:8000 ", f"server 127.0.0.1:{upstream} "),
        (r"ssl_certificate /etc/letsencrypt/\S+;", f"ssl_certificate {tmp}/cert.pem;"),
        (r"ssl_certificate_key /etc/letsencrypt/\S+;", f"ssl_certificate_key {tmp}/key.pem;"),
        (r"/var/log/nginx/tipline\.error\.log", f"{tmp}/site-error.log"),
        (r"root /var/www/letsencrypt;", f"root {tmp}/acme;"),
    ]
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text)
        assert count, f"deploy/nginx/tipline.conf no longer has {pattern!r}"
    return text


@contextmanager
def nginx(tmp: Path, upstream: int) -> Iterator[tuple[int, int]]:
    """nginx on two loopback ports with the shipped site; (http port, https port)."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    http_port, https_port = free_port(), free_port()
    (tmp / "site.conf").write_text(
        site(tmp, http_port=http_port, https_port=https_port, upstream=upstream)
    )
    temp = {name: tmp / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    # Only what Debian's /etc/nginx/nginx.conf would add around a site: a pid file, temp
    # folders and logs of this test's own, and (as root) workers that may read them.
    (tmp / "nginx.conf").write_text(
        f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {tmp}/site.conf;
}}
"""
    )
    args = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")]
    subprocess.run([*args, "-t"], check=True, capture_output=True)
    proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while request(http_port, "GET", "/", timeout=1)[0] == 0:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield http_port, https_port
    finally:
        proc.terminate()
        proc.wait(10)


def tls(tmp: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tmp / "cert.pem"))
    return context


class Trickler(threading.Thread):
    """A slow client: sends a request one byte every TRICKLE_SECONDS until told to stop."""

    def __init__(self, port: int, request_bytes: bytes, context: ssl.SSLContext | None) -> None:
        super().__init__(daemon=True)
        self.port, self.data, self.context = port, request_bytes, context
        self.stop = threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_hostname="127.0.0.1")
        self.connected.set()
        try:
            for byte in self.data:
                sock.sendall(bytes([byte]))
                if self.stop.wait(TRICKLE_SECONDS):
                    break
        except OSError:
            pass  # the server gave up on us: exactly what it should do
        finally:
            sock.close()


def slow_requests() -> list[bytes]:
    """Two that trickle their headers, two that trickle a tip's body."""
    headers = b"GET /help HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"x" * 100 + b"\r\n\r\n"
    body = b"details=" + b"s" * 200
    post = (
        b"POST /report HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return [headers, headers, post + body, post + body]


@contextmanager
def slow_clients(port: int, context: ssl.SSLContext | None) -> Iterator[None]:
    clients = [Trickler(port, data, context) for data in slow_requests()]
    for client in clients:
        client.start()
    for client in clients:
        assert client.connected.wait(10)
    # Time for the requests' first bytes (and a POST's headers) to be read by someone.
    time.sleep(TRICKLE_SECONDS + 0.5)
    try:
        yield
    finally:
        for client in clients:
            client.stop.set()
        for client in clients:
            client.join(10)


def https(tmp: Path) -> type[http.client.HTTPConnection]:
    context = tls(tmp)

    class Connection(http.client.HTTPSConnection):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, context=context, **kwargs)  # type: ignore[misc, arg-type]

    return Connection


@pytest.fixture
def shared_limits(redis_url: str, redis_prefix: str) -> Iterator[dict[str, str]]:
    """Settings for limits shared by both workers, as in production; keys removed after."""
    yield {"REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    conn = redis.Redis.from_url(redis_url)
    for key in conn.scan_iter(f"*{redis_prefix}*"):
        conn.delete(key)


def test_nginx_in_front_of_gunicorn_keeps_pages_fast_under_slow_clients(
    server_db: ServerDatabase, tmp_path: Path, shared_limits: dict[str, str]
) -> None:
    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    env = server_env(
        server_db, tmp_path, PROXY_HOPS="1", TIP_LIMIT_PER_CLIENT="1/600", **shared_limits
    )
    with gunicorn(env, workers=2, log=tmp_path / "gunicorn.log") as app:
        # The control: four slow clients straight at two sync workers hold both of them.
        with slow_clients(app.port, None):
            direct = request(app.port, "GET", f"/T/{poster}", timeout=3)[0]
        assert direct == 0, "slow clients did not hold gunicorn's workers: the check is void"
        time.sleep(1)  # the workers drop the slow connections

        folder = tmp_path / "nginx"
        folder.mkdir()
        with nginx(folder, app.port) as (http_port, https_port):
            connection = https(folder)
            with slow_clients(https_port, tls(folder)):
                started = time.monotonic()
                loads = []
                for _ in range(NORMAL_LOADS):
                    began = time.monotonic()
                    status, html = request(
                        https_port, "GET", f"/T/{poster}", timeout=10, connection=connection
                    )
                    loads.append((status, time.monotonic() - began))
                total = time.monotonic() - started
            print(f"\n{NORMAL_LOADS} page loads behind nginx under {SLOW_CLIENTS} slow clients: "
                  f"{total:.2f} s in all, slowest {max(t for _, t in loads):.2f} s")  # fmt: skip
            assert [status for status, _ in loads] == [200] * NORMAL_LOADS
            assert total <= 20

            # Plain http only redirects to https.
            redirect = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
            redirect.request("GET", f"/T/{poster}", headers={"Host": "tips.example.org"})
            answer = redirect.getresponse()
            assert answer.status == 301
            assert answer.getheader("Location") == f"https://tips.example.org/T/{poster}"

            # One limit per traveler: nginx passes each client's own address, and a forged
            # X-Forwarded-For is replaced, not believed.
            def tip(source: str, forged: str) -> int:
                body = tip_body(tokens.mint(SECRET))
                headers = {**FORM, "X-Forwarded-For": forged}
                return request(
                    https_port, "POST", f"/T/{poster}", body,
                    source=source, headers=headers, connection=connection,
                )[0]  # fmt: skip

            assert tip("127.0.0.2", "198.51.100.1") == 200
            assert tip("127.0.0.2", "198.51.100.2") == 429
            assert tip("127.0.0.3", "198.51.100.1") == 200

            # A body over the limit is refused by nginx with the app's own calm page.
            conn = connection("127.0.0.1", https_port, timeout=10)
            conn.putrequest("POST", f"/T/{poster}")
            conn.putheader("Content-Type", "application/x-www-form-urlencoded")
            conn.putheader("Content-Length", str(200 * 1024 * 1024))
            conn.endheaders()
            refused = conn.getresponse()
            page = refused.read().decode()
            assert refused.status == 413
            assert "That was too much to send at once" in page
            assert all(n in page for n in ("tel:911", "1-888-373-7888", "233733"))
            assert refused.getheader("Strict-Transport-Security") == "max-age=63072000"
            assert refused.getheader("Server") == "nginx"  # no version
            receipt = request(
                https_port, "POST", f"/T/{poster}", tip_body(tokens.mint(SECRET)),
                source="127.0.0.4", headers=FORM, connection=connection,
            )  # fmt: skip
            assert receipt[0] == 200 and receipt_in(receipt[1])
        logs = (folder / "site-error.log", folder / "error.log", tmp_path / "gunicorn.log")
        written = "".join(p.read_text(errors="replace") for p in logs if p.exists())
    for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "198.51.100.1"):
        assert address not in written


def phone_photo(megabytes: float) -> bytes:
    """A JPEG of about `megabytes` MB, as a phone takes them (grain makes it large)."""
    import io

    from PIL import Image

    size = (2400, 1800)
    grain = Image.merge("RGB", [Image.effect_noise(size, 40 + 10 * i) for i in range(3)])
    target, data = megabytes * 1_000_000, b""
    for quality in range(60, 99, 4):
        out = io.BytesIO()
        grain.save(out, "JPEG", quality=quality)
        data = out.getvalue()
        if len(data) >= target:
            break
    return data


def multipart(fields: dict[str, str], photo: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with one photo, and its content type header."""
    boundary = "----tipline-nginx-test"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="IMG_1.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_nginx_takes_a_phone_photo_with_a_tip_and_a_follow_up(
    server_db: ServerDatabase, tmp_path: Path
) -> None:
    """F14: the photo location (32 MB) belongs to the https server; plain http only redirects.
    A tip with a 3 MB photo gets its receipt, the follow-up takes one too; 40 MB is refused."""
    from sqlalchemy import func, select

    from tipline.followup.models import TipPhoto

    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    photo = phone_photo(3.0)
    assert 2_500_000 <= len(photo) <= 9_000_000, len(photo)
    env = server_env(server_db, tmp_path, PROXY_HOPS="1")
    with gunicorn(env, workers=2, log=tmp_path / "gunicorn.log") as app:
        folder = tmp_path / "nginx"
        folder.mkdir()
        with nginx(folder, app.port) as (_, https_port):
            connection = https(folder)
            body, headers = multipart(
                {"token": tokens.mint(SECRET), "details": "photo of the van"}, photo
            )
            status, page = request(
                https_port, "POST", f"/T/{poster}", body,
                headers=headers, connection=connection, timeout=30,
            )  # fmt: skip
            assert status == 200, page[:500]
            code = receipt_in(page)
            assert code

            body, headers = multipart({"code": code, "lang": "en", "text": "one more"}, photo)
            status, page = request(
                https_port, "POST", "/followup/add", body,
                headers=headers, connection=connection, timeout=30,
            )  # fmt: skip
            assert status == 200, page[:500]

            for path in (f"/T/{poster}", "/followup/add"):
                conn = connection("127.0.0.1", https_port, timeout=10)
                conn.putrequest("POST", path)
                conn.putheader("Content-Type", headers["Content-Type"])
                conn.putheader("Content-Length", str(40 * 1024 * 1024))
                conn.endheaders()
                refused = conn.getresponse()
                assert refused.status == 413
                assert "That was too much to send at once" in refused.read().decode()
                conn.close()
    with server_db.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TipPhoto)) == 2
