"""How long does a 36-month quote take?

Times `marketplace.loancalc.quote` for a 36-month 等额本息 loan with an upfront and a
per-period fee (schedule + totals + IRR APR), as the median of many single calls, and
reports it as a ratio against baselines measured in the same run on the same machine:

* ``numpy_financial.irr`` on the very same cash flows (an IRR alone, polynomial roots);
* the bare schedule computation (Decimal principal/interest rows, no fees, no IRR);
* ``periodic_irr`` alone (the engine's safeguarded-Newton IRR on the same cash flows).

Ratios travel between machines better than microseconds. Prints a table and appends one
row to its section of bench/RESULTS.md.

    .venv/bin/python bench/bench_quote.py [--runs 3000] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal, localcontext

import numpy as np
import numpy_financial as npf
from _results import RESULTS, append_rows, now, python_version

from marketplace import loancalc
from marketplace.loancalc import Fee, RepaymentMethod, periodic_irr, quote

HEADING = "## Loan quote (`bench/bench_quote.py`)"
SECTION = f"""{HEADING}

Times are medians of single calls; ratios are against baselines measured in the same run
(machine-independent-ish). Baselines: `numpy_financial.irr` on the same 36 cash flows, and
the bare Decimal schedule (no fees/IRR).

| when (Asia/Shanghai) | python | machine | runs | quote 36m (µs) | npf.irr (µs) | quote ÷ npf.irr | schedule only (µs) | quote ÷ schedule | periodic_irr (µs) |
|---|---|---|---|---|---|---|---|---|---|
"""

PRINCIPAL = Decimal("100000")
TERM = 36
RATE = Decimal("0.12")
FEES = (
    Fee("arrangement", "upfront", amount=Decimal("500")),
    Fee("guarantee", "per_period", rate=Decimal("0.001")),
)
START = date(2024, 1, 31)


def median_us(fn: Callable[[], object], runs: int, warmup: int = 50) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            fn()
            samples.append(time.perf_counter_ns() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(samples) / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()

    def run_quote() -> loancalc.Quote:
        return quote(PRINCIPAL, TERM, RepaymentMethod.EQUAL_INSTALLMENT, RATE, "year", FEES, START)

    q = run_quote()
    flows = [-float(q.principal - q.upfront_fees)] + [float(i.payment) for i in q.schedule]
    flows_np = np.array(flows)
    net, payments = -flows[0], flows[1:]
    monthly = RATE / 12

    def run_schedule() -> object:
        with localcontext() as ctx:
            ctx.prec = 34
            return loancalc._principal_and_interest(
                PRINCIPAL, TERM, RepaymentMethod.EQUAL_INSTALLMENT, monthly
            )

    # Sanity: the engine and numpy_financial agree on this loan.
    reference = 12 * float(npf.irr(flows_np))
    assert abs(float(q.apr) - reference) < 1e-9, (q.apr, reference)

    t_quote = median_us(run_quote, args.runs)
    t_npf = median_us(lambda: npf.irr(flows_np), args.runs)
    t_sched = median_us(run_schedule, args.runs)
    t_irr = median_us(lambda: periodic_irr(net, payments), args.runs)

    rows = [
        ("quote(): 36-month 等额本息 + 2 fees", t_quote, 1.0),
        ("baseline numpy_financial.irr (same flows)", t_npf, t_quote / t_npf),
        ("baseline schedule only (Decimal rows)", t_sched, t_quote / t_sched),
        ("periodic_irr alone (same flows)", t_irr, t_quote / t_irr),
    ]
    print(f"36-month quote: APR {q.apr} (npf.irr × 12 = {reference:.10f}), runs={args.runs}")
    print(f"{'measurement':<44} {'median µs':>10} {'quote ÷ this':>13}")
    for name, us, ratio in rows:
        print(f"{name:<44} {us:>10.1f} {ratio:>13.2f}")

    if not args.no_write:
        line = (
            f"| {now()} | {python_version()} | {platform.machine()} | {args.runs} "
            f"| {t_quote:.1f} | {t_npf:.1f} | {t_quote / t_npf:.2f} | {t_sched:.1f} "
            f"| {t_quote / t_sched:.2f} | {t_irr:.1f} |"
        )
        append_rows(HEADING, SECTION, [line])
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
