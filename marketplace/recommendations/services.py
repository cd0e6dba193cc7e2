"""The calibration job's one write: a snapshot of the odds model's calibration."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from marketplace.actors import SYSTEM
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.parameters.services import get_parameters
from marketplace.recommendations.calibration import calibrate
from marketplace.recommendations.queries import decisions_since, model_settings
from marketplace.recommendations.tables import OddsCalibration

MAX_CALIBRATION_DAYS = 3650


async def calibration_days() -> int:
    raw = (await get_parameters("odds_calibration_days"))["odds_calibration_days"]
    try:
        days = int(raw)
    except (TypeError, ValueError):
        days = 90
    return min(max(days, 1), MAX_CALIBRATION_DAYS)


async def record_calibration(now: datetime) -> int:
    """Compute the calibration over the `odds_calibration_days` before `now` and store
    it as a new snapshot (audited); returns its id. Running it twice writes two rows, the
    newer one shown, so a retried job is harmless."""
    settings = await model_settings()
    days = await calibration_days()
    # The bands of the oldest applications in the window need the decisions of the model's
    # own window before them.
    history = await decisions_since(now - timedelta(days=days) - settings.window)
    rows, unbanded = calibrate(history, now, days, settings)
    used = {
        "window_days": settings.window_days,
        "segment_min": settings.segment_min,
        "product_min": settings.product_min,
        "platform_min": settings.platform_min,
        "high": str(settings.high),
        "medium": str(settings.medium),
        "amount_cuts": [str(cut) for cut in settings.amount_cuts],
    }
    async with transaction():
        inserted = await OddsCalibration.insert(
            OddsCalibration(
                computed_at=now,
                days=days,
                bands=json.dumps([row.as_json() for row in rows]),
                unbanded=unbanded,
                settings=json.dumps(used),
            )
        ).returning(OddsCalibration.id)
        snapshot_id = int(inserted[0]["id"])
        await audit(
            SYSTEM,
            "recommendations.calibrate",
            "odds_calibration",
            snapshot_id,
            applications=sum(row.applications for row in rows) + unbanded,
        )
    return snapshot_id
