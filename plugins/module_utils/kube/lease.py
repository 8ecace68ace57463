# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock: one ``coordination.k8s.io/v1`` Lease, so two deploys never run helm on the same
releases at once (the second one's ``upgrade --install`` fails with ``release: already exists``).

Taking it is optimistic: a create (one request when the lock is free; a 409 means another run got there
first), or an update carrying the ``resourceVersion`` read (a 409 means someone wrote it since). A Lease
whose ``renewTime`` + ``leaseDurationSeconds`` is past belongs to a run that died, and is taken over.
The holder renews it from a thread while its waves run and deletes it at the end, on failure too,
with its own ``resourceVersion`` as precondition, so it never deletes a lock another run took over.
Expiry compares the holder's wall clock with ours: controllers whose clocks differ by more than a
fraction of the lease duration take over early or late.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import datetime
import os
import socket
import threading
import time

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApiError, Ref

API_VERSION = "coordination.k8s.io/v1"
NAME = "homelab-observability-deploy"
# A holder killed without releasing blocks the next deploy for at most this long after its last renewal.
DURATION = 60
POLL = 2.0
# a renewal's retries must end before the next one is due (every third of the duration), or one API outage
# outlasts the lease while the holder still believes it holds it
RENEW_RETRY_SHARE = 4
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"


class LockLost(KubeError):
    """This run held the lock and no longer does: its writes are refused from then on."""


class LockHeld(KubeError):
    """Another run holds the lock and did not release it within the timeout."""

    def __init__(self, message, holder):
        super().__init__(message)
        self.holder = holder


def identity(clock=time.time, host=None, pid=None):
    """Who holds the lock, for the message of the run that waits: host, process and start time (UTC)."""
    started = datetime.datetime.fromtimestamp(clock(), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "host=%s pid=%d started=%s" % (host or socket.gethostname(), pid or os.getpid(), started)


def microtime(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime(MICROTIME)


def parse_time(text):
    """Seconds since the epoch of a Lease's MicroTime (``...Z`` with or without fractions), or None."""
    if not text:
        return None
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.timestamp()


def expires_at(lease):
    """When the lease's holder loses it unless it renews; None for a lease without a holder."""
    spec = (lease or {}).get("spec") or {}
    if not spec.get("holderIdentity"):
        return None
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime")) or 0
    return renewed + int(spec.get("leaseDurationSeconds") or DURATION)


def holder_of(lease):
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


class DeployLock:
    """One run's hold on the Lease ``namespace/name``.

    ``acquire`` takes it (waiting up to ``timeout`` seconds for another holder), ``ensure`` takes it once from
    the first writer of a run, ``release`` gives it back;
    between the two a thread renews it every third of its duration. In check mode ``acquire`` only reads:
    ``waited_for`` names a current holder, and nothing is written.

    ``api`` is the lock's own KubeApi: its ``retry_seconds`` is cut to a quarter of the duration, so that a
    renewal gives up before the next one is due.
    """

    def __init__(self, api, namespace, name=NAME, *, timeout=600, create_namespace=False, check_mode=False,
                 duration=DURATION, poll=POLL, clock=time.time, sleep=time.sleep, me=None):
        self.api = api
        if getattr(api, "retry_seconds", None) is not None:
            api.retry_seconds = min(api.retry_seconds, int(duration) / RENEW_RETRY_SHARE)
        self.timeout = timeout
        self.ref = Ref(API_VERSION, "Lease", namespace, name)
        self.create_namespace = create_namespace
        self.check_mode = check_mode
        self.duration = int(duration)
        self.poll = poll
        self.clock = clock
        self.sleep = sleep
        self.me = me or identity(clock)
        self.held = None  # the Lease as this run last wrote it
        self.waited = 0.0
        self.waited_for = None
        self.lost = None  # why this run no longer holds the lock it took
        self.release_problem = None
        self.refused = None  # the error of the one attempt ``ensure`` made, raised to every later caller
        self._taken = False
        self.acquired_at = None  # time.monotonic() when this run took the lock after waiting for another's
        self._taking = threading.Lock()
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._renewer = None

    # -- taking ----------------------------------------------------------------------------------
    def acquire(self, timeout=None):
        """Take the lock or raise ``LockHeld`` naming its holder after ``timeout`` seconds (0: at once)."""
        try:
            return self._acquire(self.timeout if timeout is None else timeout)
        except KubeApiError as exc:
            if exc.status != 403:
                raise
            raise KubeError(
                "cannot take the deploy lock (Lease %s/%s): %s. Grant the user get, create, update and delete on "
                "leases (API group coordination.k8s.io) in namespace %s, choose another with lock_namespace, or "
                "turn the lock off (lock: false)" % (self.ref.namespace, self.ref.name, exc, self.ref.namespace)
            ) from exc

    def ensure(self):
        """Take the lock on the first call, from whichever component thread writes first; later calls return at
        once, or raise what the first one raised. A run that writes nothing never takes it (0 writes).
        Every call is also the fence of a write: ``LockLost`` once the lock was taken over or ran out.

        When this run had to wait for another run's lock, the ``time.monotonic()`` at which it took it: what a
        component read before then may be stale (that run wrote meanwhile). None when it never waited.
        """
        with self._taking:
            if self.refused is not None:
                raise self.refused
            if not self._taken:
                try:
                    self.acquire()
                except KubeError as exc:
                    self.refused = exc
                    raise
                self._taken = True
                if self.waited_for is not None:
                    self.acquired_at = time.monotonic()
            self.fence()
            return self.acquired_at

    def fence(self):
        """Raise ``LockLost`` when this run may no longer write: the lock was taken over, or it was not renewed
        within its duration (another run may take it over by now, whatever this run's renewer believes)."""
        with self._mutex:
            held, lost = self.held, self.lost
        if lost is None and held is not None:
            renewed = parse_time(held["spec"].get("renewTime")) or 0
            late = self.clock() - (renewed + self.duration)
            if late > 0:
                lost = ("the deploy lock (Lease %s/%s) expired: not renewed for %ds (lease %ds), another run may "
                        "hold it now" % (self.ref.namespace, self.ref.name, late + self.duration, self.duration))
                with self._mutex:
                    self.lost = self.lost or lost
        if lost is not None:
            raise LockLost("%s; this run writes nothing more (run it again once no other deploy runs)" % lost)

    def _acquire(self, timeout):
        started = self.clock()
        if self.check_mode:
            self.waited_for = self._foreign_holder(self.api.get(self.ref))
            return
        deadline = started + max(0, timeout)
        live = None  # the first try assumes a free lock: then taking it costs one request
        while True:
            took, live = self._attempt(live)
            if took:
                self.waited = round(self.clock() - started, 3)
                self._start_renewing()
                return
            if live is not None:
                self.waited_for = holder_of(live)
                now = self.clock()
                if now >= deadline:
                    raise LockHeld(self._held_message(live, now - started, timeout), holder_of(live))
                self.sleep(min(self.poll, deadline - now))
            live = self.api.get(self.ref)

    def _attempt(self, live):
        """(True, lease) when this run holds the lock now; (False, the holder's lease), or (False, None) when
        another run wrote the Lease between our read and our write (read again, no wait)."""
        try:
            if live is None:
                return True, self._write(self._create(self._body(None)))
            if holder_of(live) == self.me or self._free(live):
                # our own earlier create or update whose answer was lost and retried counts as ours
                return True, self._write(self.api.replace(self._body(live)))
        except KubeApiError as exc:
            # 409: another run wrote it since our read; 404 on a takeover: it was deleted since (created next)
            if exc.status == 409 or (exc.status == 404 and live is not None):
                return False, None
            raise
        return False, live

    def _create(self, body):
        try:
            return self.api.create(body)
        except KubeApiError as exc:
            if exc.status != 404:
                raise
            if not self.create_namespace:
                raise KubeError(
                    "cannot take the deploy lock: namespace %s does not exist; create it, or set lock_namespace "
                    "to an existing namespace" % self.ref.namespace
                ) from exc
        self._ensure_namespace()
        return self.api.create(body)

    def _ensure_namespace(self):
        # the first component would create it anyway (create_namespace); a plain create, not an apply, leaves the
        # namespace's fields to that component's own apply
        try:
            self.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ref.namespace}})
        except KubeApiError as exc:
            if exc.status != 409:
                raise

    def _free(self, live):
        until = expires_at(live)
        return until is None or until <= self.clock()

    def _foreign_holder(self, live):
        if live is None or self._free(live) or holder_of(live) == self.me:
            return None
        return holder_of(live)

    def _body(self, live):
        now = microtime(self.clock())
        spec = (live or {}).get("spec") or {}
        mine = holder_of(live) == self.me
        metadata = {"name": self.ref.name, "namespace": self.ref.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "homelab.observability"}}
        if live is not None:
            metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if live is not None and not mine else 0)
        return {
            "apiVersion": API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.me,
                "leaseDurationSeconds": self.duration,
                "acquireTime": spec.get("acquireTime") if mine and spec.get("acquireTime") else now,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    def _write(self, lease):
        with self._mutex:
            self.held = lease
        return lease

    def _held_message(self, live, waited, timeout):
        duration = int(live["spec"].get("leaseDurationSeconds") or DURATION)
        renewed_ago = max(0, self.clock() - ((expires_at(live) or self.clock()) - duration))
        how = "refused at once (lock_timeout 0)" if timeout <= 0 else "waited %ds (lock_timeout %d)" % (waited, timeout)
        where = "%s/%s" % (self.ref.namespace, self.ref.name)
        return (
            "another deploy holds the deploy lock (Lease %s): %s, renewed %ds ago; %s. Wait for that run to end and "
            "run again, or raise lock_timeout. If that run is gone, its lock expires %ds after its last renewal, or "
            "delete it now: kubectl -n %s delete lease %s"
            % (where, holder_of(live), renewed_ago, how, duration, self.ref.namespace, self.ref.name)
        )

    # -- holding ---------------------------------------------------------------------------------
    def renew(self):
        """Move ``renewTime`` on; a 409 from another holder means the lock was lost (``lost`` says to whom)."""
        with self._mutex:
            held = self.held
        if held is None or self.lost:
            return False
        for _try in range(2):
            try:
                self._write(self.api.replace(self._body(held)))
                return True
            except KubeApiError as exc:
                if exc.status not in (404, 409):
                    return False  # the next renewal tries again; the lease lasts three of them
            held = self.api.get(self.ref)
            if holder_of(held) != self.me:
                break
            # our own renewal whose answer was lost: the retry met our new resourceVersion
        self.lost = "the deploy lock (Lease %s/%s) was taken over by %s: this run did not renew it in time" % (
            self.ref.namespace, self.ref.name, holder_of(held) or "nobody (it was deleted)")
        return False

    def _start_renewing(self):
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="deploy-lock-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self):
        interval = max(1.0, self.duration / 3.0)
        while not self._stop.wait(interval):
            # an unreachable API: the next tick retries; if none succeeds in time, ``fence`` refuses the writes
            with contextlib.suppress(KubeError):
                self.renew()

    def release(self):
        """Stop renewing and delete the Lease if it is still this run's (precondition: our resourceVersion).

        Returns None, or a warning when the delete failed: the run's own result matters more than the lock's.
        """
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        with self._mutex:
            held, self.held = self.held, None
        if held is None or self.lost:
            return None
        try:
            self.api.delete(self.ref, resource_version=held["metadata"]["resourceVersion"])
        except KubeError as exc:
            # 409: another run took it over since, and it is theirs to release
            if not isinstance(exc, KubeApiError) or exc.status != 409:
                self.release_problem = "could not release the deploy lock (%s); it expires %ds after its last " \
                                       "renewal" % (exc, self.duration)
        return self.release_problem

    def report(self):
        return {"namespace": self.ref.namespace, "name": self.ref.name, "holder": self.me,
                "waited": self.waited, "waited_for": self.waited_for, "lost": self.lost,
                "release_problem": self.release_problem, "requests": dict(self.api.counts)}
