"""Downloading the archive, against a local HTTP server on 127.0.0.1 (never the internet).

The server serves a small archive in the official layout and can cut a transfer short,
honour or ignore HTTP Range, or answer 404, so every failure path runs for real.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading

import numpy as np
import pytest

from datasets import DataError, load_dataset

NAMES = ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]


def small_archive(n=40, seed=0):
    """Bytes of a .tar.gz in the official layout, and the expected test labels."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:

        def add(name, obj):
            blob = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo("cifar-10-batches-py/" + name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))

        for name in NAMES:
            labels = [int(v) for v in rng.integers(0, 3, size=n)]
            # Random bytes: incompressible, so the archive is big enough to cut in the middle.
            add(name, {b"data": rng.integers(0, 256, size=(n, 3072)).astype(np.uint8), b"labels": labels})
        add("batches.meta", {b"label_names": [b"a", b"b", b"c"]})
    return buf.getvalue(), labels


class Server:
    """http.server in a thread. `cut_next`: bytes to send before dropping the next response."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.cut_next = None
        self.ranges = True
        self.status = 200
        self.requests = []  # the Range header of each request ("" if none)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                rng = self.headers.get("Range", "")
                server.requests.append(rng)
                if server.status != 200:
                    self.send_error(server.status)
                    return
                body, start = server.payload, 0
                if rng and server.ranges:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if server.cut_next is not None:
                    # Promise the whole file, send part of it, hang up: an interrupted transfer.
                    self.wfile.write(body[start : start + server.cut_next])
                    server.cut_next = None
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/cifar-10-python.tar.gz" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def served():
    payload, test_labels = small_archive()
    server = Server(payload)
    yield server, hashlib.md5(payload).hexdigest(), test_labels
    server.close()


def files_in(d):
    return sorted(p.name for p in d.rglob("*") if p.is_file()) if d.exists() else []


def test_download_verify_load_then_work_offline(cache, served):
    server, md5, test_labels = served
    ds = load_dataset(url=server.url, md5=md5, progress=False)
    assert ds.test_y.tolist() == test_labels and ds.classes == ["a", "b", "c"]
    assert ds.train_x.shape == (200, 32, 32, 3) and "downloaded" in ds.source
    assert (cache / "cifar-10-python.tar.gz").read_bytes() == server.payload
    server.close()  # from now on, offline
    again = load_dataset(url=server.url, md5=md5, progress=False)
    assert np.array_equal(again.train_x, ds.train_x)


def test_checksum_mismatch_is_an_error_and_leaves_no_file(cache, served):
    server, _, _ = served
    with pytest.raises(DataError, match="corrupt") as err:
        load_dataset(url=server.url, md5="0" * 32, progress=False)
    assert "0" * 32 in str(err.value) and "--data" in str(err.value)
    assert files_in(cache) == []


def test_interrupted_download_resumes(cache, served):
    server, md5, test_labels = served
    server.cut_next = len(server.payload) // 2
    with pytest.raises(DataError, match="interrupted.*Run again to resume"):
        load_dataset(url=server.url, md5=md5, progress=False)
    assert files_in(cache) == ["cifar-10-python.tar.gz.part"]  # never the archive itself
    kept = (cache / "cifar-10-python.tar.gz.part").stat().st_size
    assert 0 < kept <= len(server.payload) // 2  # what arrived, up to the last whole read
    ds = load_dataset(url=server.url, md5=md5, progress=False)
    assert server.requests == ["", "bytes=%d-" % kept]
    assert ds.test_y.tolist() == test_labels
    assert (cache / "cifar-10-python.tar.gz").read_bytes() == server.payload
    assert "cifar-10-python.tar.gz.part" not in files_in(cache)


def test_restart_from_zero_when_the_server_ignores_range(cache, served):
    server, md5, test_labels = served
    server.ranges = False
    server.cut_next = 1000
    with pytest.raises(DataError, match="interrupted"):
        load_dataset(url=server.url, md5=md5, progress=False)
    assert load_dataset(url=server.url, md5=md5, progress=False).test_y.tolist() == test_labels
    assert (cache / "cifar-10-python.tar.gz").read_bytes() == server.payload


def test_offline_says_where_to_put_a_copy(cache, served):
    server, md5, _ = served
    server.close()  # nothing listens on this port any more
    with pytest.raises(DataError) as err:
        load_dataset(url=server.url, md5=md5, progress=False)
    msg = str(err.value)
    for needle in ("Could not download", "offline", str(cache), "--data PATH", "CONVNET_DATA"):
        assert needle in msg
    assert files_in(cache) == []


def test_http_error_is_a_clear_error(cache, served):
    server, md5, _ = served
    server.status = 404
    with pytest.raises(DataError, match="404"):
        load_dataset(url=server.url, md5=md5, progress=False)
    assert files_in(cache) == []


def test_corrupt_archive_in_the_cache_is_downloaded_again(cache, served):
    server, md5, test_labels = served
    cache.mkdir()
    (cache / "cifar-10-python.tar.gz").write_bytes(server.payload[:100])  # a broken copy
    assert load_dataset(url=server.url, md5=md5, progress=False).test_y.tolist() == test_labels
    assert (cache / "cifar-10-python.tar.gz").read_bytes() == server.payload
