"""The executor of the configured profile (SN_LAKE_PROFILE): Dagster's default on one machine,
dagster-celery workers in the distributed profile (docs/scale_out.md)."""

import dagster as dg

from sn_lake import config


def executor() -> dg.ExecutorDefinition | None:
    """``None`` (Dagster's multiprocess default) for ``embedded``; the Celery executor for ``distributed``.

    The broker and result backend come from ``SN_LAKE_CELERY_BROKER`` / ``SN_LAKE_CELERY_BACKEND``;
    workers started with ``sn-lake worker`` listen on the same ones.
    """
    settings = config.load()
    if settings.profile != "distributed":
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured({"broker": settings.celery_broker, "backend": settings.celery_backend})
