"""Statistics helpers: known answers on simulated data, bad inputs, and the verdict rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import stats

# --------------------------------------------------------------------------- rank correlations


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


def test_bootstrap_interval_is_seeded_and_brackets_rho():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = x + rng.normal(scale=1.0, size=60)
    a = stats.bootstrap_spearman(x, y, reps=500, seed=11)
    b = stats.bootstrap_spearman(x, y, reps=500, seed=11)
    c = stats.bootstrap_spearman(x, y, reps=500, seed=12)
    assert (a.low, a.high) == (b.low, b.high)  # same seed, same interval
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low < a.rho < a.high
    assert a.rho == pytest.approx(stats.spearman(x, y).rho)
    assert "[" in stats.describe(a) and "[" not in stats.describe(stats.spearman(x, y))


def test_bootstrap_of_a_perfect_relation_is_degenerate_at_one():
    x = np.arange(30.0)
    c = stats.bootstrap_spearman(x, x**2, reps=200)
    assert c.low == pytest.approx(1.0) and c.high == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x,y,reps,match",
    [
        ([1, 2, 3, 4], [1, 2, 3, 4], 10, "at least 100"),
        ([1, 1, 1, 2], [1, 2, 3, 4], 500, "constant"),  # most resamples of 4 pairs with 3 ties are constant
    ],
)
def test_bootstrap_bad_inputs(x, y, reps, match):
    with pytest.raises(ValueError, match=match):
        stats.bootstrap_spearman(x, y, reps=reps)


@pytest.mark.parametrize(
    "rho,p,words",
    [
        (0.5, 0.01, "rise with"),
        (-0.5, 0.01, "fall with"),
        (0.5, 0.05, "show no clear link to"),
        (-0.9, 0.2, "show no clear link to"),
    ],
)
def test_direction_words_follow_the_rule(rho, p, words):
    assert stats.direction(stats.Correlation(rho, p, 51)) == words


def test_partial_spearman_removes_a_common_cause():
    rng = np.random.default_rng(5)
    z = rng.normal(size=2000)
    x = z + rng.normal(scale=0.5, size=2000)
    y = z + rng.normal(scale=0.5, size=2000)
    assert stats.spearman(x, y).rho > 0.6
    p = stats.partial_spearman(x, y, z)
    assert abs(p.rho) < 0.06 and p.n == 2000 and p.method == "partial Spearman"
    # a direct link survives the control
    y2 = x + rng.normal(scale=0.5, size=2000)
    assert stats.partial_spearman(x, y2, z).rho > 0.4


def test_partial_spearman_equals_residual_correlation_by_hand():
    x = [3, 1, 4, 1.5, 5, 9, 2, 6]
    y = [2, 7, 1, 8, 2.5, 8.5, 1.8, 2.8]
    z = [1, 2, 3, 4, 5, 6, 7, 8]
    from scipy.stats import rankdata

    rx, ry, rz = rankdata(x), rankdata(y), rankdata(z)
    res = lambda v: v - np.polyval(np.polyfit(rz, v, 1), rz)  # noqa: E731
    expected = np.corrcoef(res(rx), res(ry))[0, 1]
    assert stats.partial_spearman(x, y, z).rho == pytest.approx(expected)


@pytest.mark.parametrize(
    "x,y,z,match",
    [
        ([1, 2, 3], [1, 2, 3], [1, 2, 3], "at least 4"),
        ([1, 2, 3, 4, 5], [5, 3, 4, 1, 2], [1, 2, 3, 4, 5], "fully determined"),
    ],
)
def test_partial_spearman_bad_inputs(x, y, z, match):
    with pytest.raises(ValueError, match=match):
        stats.partial_spearman(x, y, z)


# --------------------------------------------------------------------------- count models

TRUE_IRR = {"trump": 2.0, "foreign_born": 0.8, "trump_x_foreign_born": 1.5}
TRUE_ALPHA = 0.5


def _simulated(n: int = 400, seed: int = 1, alpha: float = TRUE_ALPHA) -> pd.DataFrame:
    """States with known rate ratios per 10 points (Trump centred at 50%, foreign born at 10%)."""
    rng = np.random.default_rng(seed)
    trump = rng.uniform(0.30, 0.75, n)
    fb = rng.uniform(0.02, 0.25, n)
    pop = np.exp(rng.normal(15, 1.0, n)).round()
    t, f = (trump - 0.5) / 0.1, (fb - 0.10) / 0.1
    log_rate = (
        np.log(2e-6)
        + np.log(TRUE_IRR["trump"]) * t
        + np.log(TRUE_IRR["foreign_born"]) * f
        + np.log(TRUE_IRR["trump_x_foreign_born"]) * t * f
    )
    mu = pop * np.exp(log_rate)
    # NB2 as a gamma-Poisson mixture: variance mu + alpha * mu^2
    counts = rng.poisson(mu * rng.gamma(1 / alpha, alpha, n))
    return pd.DataFrame(
        {
            "state": [f"S{i:03d}" for i in range(n)],
            "agreements": counts,
            "population": pop,
            "trump_share": trump,
            "foreign_born_share": fb,
            "agreements_per_million": counts / pop * 1e6,
        }
    )


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return _simulated()


def test_negative_binomial_recovers_known_rate_ratios(simulated):
    fit = stats.fit_negative_binomial(simulated, fb_centre=0.10)
    assert fit.n == len(simulated)
    for name, irr in TRUE_IRR.items():
        term = fit.terms[name]
        assert term.low < irr < term.high, (name, term)
        assert term.irr == pytest.approx(irr, rel=0.25)
    assert fit.alpha == pytest.approx(TRUE_ALPHA, rel=0.35)
    table = fit.table()
    assert list(table["term"]) == list(stats.TERMS)
    assert (table["ci_low"] < table["irr"]).all() and (table["irr"] < table["ci_high"]).all()


def test_poisson_check_covers_the_truth_and_flags_overdispersion(simulated):
    fit = stats.fit_poisson_robust(simulated, fb_centre=0.10)
    for name, irr in TRUE_IRR.items():
        assert fit.terms[name].low < irr < fit.terms[name].high, name
    assert fit.pearson_dispersion > 3  # NB data are overdispersed for a Poisson model
    assert fit.model.startswith("Poisson") and stats.ROBUST_COV in fit.model


def test_pure_poisson_data_give_small_alpha():
    df = _simulated(alpha=1e-6, seed=2)
    fit = stats.fit_negative_binomial(df, fb_centre=0.10)
    assert fit.alpha < 0.1
    assert stats.fit_poisson_robust(df, fb_centre=0.10).pearson_dispersion == pytest.approx(1, abs=0.3)


def test_centring_changes_the_main_effects_not_the_interaction(simulated):
    a = stats.fit_negative_binomial(simulated, fb_centre=0.10)
    b = stats.fit_negative_binomial(simulated, fb_centre=0.20)
    assert a.terms["trump_x_foreign_born"].irr == pytest.approx(b.terms["trump_x_foreign_born"].irr, rel=1e-4)
    # the Trump ratio at foreign born 20% is the ratio at 10% times the interaction (one 10-point step)
    assert b.terms["trump"].irr == pytest.approx(a.terms["trump"].irr * a.terms["trump_x_foreign_born"].irr, rel=1e-3)


def test_influence_refits_leave_the_states_out(simulated):
    fits = stats.influence(simulated, {"without two": ["S000", "S001"]}, fb_centre=0.10)
    assert list(fits) == ["all states", "without two"]
    assert fits["without two"].n == len(simulated) - 2
    assert "S000" not in fits["without two"].states
    long = stats.influence_table(fits)
    assert len(long) == 2 * len(stats.TERMS)
    assert set(long["sample"]) == {"all states", "without two"}


def _good(n: int = 12) -> pd.DataFrame:
    return _simulated(n=n, seed=4).assign(agreements=lambda d: d["agreements"] + 1)


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda d: d.assign(population=d["population"].where(d.index != 3, 0)), r"population must be positive.*S003"),
        (lambda d: d.assign(population=d["population"].where(d.index != 2, -5)), r"population must be positive.*S002"),
        (lambda d: d.assign(trump_share=d["trump_share"].where(d.index != 5)), r"trump_share is missing.*S005"),
        (
            lambda d: d.assign(foreign_born_share=d["foreign_born_share"].where(d.index != 1)),
            r"foreign_born_share is missing.*S001",
        ),
        (
            lambda d: d.assign(foreign_born_share=d["foreign_born_share"].where(d.index != 0, 12.5)),
            r"between 0 and 1.*S000",
        ),
        (lambda d: d.head(1), r"at least 10 states.*S000"),
        (lambda d: d.assign(agreements=0), "every state has 0 agreements"),
        (lambda d: d.assign(agreements=d["agreements"].where(d.index != 4, -1)), r"whole numbers >= 0.*S004"),
        (lambda d: d.assign(agreements=d["agreements"].astype(float).where(d.index != 6, 2.5)), r"whole numbers.*S006"),
        (lambda d: d.drop(columns=["population"]), r"lacks column\(s\) \['population'\]"),
    ],
    ids=[
        "zero population",
        "negative population",
        "missing Trump share",
        "missing foreign-born share",
        "share as a percentage",
        "a single state",
        "all-zero counts",
        "negative count",
        "fractional count",
        "no population column",
    ],
)
@pytest.mark.parametrize("fit", [stats.fit_negative_binomial, stats.fit_poisson_robust], ids=["nb", "poisson"])
def test_bad_inputs_raise_naming_the_state(change, match, fit):
    with pytest.raises(stats.ModelInputError, match=match):
        fit(change(_good()), fb_centre=0.10)


def test_leave_out_unknown_state_is_an_error(simulated):
    with pytest.raises(stats.ModelInputError, match="not in the table"):
        stats.influence(simulated, {"oops": ["NOWHERE"]}, fb_centre=0.10)


# --------------------------------------------------------------------------- 2 x 2 table

GRID = pd.DataFrame(
    {
        "state": ["A", "B", "C", "D", "E", "F"],
        "agreements": [10, 0, 30, 2, 4, 0],
        "population": [1e6, 1e6, 2e6, 4e6, 1e6, 1e6],
        "trump_share": [0.6, 0.6, 0.7, 0.55, 0.4, 0.3],
        "foreign_born_share": [0.05, 0.06, 0.20, 0.15, 0.05, 0.20],
    }
).assign(agreements_per_million=lambda d: d["agreements"] / d["population"] * 1e6)


def test_two_by_two_gives_median_and_pooled_rates():
    grid = stats.two_by_two(GRID, fb_centre=0.10, without=["C"], without_label="without C")
    cell = grid.set_index(["sample", "lean", "immigrants"])
    more = cell.loc[("all states", "Trump > 50%", "more foreign born")]
    assert more["states"] == 2 and more["count"] == 32
    assert more["median_per_million"] == pytest.approx((15 + 0.5) / 2)
    assert more["pooled_per_million"] == pytest.approx(32 / 6)
    fewer = cell.loc[("all states", "Trump > 50%", "fewer foreign born")]
    assert fewer["median_per_million"] == pytest.approx(5) and fewer["pooled_per_million"] == pytest.approx(5)
    assert cell.loc[("without C", "Trump > 50%", "more foreign born"), "pooled_per_million"] == pytest.approx(0.5)
    leaders = stats.cell_leaders(grid, "Trump > 50%").set_index(["sample", "summary"])["leader"]
    assert leaders[("all states", "median")] == "more foreign born"
    assert leaders[("all states", "pooled")] == "more foreign born"
    assert leaders[("without C", "pooled")] == "fewer foreign born"


# --------------------------------------------------------------------------- the verdict rule


def _fit(trump: tuple[float, float], inter: tuple[float, float], n: int = 51) -> stats.CountFit:
    """A fit whose Trump and interaction ratios have the given intervals."""

    def term(name, ci):
        return stats.Term(name, (ci[0] * ci[1]) ** 0.5, ci[0], ci[1], 0.01 if ci[0] > 1 else 0.5)

    terms = {
        "trump": term("trump", trump),
        "foreign_born": term("foreign_born", (0.5, 1.5)),
        "trump_x_foreign_born": term("trump_x_foreign_born", inter),
    }
    return stats.CountFit("test", terms, n, (), 0.1)


YES, NO = (1.3, 3.5), (0.8, 2.7)
WITHOUT = "without Florida and Texas"


@pytest.mark.parametrize(
    "fits,verdict,conservative,immigrant",
    [
        # the article's date: Trump robust; interaction only with Florida and Texas
        (
            {"all states": _fit(YES, YES), "without DC": _fit(YES, YES), WITHOUT: _fit(YES, NO)},
            "partly supported",
            "robust",
            "only through Florida and Texas",
        ),
        ({"all states": _fit(YES, YES), WITHOUT: _fit(YES, YES)}, "reproduced", "robust", "pattern"),
        ({"all states": _fit(YES, NO), WITHOUT: _fit(YES, NO)}, "partly supported", "robust", "no"),
        ({"all states": _fit(NO, NO), WITHOUT: _fit(NO, NO)}, "differs", "no", "no"),
        ({"all states": _fit(NO, YES), WITHOUT: _fit(NO, YES)}, "partly supported", "no", "pattern"),
        (
            {"all states": _fit(YES, YES), "without DC": _fit(NO, YES), WITHOUT: _fit(YES, YES)},
            "reproduced",
            "full fit only",
            "pattern",
        ),
        ({"all states": _fit(NO, NO), WITHOUT: _fit(NO, YES)}, "differs", "no", "only without Florida and Texas"),
        (
            {"all states": _fit(YES, NO), WITHOUT: _fit(YES, YES)},
            "partly supported",
            "robust",
            "only without Florida and Texas",
        ),
    ],
)
def test_verdict_rule(fits, verdict, conservative, immigrant):
    v = stats.conjunction_verdict(fits, WITHOUT, "Florida and Texas")
    assert (v.verdict, v.conservative, v.immigrant) == (verdict, conservative, immigrant)
    assert v.sentence.startswith(f"{verdict}: ")


def test_verdict_wording_on_the_article_pattern():
    fits = {"all states": _fit(YES, YES), WITHOUT: _fit(YES, NO)}
    v = stats.conjunction_verdict(fits, WITHOUT, "Florida and Texas")
    assert v.wording == (
        "strongly tied to Trump's share; the immigrant-population part holds only through Florida and Texas, "
        "not as a pattern among the other states"
    )


def test_verdict_needs_both_fits():
    with pytest.raises(ValueError, match="needs the fits"):
        stats.conjunction_verdict({"all states": _fit(YES, YES)}, WITHOUT, "Florida and Texas")


def test_rule_text_prints_values_not_names():
    text = stats.rule_text(WITHOUT)
    assert "95%" in text and "10 percentage points" in text and "50%" in text and WITHOUT in text
    assert "ALPHA" not in text and "stats." not in text
    for word in (stats.REPRODUCED, stats.PARTLY, stats.DIFFERS):
        assert word in text


def test_fit_on_real_shape_states_the_interval_the_verdict_reads(simulated):
    fits = stats.influence(simulated, {WITHOUT: ["S000", "S001"]}, fb_centre=0.10)
    v = stats.conjunction_verdict(fits, WITHOUT, "S000 and S001")
    # the simulated truth has every part (Trump 2.0, interaction 1.5) in a large sample: reproduced
    assert v.verdict == "reproduced" and v.immigrant == "pattern"
