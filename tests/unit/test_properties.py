"""Property tests: random interleavings of every command keep the books balanced.

A hypothesis state machine plays the single writer against the pure domain. After
every step it checks the accounting invariants; at the end it replays the log to
check determinism (invariant 6). Stale-epoch copies and duplicate retries are
injected along the way and must change nothing (invariants 3 and 5).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from events import commands as c
from events.base import Decision
from events.vocabulary import IgnoredReason
from events.writer import WriterPromoted
from services.domain import lease_secrets
from services.domain.decide import Context, ExpireLease, decide
from services.domain.evolve import apply
from services.domain.model import State
from tests.unit.harness import T0

FEATURES = [("View SE", "13.00"), ("View SE", "12.00"), ("RSLinx", "4.00")]
UNKNOWN = ("Historian", "7.0")
DEVICES = ["hmi-1", "hmi-2", "hmi-3"]
USERS = ["alice", "bob", "carol"]
LICENSES = ["LIC-1", "LIC-2", "LIC-3", "LIC-4"]
# Already expired, lapsing during a run, and long valid (relative to T0).
EXPIRIES = [None, T0 - timedelta(days=1), T0 + timedelta(hours=2), T0 + timedelta(days=1)]
TICKS = [timedelta(0), timedelta(minutes=30), timedelta(hours=3), timedelta(days=2)]

grants = st.lists(
    st.builds(
        lambda key, seats, exp: c.FeatureGrant(
            name=key[0], version=key[1], seats=seats, expires_at=exp
        ),
        st.sampled_from(FEATURES),
        st.integers(1, 4),
        st.sampled_from(EXPIRIES),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda g: (g.name, g.version),
)
feature_keys = st.sampled_from(FEATURES + [UNKNOWN])


class Ledger(RuleBasedStateMachine):
    """Drives decide/apply the way the writer does and audits the state."""

    @initialize()
    def promote_first_writer(self) -> None:
        self.now = T0
        self.epoch = 1
        self.seq = 0
        self.state = State()
        self.log: list[
            tuple[object, str | None]
        ] = []  # (event, verdict) exactly as a projector saw them
        self.commands: list[tuple[str, object]] = []  # (command id, command) for duplicate retries
        self.lapsed: set[tuple[str, str]] = set()  # features whose grants expired mid-run
        self.secrets: dict[str, str] = {}  # lease id -> its secret, as the grant's reply has it
        self._append(WriterPromoted(epoch=1, node="a", server_id="A_X", at=self.now), None)

    # -- plumbing --------------------------------------------------------------

    def _append(self, event, expected: str | None) -> None:
        before = self.state
        self.state, verdict = apply(self.state, event)
        assert verdict == expected, (event, verdict)
        if verdict is not None:
            assert self.state is before
        self.log.append((event, verdict))

    def _run(self, command: object) -> Decision:
        self.seq += 1
        cid = f"cmd-{self.seq}"
        before = self.state
        event = decide(before, command, Context(command_id=cid, epoch=self.epoch, now=self.now))
        assert isinstance(event, Decision) and event.command_id == cid and event.epoch == self.epoch

        # A stale writer's copy of this very decision changes nothing, whatever its epoch.
        for epoch in {self.epoch - 1, self.epoch + 1} - {0}:
            stale = event.model_copy(update={"epoch": epoch})
            after, verdict = apply(before, stale)
            assert verdict == IgnoredReason.STALE_EPOCH and after is before

        self._append(event, None)
        reply = self.state.outcome(cid)
        assert reply is not None and reply.command_id == cid
        assert reply.ok == (event.type not in ("AcquireDenied", "CommandRefused"))
        self.commands.append((cid, command))
        if event.type == "LeaseGranted":
            self.secrets[event.lease_id] = lease_secrets.secret_for(None, cid)
        return event

    # -- commands --------------------------------------------------------------

    @rule(license_id=st.sampled_from(LICENSES), features=grants)
    def activate(self, license_id, features) -> None:
        was_active = license_id in self.state.licenses
        event = self._run(c.ActivateLicense(license_id=license_id, features=features))
        assert (event.type == "CommandRefused") == was_active

    @rule(license_id=st.sampled_from(LICENSES + ["LIC-unknown"]))
    def deactivate(self, license_id) -> None:
        event = self._run(c.DeactivateLicense(license_id=license_id))
        if event.type == "LicenseDeactivated":
            assert license_id not in self.state.licenses

    @rule(
        key=feature_keys,
        device=st.sampled_from(DEVICES),
        user=st.sampled_from(USERS),
        count=st.integers(1, 3),
    )
    def acquire(self, key, device, user, count) -> None:
        f = self.state.features.get(key)
        valid = f.valid_total(self.now) if f else 0
        in_use = f.in_use if f else 0
        event = self._run(
            c.Acquire(feature=key[0], version=key[1], device=device, user=user, count=count)
        )
        if event.type == "LeaseGranted":
            assert in_use + count <= valid
        else:
            expected = (
                {"unknown_feature"}
                if f is None
                else {"expired"}
                if valid == 0
                else {"no_seats", "reserved"}
            )
            assert event.reason in expected
            if event.reason == "reserved":
                assert in_use + count <= valid  # the seats exist but are someone else's
            if event.reason == "no_seats":
                assert in_use + count > valid

    @rule(data=st.data())
    def release(self, data) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.state.leases) + ["L-gone"]))
        held = lease_id in self.state.leases
        event = self._run(c.Release(lease_id=lease_id, lease_secret=self.secrets.get(lease_id)))
        assert (event.type == "LeaseReleased") == held
        assert lease_id not in self.state.leases

    @rule(data=st.data())
    def expire(self, data) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.state.leases) + ["L-gone"]))
        held = lease_id in self.state.leases
        event = self._run(ExpireLease(lease_id=lease_id))
        assert (event.type == "LeaseExpired") == held
        assert lease_id not in self.state.leases

    @rule(
        key=feature_keys,
        holder=st.sampled_from([("device", d) for d in DEVICES] + [("user", u) for u in USERS]),
        count=st.integers(1, 3),
    )
    def reserve(self, key, holder, count) -> None:
        f = self.state.features.get(key)
        free = f.pool_free(self.now) if f else 0
        event = self._run(
            c.Reserve(feature=key[0], version=key[1], count=count, **{holder[0]: holder[1]})
        )
        assert (event.type == "SeatsReserved") == (f is not None and count <= free)

    @rule(data=st.data())
    def cancel(self, data) -> None:
        rid = data.draw(st.sampled_from(sorted(self.state.reservations) + ["R-gone"]))
        leases_before = set(self.state.leases)
        event = self._run(c.CancelReservation(reservation_id=rid))
        assert rid not in self.state.reservations
        assert set(self.state.leases) == leases_before  # cancelling never takes a seat away
        assert all(lease.reservation_id != rid for lease in self.state.leases.values())
        assert (event.type == "ReservationCancelled") == (rid != "R-gone")

    # -- time, failover and retries ----------------------------------------------

    @rule(delta=st.sampled_from(TICKS))
    def tick(self, delta) -> None:
        self.now += delta
        for f in self.state.features.values():
            if any(g.expires_at is not None and T0 < g.expires_at <= self.now for g in f.grants):
                self.lapsed.add(f.key)

    @rule(skip=st.integers(1, 2))
    def failover(self, skip) -> None:
        # A late claim for the current epoch loses; the next claim wins.
        late = WriterPromoted(epoch=self.epoch, node="z", server_id="Z", at=self.now)
        self._append(late, IgnoredReason.EPOCH_TAKEN)
        self.epoch += skip
        self._append(WriterPromoted(epoch=self.epoch, node="b", server_id="B_Y", at=self.now), None)

    @precondition(lambda self: self.commands)
    @rule(data=st.data())
    def retry(self, data) -> None:
        cid, command = data.draw(st.sampled_from(self.commands))
        again = decide(self.state, command, Context(command_id=cid, epoch=self.epoch, now=self.now))
        if not self.state.decided(cid):
            # Answers are kept 12 to 24 hours of log time; an older retry is decided afresh.
            self._append(again, None)
            return
        first = self.state.outcome(cid)
        self._append(again, IgnoredReason.DUPLICATE_COMMAND)
        assert self.state.outcome(cid) == first

    # -- the books ---------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        s = self.state
        for key, f in s.features.items():
            leases = [lease for lease in s.leases.values() if lease.key == key]
            reservations = [s.reservations[rid] for rid in f.reservation_ids]
            assert f.in_use == sum(lease.count for lease in leases)
            assert f.reserved_in_use == sum(lease.reserved for lease in leases)
            assert f.reserved == sum(r.count for r in reservations)
            assert sorted(f.reservation_ids) == sorted(
                r.reservation_id for r in s.reservations.values() if r.key == key
            )
            assert 0 <= f.reserved_in_use <= f.in_use
            assert f.in_use <= f.total
            assert f.pool_in_use + f.reserved <= f.total
            if key not in self.lapsed:
                assert f.in_use <= f.valid_total(self.now)
                assert f.pool_in_use + f.reserved <= f.valid_total(self.now)
            assert not f.is_empty()
        for r in s.reservations.values():
            assert 0 <= r.in_use <= r.count
            assert r.in_use == sum(
                lease.reserved
                for lease in s.leases.values()
                if lease.reservation_id == r.reservation_id
            )
            assert (r.device is None) != (r.user is None)
        for lease in s.leases.values():
            assert lease.key in s.features
            assert 0 <= lease.reserved <= lease.count
            assert (lease.reservation_id is None) == (lease.reserved == 0)
            if lease.reservation_id:
                r = s.reservations[lease.reservation_id]
                assert r.holds_for(lease.device, lease.user)
        for lic in s.licenses.values():
            for name, _type, version, _seats, _exp in lic.features:
                grants_ = s.features[(name, version)].grants
                assert any(g.license_id == lic.license_id for g in grants_)

    def teardown(self) -> None:
        if not hasattr(self, "state"):
            return
        # Replaying the log from nothing, twice, gives the same state and the same verdicts.
        replays = []
        for _ in range(2):
            state, verdicts = State(), []
            for event, _verdict in self.log:
                state, verdict = apply(state, event)
                verdicts.append(verdict)
            replays.append((state, verdicts))
        assert replays[0] == replays[1]
        assert replays[0][0] == self.state
        assert replays[0][1] == [verdict for _event, verdict in self.log]


Ledger.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = Ledger.TestCase
