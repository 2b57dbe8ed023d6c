"""The record: the audit log's hash chain checked end to end (``meetingd audit verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from meetingd.store import Store
from meetingd.store.audit import ChainChecker, ChainProblem


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """What a check of the whole audit log found."""

    rows: int
    head: int
    problems: tuple[ChainProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_audit(store: Store, batch: int = 1000) -> AuditCheck:
    """Walk the chain in order, in batches (constant memory), in one read transaction: a
    changed row, a deleted one and a reordered pair each show as a problem."""
    checker = ChainChecker()
    async with store.transaction() as uow:
        head = await uow.audit.head()
        async for entry in uow.audit.all_entries(batch):
            checker.feed(entry)
    problems = checker.finish(head)
    return AuditCheck(rows=checker.rows, head=head[0] if head else 0, problems=tuple(problems))
