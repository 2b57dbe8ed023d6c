"""Storage: SQLAlchemy models, repositories returning domain dataclasses, migrations."""

from meetingd.store.uow import EventPublisher, Store, UnitOfWork

__all__ = ["EventPublisher", "Store", "UnitOfWork"]
