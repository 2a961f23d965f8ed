"""Small statistics helpers for the state-level comparison (notebook 03).

* :func:`spearman` — Spearman rank correlation with its p-value.
* :func:`ols_log_rate` — OLS of ``log(1 + rate)`` on one or more predictors.
* :func:`verdict` — the claim's verdict, derived from two correlations by the
  named thresholds below (never typed by hand).

Verdict rule: a part of the article's statement ("conservative-leaning" or
"big immigrant populations") is supported when the per-capita rate has a
*positive association* with that share, i.e. Spearman ``rho > MIN_RHO`` and
``p < ALPHA``. Both parts supported -> ``supported``; one -> ``partly supported: …``;
none -> ``not supported: …``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Significance level for "positive association".
ALPHA = 0.05
#: A positive association needs a rank correlation above this.
MIN_RHO = 0.0
#: Wording of the two parts of the article's statement.
CONSERVATIVE = "conservative-leaning states"
IMMIGRANT = "states with big immigrant populations"


@dataclass(frozen=True)
class Correlation:
    """A Spearman rank correlation: coefficient, two-sided p-value and number of pairs."""

    rho: float
    p: float
    n: int

    @property
    def positive(self) -> bool:
        """True when this is a positive association by the module's thresholds."""
        return positive_association(self)


@dataclass(frozen=True)
class OLSResult:
    """OLS fit: coefficients and p-values by term (``const`` plus predictors), R², n."""

    coef: dict[str, float]
    p: dict[str, float]
    r2: float
    n: int


def spearman(x: pd.Series | np.ndarray | list, y: pd.Series | np.ndarray | list) -> Correlation:
    """Spearman rank correlation of ``x`` and ``y`` (pairs with a missing value are dropped)."""
    from scipy.stats import spearmanr

    frame = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()
    if len(frame) < 3:
        raise ValueError(f"need at least 3 pairs for a rank correlation, got {len(frame)}")
    res = spearmanr(frame["x"], frame["y"])
    return Correlation(rho=float(res.statistic), p=float(res.pvalue), n=len(frame))


def ols_log_rate(table: pd.DataFrame, rate: str, predictors: list[str]) -> OLSResult:
    """OLS of ``log(1 + table[rate])`` on ``predictors`` (with intercept ``const``)."""
    import statsmodels.api as sm

    cols = [rate, *predictors]
    frame = table[cols].astype(float).dropna()
    if (frame[rate] < 0).any():
        raise ValueError(f"{rate} has negative values; log(1 + rate) needs rate >= 0")
    y = np.log1p(frame[rate])
    X = sm.add_constant(frame[predictors], has_constant="add")
    fit = sm.OLS(y, X).fit()
    return OLSResult(
        coef={k: float(v) for k, v in fit.params.items()},
        p={k: float(v) for k, v in fit.pvalues.items()},
        r2=float(fit.rsquared),
        n=int(fit.nobs),
    )


def positive_association(c: Correlation, alpha: float = ALPHA, min_rho: float = MIN_RHO) -> bool:
    """``rho > min_rho`` and ``p < alpha``."""
    return bool(c.rho > min_rho and c.p < alpha)


def verdict(conservative: Correlation, immigrant: Correlation, alpha: float = ALPHA, min_rho: float = MIN_RHO) -> str:
    """``supported``, ``partly supported: …`` or ``not supported: …`` from two correlations.

    ``conservative``: per-capita rate vs Trump two-party share; ``immigrant``: per-capita
    rate vs foreign-born share. The text after the colon names the parts the data
    does and does not support.
    """
    con = positive_association(conservative, alpha, min_rho)
    imm = positive_association(immigrant, alpha, min_rho)
    if con and imm:
        return "supported"
    if con or imm:
        yes, no = (CONSERVATIVE, IMMIGRANT) if con else (IMMIGRANT, CONSERVATIVE)
        return f"partly supported: more popular in {yes}, but not in {no}"
    return f"not supported: not more popular in {CONSERVATIVE} nor in {IMMIGRANT}"


def describe(c: Correlation) -> str:
    """``rho = 0.83, p = 5.6e-14, n = 51`` (for sentences and tables)."""
    return f"rho = {c.rho:.2f}, p = {c.p:.2g}, n = {c.n}"
