"""The downloader against a local HTTP server: resume, retries, verification, Drive pages."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest
from acquire_server import LocalServer, add_drive_file, closed_port

from unmask.data.acquire.download import (
    Downloader,
    DownloadError,
    DriveQuotaExceeded,
    Item,
    NetworkUnavailable,
    Options,
)

FAST = dict(backoff=0.0, retries=3, timeout=5.0, progress_interval=60.0)


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def blob(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed * 7) % 251 for i in range(n))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def downloader(**options) -> Downloader:
    return Downloader(Options(**{**FAST, **options}))


def test_fetches_in_parallel_and_rerun_fetches_nothing(server, tmp_path, capsys):
    bodies = {f"/f{i}.bin": blob(3000 + i, i) for i in range(6)}
    for path, body in bodies.items():
        server.add(path, body)
    items = [Item(server.url(p), tmp_path / p[1:], len(b), md5(b)) for p, b in bodies.items()]

    summary = downloader(workers=3).fetch_all(items, tmp_path)
    assert len(summary.fetched) == 6 and not summary.failed
    assert all((tmp_path / p[1:]).read_bytes() == b for p, b in bodies.items())
    assert "6 fetched" in capsys.readouterr().err
    hits = len(server.hits())

    again = downloader(workers=3).fetch_all(items, tmp_path)
    assert len(again.present) == 6 and not again.fetched
    assert len(server.hits()) == hits
    assert "6 already present" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.part"))


def test_resume_after_truncation_uses_range(server, tmp_path):
    body = blob(50_000)
    server.add("/big", body, failures=[("truncate", 20_000)])
    Downloader(Options(**FAST)).fetch(Item(server.url("/big"), tmp_path / "big", len(body), md5(body)))
    first, second = server.hits("/big")
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=20000-"
    assert (tmp_path / "big").read_bytes() == body


def test_resume_with_server_ignoring_range_starts_over(server, tmp_path):
    body = blob(50_000)
    server.add("/big", body, ranges=False, failures=[("truncate", 20_000)])
    downloader().fetch(Item(server.url("/big"), tmp_path / "big", sha256=hashlib.sha256(body).hexdigest()))
    assert server.hits("/big")[1].headers["Range"] == "bytes=20000-"  # asked, got 200
    assert (tmp_path / "big").read_bytes() == body


def test_leftover_part_resumes_and_complete_part_is_kept(server, tmp_path):
    body = blob(10_000)
    server.add("/f", body)
    (tmp_path / "f.part").write_bytes(body[:4000])
    downloader().fetch(Item(server.url("/f"), tmp_path / "f", len(body)))
    assert server.hits("/f")[0].headers["Range"] == "bytes=4000-"
    assert (tmp_path / "f").read_bytes() == body
    (tmp_path / "g.part").write_bytes(body)  # complete but never renamed: server answers 416
    server.add("/g", body)
    downloader().fetch(Item(server.url("/g"), tmp_path / "g", len(body), md5(body)))
    assert (tmp_path / "g").read_bytes() == body


def test_checksum_mismatch_leaves_no_file_and_reports(server, tmp_path):
    server.add("/f", blob(1000))
    item = Item(server.url("/f"), tmp_path / "f", md5="0" * 32)
    summary = downloader().fetch_all([item], tmp_path)
    assert summary.failed and not summary.fetched
    assert not (tmp_path / "f").exists() and not (tmp_path / "f.part").exists()
    with pytest.raises(DownloadError, match=r"/f: md5 .*expected 0{32}"):
        summary.check()


def test_announced_size_mismatch_fails_without_retry(server, tmp_path):
    server.add("/f", blob(1000))
    with pytest.raises(DownloadError, match="announces 1000 bytes, expected 999"):
        downloader().fetch(Item(server.url("/f"), tmp_path / "f", size=999))
    assert len(server.hits("/f")) == 1 and not (tmp_path / "f").exists()


def test_bad_existing_file_is_fetched_again(server, tmp_path):
    body = blob(1000)
    server.add("/f", body)
    (tmp_path / "f").write_bytes(b"corrupt")
    assert downloader().fetch(Item(server.url("/f"), tmp_path / "f", md5=md5(body))) == "fetched"
    assert (tmp_path / "f").read_bytes() == body


def test_transient_failures_are_retried(server, tmp_path):
    body = blob(2000)
    server.add("/f", body, failures=[500, "drop", 503])
    downloader(retries=3).fetch(Item(server.url("/f"), tmp_path / "f", len(body)))
    assert len(server.hits("/f")) == 4 and (tmp_path / "f").read_bytes() == body


def test_retries_stop_at_the_cap(server, tmp_path):
    server.add("/f", blob(10), failures=[500] * 10)
    with pytest.raises(DownloadError, match=r"/f: failed 3 attempt\(s\), last: HTTP 500") as info:
        downloader(retries=2).fetch(Item(server.url("/f"), tmp_path / "f"))
    assert not isinstance(info.value, NetworkUnavailable)
    assert len(server.hits("/f")) == 3 and not (tmp_path / "f").exists()


def test_backoff_doubles(server, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr("unmask.data.acquire.download.time.sleep", waits.append)
    server.add("/f", blob(10), failures=[500] * 3)
    downloader(retries=3, backoff=0.5, max_delay=1.5).fetch(Item(server.url("/f"), tmp_path / "f"))
    assert waits == [0.5, 1.0, 1.5]


def test_429_honours_retry_after(server, tmp_path):
    server.add("/f", blob(10), failures=[429], headers={"Retry-After": "1"})
    downloader().fetch(Item(server.url("/f"), tmp_path / "f"))
    first, second = server.hits("/f")
    assert second.time - first.time >= 0.95


def test_client_errors_are_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="/nope: HTTP 404") as info:
        downloader().fetch(Item(server.url("/nope"), tmp_path / "nope"))
    assert info.value.status == 404 and len(server.hits()) == 1


def test_timeout_is_retried(server, tmp_path):
    server.add("/f", blob(10), failures=[("sleep", 0.6)])
    downloader(timeout=0.2).fetch(Item(server.url("/f"), tmp_path / "f"))
    assert (tmp_path / "f").read_bytes() == blob(10)


def test_network_unavailable_names_the_folder(tmp_path):
    port = closed_port()
    items = [Item(f"http://127.0.0.1:{port}/f{i}", tmp_path / f"f{i}") for i in range(3)]
    with pytest.raises(NetworkUnavailable) as info:
        downloader(retries=1, workers=1).fetch_all(items, tmp_path / "src")
    message = str(info.value)
    assert "cannot connect" in message and "method: local" in message and str(tmp_path / "src") in message
    assert not any(tmp_path.glob("f*"))


def test_dns_failure_counts_as_unreachable(tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(NetworkUnavailable):
        downloader(retries=1).fetch(Item("http://mirror.invalid/f", tmp_path / "f"))


def test_per_host_interval(server, tmp_path):
    for i in range(4):
        server.add(f"/f{i}", blob(100, i))
    items = [Item(server.url(f"/f{i}"), tmp_path / f"f{i}") for i in range(4)]
    downloader(workers=4, host_interval=0.1).fetch_all(items, tmp_path).check()
    times = sorted(h.time for h in server.hits())
    assert all(b - a >= 0.09 for a, b in zip(times, times[1:]))


def test_progress_lines_and_user_agent(server, tmp_path, capsys):
    server.add("/f", blob(100))
    downloader(progress_interval=0.0).fetch_all([Item(server.url("/f"), tmp_path / "f")], tmp_path)
    assert "download: 1/1 (fetched 1)" in capsys.readouterr().err
    assert "unmask" in server.hits("/f")[0].headers["User-Agent"]


def test_get_retries_truncated_body(server):
    server.add("/img", blob(5000), failures=[("truncate", 100)])
    assert downloader().get(server.url("/img")) == blob(5000)
    assert len(server.hits("/img")) == 2


@pytest.mark.parametrize("flow", ["direct", "confirm", "form"])
def test_google_drive_flows(server, tmp_path, flow):
    body = blob(20_000)
    add_drive_file(server, "abc", body, flow)
    item = Item(server.url("/uc?export=download&id=abc"), tmp_path / "x.bin", len(body), md5(body))
    downloader().fetch(item)
    assert item.dest.read_bytes() == body
    if flow == "form":
        assert server.hits("/download")[0].query == {
            "id": "abc",
            "export": "download",
            "confirm": "t",
            "uuid": "0f0e-1234",
        }


def test_google_drive_resume_after_confirm(server, tmp_path):
    body = blob(20_000)
    add_drive_file(server, "abc", body, "confirm")
    server.routes["/uc"]({"id": "abc", "confirm": "Xy-12_ab"}).failures.append(("truncate", 5000))
    downloader().fetch(Item(server.url("/uc?export=download&id=abc"), tmp_path / "x", len(body)))
    # page, truncated file, then the confirmed URL again with Range (not the page)
    assert [(h.query.get("confirm"), h.headers.get("Range")) for h in server.hits()] == [
        (None, None),
        ("Xy-12_ab", None),
        ("Xy-12_ab", "bytes=5000-"),
    ]
    assert (tmp_path / "x").read_bytes() == body


def test_google_drive_quota_message(server, tmp_path):
    add_drive_file(server, "abc", b"x", "quota")
    item = Item(server.url("/uc?export=download&id=abc"), tmp_path / "ffhq.json")
    with pytest.raises(DriveQuotaExceeded) as info:
        downloader().fetch(item)
    message = str(info.value)
    assert "quota exceeded" in message and "24 hours" in message and str(item.dest) in message
    assert len(server.hits()) == 1 and not os.listdir(tmp_path)


def test_unexpected_html_page_is_an_error(server, tmp_path):
    server.add("/login", b"<html><title>Sign in</title></html>", content_type="text/html")
    with pytest.raises(DownloadError, match="got an HTML page titled 'Sign in'"):
        downloader().fetch(Item(server.url("/login"), tmp_path / "f.png"))


def test_unknown_download_option_rejected():
    with pytest.raises(ValueError, match="unknown download options"):
        Options.from_spec({"download": {"wrokers": 2}})
    assert Options.from_spec({"download": {"workers": 2}}, retries=1) == Options(workers=2, retries=1)


def test_retry_after_is_capped_by_max_delay(server, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr("unmask.data.acquire.download.time.sleep", waits.append)
    server.add("/f", blob(10), failures=[429, 503], headers={"Retry-After": "3600"})
    downloader(max_delay=0.25).fetch(Item(server.url("/f"), tmp_path / "f"))
    assert waits == [0.25, 0.25] and (tmp_path / "f").read_bytes() == blob(10)


def test_sequential_requests_keep_the_host_interval_after_slow_answers(server, tmp_path):
    server.add("/slow", blob(10), failures=[("sleep", 0.3)])
    server.add("/fast", blob(10))
    fetcher = downloader(host_interval=0.2)
    fetcher.get(server.url("/slow"))
    fetcher.get(server.url("/fast"))
    slow, fast = server.hits("/slow")[0], server.hits("/fast")[0]
    assert fast.time - slow.time >= 0.3 + 0.2 - 0.01  # counted from the slow answer, not the slow request


def test_a_malformed_url_is_one_attempt_named(tmp_path):
    with pytest.raises(DownloadError, match=r"^ftp://mirror/f: InvalidSchema: ") as info:
        downloader().fetch(Item("ftp://mirror/f", tmp_path / "f"))
    assert "attempt" not in str(info.value) and not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    ("declared", "limit", "what"), [(3_000_000, None, "its declared size"), (None, 2_000_000, "the size limit")]
)
def test_an_endless_body_stops_at_the_declared_size_or_the_limit_and_leaves_no_part(
    server, tmp_path, declared, limit, what
):
    """Before: an endless chunked body wrote 400 MB of .part in 0.8 s until the disk was full."""
    server.add("/endless", blob(1 << 16), endless=True)
    item = Item(server.url("/endless"), tmp_path / "a.7z", size=declared, max_bytes=limit)
    with pytest.raises(DownloadError, match=rf"more than {declared or limit} bytes \({what}\); stopped"):
        downloader().fetch(item)
    assert list(tmp_path.iterdir()) == [] and len(server.hits("/endless")) == 1


def test_an_archive_source_passes_archive_size_and_max_size_to_the_download(server, tmp_path):
    from unmask.data.acquire import archive

    server.add("/endless", blob(1 << 16), endless=True)
    spec = {"method": "archive", "url": server.url("/endless"), "max_size": 1_000_000, "download": {"retries": 0}}
    with pytest.raises(DownloadError, match=r"more than 1000000 bytes \(the size limit\)"):
        archive.acquire(spec, tmp_path)
    assert not list((tmp_path / "_archive").glob("*.part"))
