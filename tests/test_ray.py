"""The Ray executor against a real Ray cluster on this machine (``nox -s ray``; Ray is an
optional extra, so ``nox -s tests`` skips this file unless Ray is installed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

if not os.environ.get("D2L_REQUIRE_RAY"):
    pytest.importorskip("ray", reason="Ray is an optional extra: `nox -s ray` tests it")

from conftest import FixtureSite  # noqa: E402
from test_book_scale import _book, _report, same_as_serial  # noqa: E402


def test_a_ray_build_records_what_a_local_one_does(site: FixtureSite):
    spans = same_as_serial(site, 5, "--executor", "ray")
    assert len({s[3] for s in spans}) >= 2  # Ray's worker processes, not the driver


def test_failures_and_timeouts_on_ray_are_reported_as_locally(site: FixtureSite):
    _book(site, 3, fail=1)
    site.write("snippets/s2.py", "# --8<-- [start:r]\nimport time\ntime.sleep(30)\n"
                                 "# --8<-- [end:r]\n")
    local = site.build("--no-site", "--jobs", "1", "--timeout", "2")
    on_ray = site.build("--no-site", "--executor", "ray", "--timeout", "2")
    for result in (local, on_ray):
        assert result.code == 1
        assert "docs/p1.md:6: region 'r' failed: exception: ValueError: page 1 fails" in result.stderr
        assert "docs/p2.md:6: region 'r' failed: timeout after 2 s" in result.stderr
    assert _report(on_ray.stderr) == _report(local.stderr)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ray_address_points_the_build_at_a_running_cluster(site: FixtureSite):
    _book(site, 3)
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    port = _free_port()
    short = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's sockets: <= 107 bytes
    # token authentication, as a cluster should have it: the head and the build share the
    # token in ~/.ray/auth_token
    auth = {"RAY_TMPDIR": str(short), "RAY_AUTH_MODE": "token"}
    env = {**os.environ, **auth}
    started = subprocess.run([*ray, "start", "--head", f"--port={port}", "--num-cpus=2",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, env=env, timeout=180)
    assert started.returncode == 0, started.stderr
    try:
        result = site.build("--no-site", env={"RAY_ADDRESS": f"127.0.0.1:{port}", **auth})
        assert result.code == 0, result.stderr
        assert "regions: 3 run" in result.stdout
        assert [r["run"]["stdout"] for r in site.record()["pages"]["p1.md"]["regions"]] == [
            "page 1\n"]
    finally:
        subprocess.run([*ray, "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(short, ignore_errors=True)
