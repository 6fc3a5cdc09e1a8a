"""Fixtures shared by the integration and end-to-end tiers (real broker, real database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.site import Site
from tests.support.sites import new_site_name


@pytest.fixture
async def site(tmp_path, request) -> AsyncIterator[Site]:
    the_site = await Site(new_site_name(), tmp_path).create()
    yield the_site
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for proc in the_site.processes:
            print(f"---- {proc.node} log ----\n{proc.log_tail(60)}")
    await the_site.close()


@pytest.fixture
async def cluster_site(tmp_path, request) -> AsyncIterator[Site]:
    """A throwaway site on the loopback broker cluster (tests/support/cluster.py): its nodes,
    watchdog and clients get the three nodes' URLs, as guest (tests/support/sites.py)."""
    from tests.support import cluster

    await cluster.ensure_cluster()
    the_site = Site(new_site_name(), tmp_path).on_broker(cluster.url_list())
    yield the_site
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for proc in the_site.processes:
            print(f"---- {proc.node} log ----\n{proc.log_tail(60)}")
    await the_site.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
