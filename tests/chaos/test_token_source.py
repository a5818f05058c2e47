"""`FileTokenSource` (worker/cluster/connection.py): the URL kind's rotating bearer token."""

from __future__ import annotations

import pytest

from devcluster.server import DevCluster
from worker.cluster.client import Cluster, ClusterError
from worker.cluster.connection import FileTokenSource, connect

pytestmark = [pytest.mark.chaos]


def test_the_token_is_read_again_once_it_is_refresh_after_old(tmp_path):
    path, now = tmp_path / "token", [1000.0]
    path.write_text("one\n")
    source = FileTokenSource(str(path), clock=lambda: now[0], refresh_after=60)
    assert source.token() == "one"
    path.write_text("two")
    now[0] += 59
    assert source.token() == "one"  # cached until refresh_after
    now[0] += 1
    assert source.token() == "two" and source.refreshes == 2


def test_a_missing_or_empty_token_file_is_a_transient_cluster_error(tmp_path):
    source = FileTokenSource(str(tmp_path / "absent"))
    with pytest.raises(ClusterError) as missing:
        source.token()
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(ClusterError) as empty:
        FileTokenSource(str(tmp_path / "empty")).token()
    assert missing.value.transient and empty.value.transient


def test_a_401_rereads_the_rotated_file_and_the_request_succeeds(tmp_path):
    path = tmp_path / "token"
    path.write_text("old")
    with DevCluster(port=0, ready_delay_seconds=0, traffic="manual") as dc:
        dc.auth.configure({"tokens": ["old"]})
        conn = connect({"kind": "url", "url": dc.url, "token_file": str(path), "refresh_after": 600})
        cluster = Cluster(conn.api_client, refresh_credentials=conn.refresh, sleep=lambda _s: None)
        assert cluster.ping()
        # when the token is rotated and the old one stops working
        path.write_text("new")
        dc.auth.configure({"tokens": ["new"]})
        # then the next call meets a 401, re-reads the file, and succeeds
        assert cluster.ping()
        assert conn.token_source.refreshes == 2  # the first read, and the one after the 401
