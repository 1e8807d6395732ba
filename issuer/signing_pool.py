"""Signing processes for bulk awards: canonicalization and signing are pure Python and hold
the GIL, so a job that signs in its own process uses one core. A pool of processes (started
by ``forkserver``, or ``spawn`` where there is none, so that no lock or thread of the job's
process is copied) builds the same services from the same configuration once, loading the
keys once, and then signs prepared awards and renders their e-mails; the job's process keeps
all the database work.

A process that cannot build its services (keys unusable) fails every batch it is sent, with
``signing_unavailable``; the rows stay pending and the job resumes after its lease.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from issuer.assessors import Principal
from issuer.award_pipeline import AwardPipeline, SignedForBatch
from issuer.errors import IssuerError
from issuer.revocation import StatusReservation

log = logging.getLogger("issuer.signing_pool")


@dataclass(frozen=True)
class SignItem:
    """One award to build and sign: the request as the job stored it, its idempotency
    key, and the status entry reserved for it."""

    principal: Principal
    request: dict[str, Any]
    idempotency_key: str
    reservation: StatusReservation


@dataclass(frozen=True)
class SignFailure:
    """Why one award could not be signed (an IssuerError's code and message; exceptions
    themselves do not always cross a process boundary intact)."""

    code: str
    message: str


SignOutcome = SignedForBatch | SignFailure

_pipeline: AwardPipeline | None = None


def sign_all(pipeline: AwardPipeline, items: Sequence[SignItem]) -> list[SignOutcome]:
    """Prepare and sign each item; one that fails gives its SignFailure and the others go
    on."""
    outcomes: list[SignOutcome] = []
    for item in items:
        try:
            prepared = pipeline.issuance.prepare(item.principal, item.request, item.idempotency_key)
            outcomes.append(pipeline.sign(prepared, item.reservation))
        except IssuerError as error:
            outcomes.append(SignFailure(error.code, error.message))
        except Exception:
            # One award the signer cannot handle must not hold up the rest of its batch.
            log.exception("Award %s could not be signed", item.idempotency_key)
            outcomes.append(
                SignFailure(
                    "signing_failed",
                    "It could not be issued because of an error in the service (see its log).",
                )
            )
    return outcomes


def _start_process(settings: dict[str, Any]) -> None:
    # Imported here: the services module builds everything, and only a signing process
    # needs it from this module.
    from issuer.services import Services

    global _pipeline
    _pipeline = Services.build(settings).award


def _sign_in_process(items: Sequence[SignItem]) -> list[SignOutcome]:
    if _pipeline is None:
        raise RuntimeError("signing process not started")
    return sign_all(_pipeline, items)


class SigningPool:
    """``processes`` signing processes for one job run; ``close`` stops them."""

    def __init__(self, settings: Mapping[str, Any], processes: int):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self.processes = processes
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=_start_process,
            initargs=(dict(settings),),
        )

    def submit(self, items: Sequence[SignItem]) -> Future[list[SignOutcome]]:
        return self._executor.submit(_sign_in_process, list(items))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class InProcessSigner:
    """Signs in the job's own thread: for small jobs, where starting processes costs more
    than it saves."""

    processes = 1

    def __init__(self, pipeline: AwardPipeline):
        self._pipeline = pipeline

    def submit(self, items: Sequence[SignItem]) -> Future[list[SignOutcome]]:
        done: Future[list[SignOutcome]] = Future()
        done.set_result(sign_all(self._pipeline, items))
        return done

    def close(self) -> None:
        pass


Signer = SigningPool | InProcessSigner
