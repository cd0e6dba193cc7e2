from __future__ import annotations

from datetime import UTC, datetime

from marketplace.recommendations.services import record_calibration


async def calibrate() -> int:
    """Cron: a new calibration snapshot; returns its id."""
    return await record_calibration(datetime.now(UTC))
