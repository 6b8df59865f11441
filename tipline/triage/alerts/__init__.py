"""Urgent-tip alerts: the outbox, delivery by email and signed webhook, on-call channels, and
the worker that runs them. This module is the package's public face; each part is its own module.
"""

from __future__ import annotations

from tipline.triage.alerts.channels import InvalidChannel, list_channels, set_channels
from tipline.triage.alerts.delivery import (
    AlertSettings,
    Announcement,
    DeliveryError,
    check_webhook_url,
    deliver,
    sign,
    verify,
)
from tipline.triage.alerts.outbox import claim, plan, record_outcome
from tipline.triage.alerts.worker import (
    DispatchReport,
    dispatch_once,
    start_inline_dispatcher,
    stop_inline_dispatcher,
)

__all__ = [
    "AlertSettings",
    "Announcement",
    "DeliveryError",
    "DispatchReport",
    "InvalidChannel",
    "check_webhook_url",
    "claim",
    "deliver",
    "dispatch_once",
    "list_channels",
    "plan",
    "record_outcome",
    "set_channels",
    "sign",
    "start_inline_dispatcher",
    "stop_inline_dispatcher",
    "verify",
]
