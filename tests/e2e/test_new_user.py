"""The new user's path (issue 13, "Done means"): a fresh clone, ``make up``, and a second shell
that activates and acquires with no export; the lease shows in the License Manager (the
``/api/usage`` its Usage Details page reads, and that page in a browser), in the node's
``/metrics`` and in ``licensing report usage --csv``.

``make up`` runs in the clone with this test's own virtualenv (``make up VENV=...``): make then
installs nothing and runs the clone's code with it (the Makefile exports PYTHONPATH=the clone).
That costs nothing, where a throwaway venv with ``pip install -e . --no-deps`` measured 6 s and
needs a package index for its build backend, and a true install minutes. It is still the new
user's path: the clone's own Makefile, scripts, ``services`` and ``.run/`` are what run (checked
below from each process's environment and working directory); only ``python -m venv`` and
``pip install`` are left out, and CI walks those for real (``.ci/run`` runs ``make test`` in a
fresh clone without ``.venv``). The second shell gets the same PYTHONPATH and no ``LICENSING_*``
variable: a user's ``.venv/bin/licensing`` finds the clone through its editable install.
The clone is of HEAD, as a new user's would be: what is not committed is not what runs here.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from events.vocabulary import PairStatus
from tests.e2e.test_cli_up import children_of, running
from tests.e2e.test_first_hour import clean_env
from tests.e2e.test_metrics import scrape, value
from tests.support.browser import chromium, chromium_or_skip
from tests.support.processes import REPO, free_port
from tests.support.sites import AMQP_URL, PG_DSN, new_site_name, remove_site
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(180)

VENV = Path(sys.prefix)  # the virtualenv running this test: make up VENV=... uses it as it is
LICENSING = VENV / "bin" / "licensing"
# A feature the demo license lacks: seats of it can only come from the activation below.
FEATURE, VERSION, SEATS = "Historian Client", "2020", 5
LEASE_LABELS = {"feature": FEATURE, "version": VERSION}
UP_READY = "Press Ctrl-C to stop every process"  # the last thing licensing up says once ready


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (make, its shell, licensing up, the nodes): pid -> cmdline."""
    found: dict[int, str] = {}
    below = [pid]
    while below:
        kids = children_of(below.pop())
        found.update(kids)
        below.extend(kids)
    return found


