"""Statistics helpers on small synthetic tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import stats


def test_spearman_perfect_monotone():
    x = [1, 2, 3, 4, 5, 6]
    c = stats.spearman(x, [v**3 for v in x])
    assert c.rho == pytest.approx(1.0)
    assert c.n == 6
    assert c.p < 0.01


def test_spearman_reversed():
    c = stats.spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10])
    assert c.rho == pytest.approx(-1.0)


def test_spearman_drops_missing_and_needs_three_pairs():
    assert stats.spearman([1, 2, np.nan, 4], [1, 2, 3, 4]).n == 3
    with pytest.raises(ValueError):
        stats.spearman([1, 2], [1, 2])


def test_ols_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 200)
    b = rng.uniform(0, 1, 200)
    rate = np.expm1(0.5 + 2.0 * a - 0.4 * b)  # log(1 + rate) is exactly linear
    fit = stats.ols_log_rate(pd.DataFrame({"rate": rate, "a": a, "b": b}), "rate", ["a", "b"])
    assert fit.coef["const"] == pytest.approx(0.5)
    assert fit.coef["a"] == pytest.approx(2.0)
    assert fit.coef["b"] == pytest.approx(-0.4)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.n == 200


def _table(con_sign: float, imm_sign: float, n: int = 40) -> pd.DataFrame:
    """Synthetic state table whose rate rises (sign +1), falls (-1) or ignores (0) each share."""
    rng = np.random.default_rng(1)
    trump = rng.uniform(0.3, 0.7, n)
    fb = rng.uniform(0.02, 0.25, n)
    noise = rng.normal(0, 0.01, n)
    rate = np.exp(con_sign * 5 * trump + imm_sign * 10 * fb + noise)
    if con_sign == 0 and imm_sign == 0:
        rate = rng.uniform(0, 10, n)
    return pd.DataFrame({"rate": rate, "trump_share": trump, "foreign_born_share": fb})


def _verdict(t: pd.DataFrame) -> str:
    return stats.verdict(stats.spearman(t["rate"], t["trump_share"]), stats.spearman(t["rate"], t["foreign_born_share"]))


def test_verdict_supported_when_both_positive():
    assert _verdict(_table(1, 1)) == "supported"


def test_verdict_not_supported_when_neither():
    v = _verdict(_table(-1, -1))
    assert v.startswith("not supported: ")
    assert stats.CONSERVATIVE in v and stats.IMMIGRANT in v


def test_verdict_partly_names_the_parts():
    v = _verdict(_table(1, -1))
    assert v.startswith("partly supported: ")
    assert v.index(stats.CONSERVATIVE) < v.index(stats.IMMIGRANT)  # conservative is the supported part
    v = _verdict(_table(0, 1))
    assert v.startswith("partly supported: ")
    assert v.index(stats.IMMIGRANT) < v.index(stats.CONSERVATIVE)


def test_verdict_uses_thresholds():
    strong = stats.Correlation(rho=0.5, p=0.001, n=51)
    weak = stats.Correlation(rho=0.5, p=0.2, n=51)
    assert stats.verdict(strong, strong) == "supported"
    assert stats.verdict(strong, weak).startswith("partly supported")
    assert stats.verdict(strong, weak, alpha=0.25) == "supported"
    assert stats.verdict(strong, strong, min_rho=0.6).startswith("not supported")
