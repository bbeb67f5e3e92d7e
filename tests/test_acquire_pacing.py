"""Per-host pacing with parallel workers: a request to a host waits for the previous one's answer."""

from __future__ import annotations

from acquire_server import LocalServer

from unmask.data.acquire.download import Downloader, Item, Options


def test_parallel_requests_to_one_host_start_after_the_previous_answer(tmp_path):
    with LocalServer() as server:
        for name in ("a", "b"):
            server.add(f"/{name}", name.encode(), failures=[("sleep", 0.3)])
        items = [Item(server.url(f"/{name}"), tmp_path / name) for name in ("a", "b")]
        options = Options(workers=2, host_interval=0.1, backoff=0.0, progress_interval=60.0)
        Downloader(options).fetch_all(items, tmp_path).check()
        first, second = sorted(h.time for h in server.hits())
    assert second - first >= 0.3 + 0.1 - 0.01  # the first answer took 0.3 s; then the interval
