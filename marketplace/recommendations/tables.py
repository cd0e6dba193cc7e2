from piccolo.columns import JSONB, Integer, Serial, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OddsCalibration(Table, tablename="odds_calibration"):
    """One run of the calibration job: per band (高/中/低) the predicted and the actual
    approval rate over the applications of the last `days` days, with counts. The page
    reads the newest row; older rows keep the history of the model's calibration."""

    id: Serial  # created by Piccolo; declared for type checkers
    computed_at = Timestamptz(default=TimestamptzNow())
    days = Integer()
    # [{band, applications, approved, predicted_rate, actual_rate}], rates as decimal text
    bands = JSONB(default="[]")
    # Decided applications that had no band when submitted (too few decisions then).
    unbanded = Integer(default=0)
    # The model's settings the run used (window, minimum counts, cut-offs).
    settings = JSONB(default="{}")