def environ_of(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


def imports_services_from(pid: int, elsewhere: Path) -> str:
    """Where ``services`` comes from for the interpreter of ``pid`` with its environment, run
    outside the clone so that only that environment (not the working directory) decides."""
    probe = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import services; print(services.__file__)"],
        cwd=elsewhere,
        env=environ_of(pid),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 0, probe.stderr
    return probe.stdout.strip()


async def get(url: str) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as response:
            assert response.status == 200, (url, response.status)
            return await response.json()


async def test_a_fresh_clone_make_up_and_a_second_shell_that_activates_and_acquires(tmp_path):
    browser = chromium_or_skip()
    assert LICENSING.exists(), f"run the tests from the project's virtualenv (no {LICENSING})"
    clone = tmp_path / "licensing"
    cloned = subprocess.run(
        ["git", "clone", "-q", str(REPO), str(clone)], capture_output=True, text=True, timeout=60
    )
    assert cloned.returncode == 0, cloned.stderr
    clone = clone.resolve()
    assert not (clone / ".run").exists() and not (clone / ".venv").exists()  # a fresh machine

    site, ports = new_site_name(), (free_port(), free_port(), free_port())
    primary, watchdog_metrics = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[2]}"
    up_args = (
        f"--primary-port {ports[0]} --backup-port {ports[1]} --watchdog-metrics-port {ports[2]}"
    )
    # The first shell: a site of its own on the test broker, and never start a service.
    first_shell = clean_env(
        LICENSING_SITE=site,
        LICENSING_AMQP_URL=AMQP_URL,
        LICENSING_PG_DSN=PG_DSN,
        ENSURE_SERVICES_NO_START="1",
    )
    make_out, make_err = tmp_path / "make-up.out", tmp_path / "make-up.err"
    with make_out.open("w") as out, make_err.open("w") as err:
        make = subprocess.Popen(
            ["make", "up", f"VENV={VENV}", f"UP_ARGS={up_args}"],
            cwd=clone,
            env=first_shell,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    tree: dict[int, str] = {}
    holder: subprocess.Popen | None = None
    try:

        async def told() -> str | None:
            if make.poll() is not None:
                raise RuntimeError(f"make up exited with {make.returncode}: {make_err.read_text()}")
            text = make_err.read_text()
            return text if UP_READY in text else None

        told_text = await wait_for(told, 90, "make up telling how to use the pair")
        recipe = make_out.read_text()
        assert f"{LICENSING} up {up_args}" in recipe and "pip install" not in recipe, recipe

        # What runs is the clone: licensing up and its three children import it.
        tree = descendants(make.pid)
        (up,) = [pid for pid, cmd in tree.items() if f"{LICENSING} up " in cmd]
        children = children_of(up)
        commands = sorted(
            cmd.split(" services.cli.main ", 1)[-1].strip() for cmd in children.values()
        )
        assert commands == [
            f"server --node backup --http-port {ports[1]}",
            f"server --node primary --http-port {ports[0]}",
            f"watchdog --metrics-port {ports[2]}",
        ], commands
        for pid in [up, *children]:
            assert Path(f"/proc/{pid}/cwd").resolve() == clone
            assert environ_of(pid)["PYTHONPATH"].split(":")[0] == str(clone)
        assert Path(imports_services_from(up, tmp_path)).is_relative_to(clone)

        # make up says how to use the pair from another terminal, and where its metrics are.
        status_line = f"cd {shlex.quote(str(clone))} && {LICENSING} status"
        assert status_line in told_text, told_text
        assert f"{primary}/ (primary)" in told_text and "sign in as admin" in told_text
        assert f"Metrics (Prometheus): {primary}/metrics (primary)" in told_text, told_text
        assert f"{watchdog_metrics}/metrics (watchdog" in told_text, told_text

        # The second shell: a new process with no LICENSING_* variable, in the clone.
        second_shell = clean_env(PYTHONPATH=str(clone))
        assert not [name for name in second_shell if name.startswith("LICENSING_")]

        async def licensing(*args: str) -> subprocess.CompletedProcess:
            return await asyncio.to_thread(
                subprocess.run,
                [str(LICENSING), *args],
                cwd=clone,
                env=second_shell,
                capture_output=True,
                text=True,
                timeout=60,
            )

        status = await asyncio.to_thread(  # the printed line, exactly as a user pastes it
            subprocess.run,
            ["bash", "-c", status_line],
            env=second_shell,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0 and "primary" in status.stdout, status.stderr

        # Activate as an administrator would: the request to the vendor, the vendor's signed
        # entitlement (the demo vendor's key that the first run made), then activate it.
        request, key = tmp_path / "request.json", tmp_path / "vendor.key"
        made = await licensing("activation-request", "--out", str(request))
        assert made.returncode == 0, made.stderr
        demo_vendor = json.loads((clone / ".run" / "demo-vendor.json").read_text())
        key.write_text(demo_vendor["private_key"] + "\n")  # as 'licensing vendor keygen' writes
        entitlement = tmp_path / "entitlement.json"
        issued = await licensing(
            "vendor",
            "issue",
            *("--request", str(request), "--key", str(key)),
            *("--license-id", "NEWUSER-1", "--customer", "A new user", "--serial", "NU-0001"),
            *("--feature", f"{FEATURE}:{VERSION}:Client:{SEATS}", "--out", str(entitlement)),
        )
        assert issued.returncode == 0, issued.stderr
        activated = await licensing("activate", str(entitlement))
        assert activated.returncode == 0, activated.stderr

        # Acquire as a product would, holding the lease until Ctrl-C.
        holder = subprocess.Popen(
            [str(LICENSING), "acquire", FEATURE, VERSION, "--device", "HMI-7", "--user", "op1"]
            + ["--hold"],
            cwd=clone,
            env=second_shell,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        lease_id = (await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)).strip()
        assert lease_id.startswith("L-"), (lease_id, holder.poll())

        # The License Manager: the usage its Usage Details page reads, then the page itself.
        async def in_usage() -> dict | None:
            rows = (await get(f"{primary}/api/usage"))["usage"]
            return next((row for row in rows if row["lease_id"] == lease_id), None)

        row = await wait_for(in_usage, 10, "the lease in /api/usage")
        assert (row["feature"], row["device"], row["user"]) == (FEATURE, "HMI-7", "op1"), row
        assert (row["in_use"], row["total"]) == (1, SEATS), row
        from playwright.async_api import expect

        async with chromium(browser) as chrome:
            page = await chrome.new_page()
            await page.goto(f"{primary}/usage")
            lease_row = page.locator(f"tr[data-key='{lease_id}']")
            await expect(lease_row).to_be_visible(timeout=10_000)
            await expect(lease_row).to_contain_text("HMI-7")

        # The node's /metrics: the seat in use, and the one acquire its writer answered.
        async def metered() -> bool:
            nodes = [await scrape(primary), await scrape(f"http://127.0.0.1:{ports[1]}")]
            acquires = sum(
                value(s, "licensing_commands_total", type="Acquire", outcome="ok") for s in nodes
            )
            assert acquires <= 1, acquires  # one acquire, answered once, by the writer alone
            return (
                value(nodes[0], "licensing_seats_in_use", **LEASE_LABELS) == 1
                and value(nodes[0], "licensing_seats_licensed", **LEASE_LABELS) == SEATS
                and acquires == 1
            )

        await wait_for(metered, 10, "the lease in the nodes' /metrics")

        async def watchdog_sees_the_pair() -> bool:
            status = {"status": PairStatus.PAIRED}
            return value(await scrape(watchdog_metrics), "licensing_pair_status", **status) == 1

        await wait_for(watchdog_sees_the_pair, 15, "the watchdog's /metrics: paired and available")

        # The CSV report names the grant: who, what, and the seats it left in use.
        async def reported() -> dict | None:
            report = await licensing("report", "usage", "--csv")
            assert report.returncode == 0, report.stderr
            rows = csv.DictReader(io.StringIO(report.stdout))
            return next((r for r in rows if r["lease_id"] == lease_id), None)

        granted = await wait_for(reported, 10, "the lease in licensing report usage --csv")
        assert granted["event"] == "LeaseGranted", granted
        assert (granted["feature"], granted["version"]) == (FEATURE, VERSION), granted
        assert (granted["device"], granted["user"], granted["in_use"]) == ("HMI-7", "op1", "1")

        # Ctrl-C in the second shell releases the lease; in the first, it stops everything.
        holder.send_signal(signal.SIGINT)
        _, held_err = await asyncio.to_thread(holder.communicate, timeout=30)
        assert holder.returncode == 0 and f"Released lease {lease_id}" in held_err, held_err
        tree = descendants(make.pid)
        os.killpg(make.pid, signal.SIGINT)  # what the terminal does with Ctrl-C: the whole job
        await asyncio.to_thread(make.wait, 40)
        assert not [pid for pid in tree if running(pid)], (tree, make_err.read_text())
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait(10)
        for pid in [*tree, make.pid]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        if make.poll() is None:
            make.wait(10)
        await remove_site(site, ["primary", "backup"])


def test_make_test_runs_schemathesis_and_the_protocol_drift_test():
    """``make test`` runs pytest on every tier folder; both tests live in one and collect."""
    dry = subprocess.run(
        ["make", "-n", "test", f"VENV={VENV}"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    runs = [
        line.split(" -m pytest -q ", 1)[1].split("||", 1)[0].split()
        for line in dry.stdout.splitlines()
        if " -m pytest -q " in line
    ]
    assert len(runs) == 1, dry.stdout  # one pytest run, after the gates
    tiers = {Path(arg) for arg in runs[0] if not arg.startswith("-")}
    drift, schema = Path("tests/unit/test_protocol_doc.py"), Path("tests/e2e/test_api_schema.py")
    assert drift.parent in tiers and schema.parent in tiers, tiers
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", str(drift), str(schema)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    for path in (drift, schema):
        assert f"{path}::test_" in collected.stdout, collected.stdout
