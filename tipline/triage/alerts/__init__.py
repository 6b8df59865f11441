"""Urgent-tip alerts: the outbox, delivery by email and signed webhook, on-call channels, and
the worker that runs them. This module is the package's public face; each part is its own module.
"""

from __future__ import annotations

from tipline.triage.alerts.channels import (
    ChannelChange,
    InvalidChannel,
    add_channels,
    list_channels,
    remove_channels,
    set_channels,
)
from tipline.triage.alerts.delivery import (
    AlertSettings,
    Announcement,
    DeliveryError,
    check_settings,
    check_webhook_url,
    deliver,
    sign,
    verify,
)
from tipline.triage.alerts.outbox import claim, plan, record_outcome, silence
from tipline.triage.alerts.worker import DispatchReport, dispatch_once, worker_jobs

__all__ = [
    "AlertSettings",
    "Announcement",
    "ChannelChange",
    "DeliveryError",
    "DispatchReport",
    "InvalidChannel",
    "add_channels",
    "check_settings",
    "check_webhook_url",
    "claim",
    "deliver",
    "dispatch_once",
    "list_channels",
    "plan",
    "record_outcome",
    "remove_channels",
    "set_channels",
    "sign",
    "silence",
    "verify",
    "worker_jobs",
]
