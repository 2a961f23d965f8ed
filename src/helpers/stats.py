"""Statistics for the state-level comparison (notebook 03): count models, intervals, the verdict rule.

The article says 287(g) agreements are "much more popular in conservative-leaning
states **with** big immigrant populations": a conjunction.  It is tested here with
a count model, not with a regression on a transformed rate:

* :func:`fit_negative_binomial` -- the main model.  Agreements per state follow a
  negative binomial (NB2: variance ``mu + alpha * mu**2``) with ``log(population)``
  as offset, so the coefficients are rate ratios.  Terms: Trump's two-party share
  centred at :data:`TRUMP_CENTRE` (50%), the foreign-born share centred at a stated
  value (the notebook passes the median of the 50 states and DC), both per
  :data:`PER` (10 percentage points), and their interaction.  The dispersion
  ``alpha`` is estimated *jointly* with the coefficients by maximum likelihood
  (``statsmodels.discrete.discrete_model.NegativeBinomial``) and the model is
  reported directly: Wald intervals from the observed information, which accounts
  for ``alpha`` being estimated.
* :func:`fit_poisson_robust` -- the check: a Poisson GLM with the same terms and
  heteroskedasticity-robust (:data:`ROBUST_COV`) standard errors.
* :func:`influence` -- the same model refitted leaving states out.
* :func:`spearman`, :func:`bootstrap_spearman`, :func:`partial_spearman` -- rank
  correlations, seeded bootstrap percentile intervals, and the partial rank
  correlation controlling for a third variable.
* :func:`two_by_two` and :func:`cell_leaders` -- the 2 x 2 table of lean and
  immigrant population with both the median state rate and the pooled rate.
* :func:`conjunction_verdict` -- the verdict rule (:func:`rule_text` states it with
  its values).

Every function that fits checks its inputs (:func:`check_model_table`): a state with
zero or missing population, a missing share, a non-integer or negative count, fewer
than :data:`MIN_STATES` states, or no agreement at all raise :class:`ModelInputError`
naming the states concerned; an optimiser that does not converge raises too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Significance level: intervals are ``1 - ALPHA`` (95%) and "p < ALPHA" is significant.
ALPHA = 0.05
#: Shares are fractions (0-1); rate ratios are per this change in a share (10 percentage points).
PER = 0.10
#: Trump's two-party share is centred here (50%), so the other terms are effects in an even state.
TRUMP_CENTRE = 0.5
#: Fewest states a model is fitted to: about twice its 5 parameters (4 coefficients and alpha).
MIN_STATES = 10
#: Robust covariance of the Poisson check (White's, with the n / (n - k) small-sample factor).
ROBUST_COV = "HC1"
#: Bootstrap resamples and seed for the rank-correlation intervals.
BOOTSTRAP_REPS = 2000
SEED = 287
#: Model terms and what their rate ratio means.
TERMS = {
    "trump": "Trump share, per 10 points (at the centre of the foreign-born share)",
    "foreign_born": "foreign-born share, per 10 points (at a 50% Trump share)",
    "trump_x_foreign_born": "interaction: change in the Trump-share ratio per 10 more points foreign born",
}
#: Words for the verdicts this module gives (the claims report's verdict values).
REPRODUCED, PARTLY, DIFFERS = "reproduced", "partly supported", "differs"


class ModelInputError(ValueError):
    """A table that cannot be fitted: it names the states and the column concerned."""


# --------------------------------------------------------------------------- rank correlations


@dataclass(frozen=True)
class Correlation:
    """A rank correlation: coefficient, two-sided p-value, number of pairs and (optional) interval."""

    rho: float
    p: float
    n: int
    low: float = float("nan")
    high: float = float("nan")
    method: str = "Spearman"


def spearman(x: pd.Series | np.ndarray | list, y: pd.Series | np.ndarray | list) -> Correlation:
    """Spearman rank correlation of ``x`` and ``y`` (pairs with a missing value are dropped)."""
    from scipy.stats import spearmanr

    frame = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()
    if len(frame) < 3:
        raise ValueError(f"need at least 3 pairs for a rank correlation, got {len(frame)}")
    res = spearmanr(frame["x"], frame["y"])
    return Correlation(rho=float(res.statistic), p=float(res.pvalue), n=len(frame))


def bootstrap_spearman(
    x: pd.Series | np.ndarray | list,
    y: pd.Series | np.ndarray | list,
    reps: int = BOOTSTRAP_REPS,
    seed: int = SEED,
    alpha: float = ALPHA,
) -> Correlation:
    """Spearman's rho with a seeded bootstrap percentile interval (states resampled with replacement).

    Resamples in which either variable is constant (rho undefined) are left out of
    the percentiles; raises if more than 1% of them are.
    """
    from scipy.stats import rankdata

    point = spearman(x, y)
    frame = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()
    if reps < 100:
        raise ValueError(f"reps must be at least 100 for a percentile interval, got {reps}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(frame), size=(reps, len(frame)))
    rx = rankdata(frame["x"].to_numpy()[idx], axis=1)
    ry = rankdata(frame["y"].to_numpy()[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rhos = (rx * ry).sum(axis=1) / denom
    valid = rhos[np.isfinite(rhos)]
    if len(valid) < 0.99 * reps:
        raise ValueError(
            f"{reps - len(valid)} of {reps} bootstrap resamples have a constant variable; too few pairs vary"
        )
    low, high = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    return Correlation(point.rho, point.p, point.n, float(low), float(high))


def partial_spearman(
    x: pd.Series | np.ndarray | list, y: pd.Series | np.ndarray | list, control: pd.Series | np.ndarray | list
) -> Correlation:
    """Partial Spearman correlation of ``x`` and ``y`` controlling for ``control``.

    The three variables are ranked; the ranks of ``x`` and ``y`` are each regressed
    on the ranks of ``control``; the result is the Pearson correlation of the two
    residuals, with a two-sided p-value from Student's t on ``n - 3`` degrees of freedom.
    """
    from scipy.stats import rankdata
    from scipy.stats import t as student_t

    frame = pd.DataFrame(
        {"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float), "z": np.asarray(control, dtype=float)}
    ).dropna()
    n = len(frame)
    if n < 4:
        raise ValueError(f"need at least 4 complete rows for a partial rank correlation, got {n}")
    ranks = frame.apply(rankdata)
    design = np.column_stack([np.ones(n), ranks["z"]])

    def residual(v: pd.Series) -> np.ndarray:
        beta, *_ = np.linalg.lstsq(design, v.to_numpy(), rcond=None)
        return v.to_numpy() - design @ beta

    rx, ry = residual(ranks["x"]), residual(ranks["y"])
    if np.allclose(rx, 0) or np.allclose(ry, 0):
        raise ValueError("a variable is fully determined by the control: the partial correlation is undefined")
    rho = float(np.corrcoef(rx, ry)[0, 1])
    tstat = rho * np.sqrt((n - 3) / max(1e-300, 1 - rho**2))
    p = float(2 * student_t.sf(abs(tstat), n - 3))
    return Correlation(rho, p, n, method="partial Spearman")


def direction(c: Correlation, alpha: float = ALPHA) -> str:
    """Words for a correlation: ``rise with`` / ``fall with`` when ``p < alpha``, else ``show no clear link to``."""
    if not c.p < alpha:
        return "show no clear link to"
    return "rise with" if c.rho > 0 else "fall with"


def describe(c: Correlation) -> str:
    """``rho = 0.83 [0.70, 0.90], p = 5.6e-14, n = 51`` (the interval only when there is one)."""
    ci = "" if np.isnan(c.low) else f" [{c.low:.2f}, {c.high:.2f}]"
    return f"rho = {c.rho:.2f}{ci}, p = {c.p:.2g}, n = {c.n}"


# --------------------------------------------------------------------------- count models


@dataclass(frozen=True)
class Term:
    """One model term as a rate ratio (IRR) with its ``1 - ALPHA`` interval and p-value."""

    name: str
    irr: float
    low: float
    high: float
    p: float

    @property
    def above_one(self) -> bool:
        """True when the whole interval lies above 1 (the rate rises with this term)."""
        return bool(self.low > 1)

    def describe(self) -> str:
        """``2.13 [1.29, 3.50], p = 0.003``."""
        return f"{self.irr:.2f} [{self.low:.2f}, {self.high:.2f}], p = {self.p:.2g}"


@dataclass(frozen=True)
class CountFit:
    """A fitted rate model: its terms as rate ratios, the sample, the dispersion, the centring."""

    model: str
    terms: dict[str, Term]
    n: int
    states: tuple[str, ...]
    fb_centre: float
    alpha: float | None = None
    pearson_dispersion: float = float("nan")
    notes: tuple[str, ...] = field(default=(), compare=False)

    def table(self) -> pd.DataFrame:
        """One row per term: term, meaning, irr, ci_low, ci_high, p, n."""
        return pd.DataFrame(
            [
                {
                    "term": t.name,
                    "meaning": TERMS[t.name],
                    "irr": t.irr,
                    "ci_low": t.low,
                    "ci_high": t.high,
                    "p": t.p,
                    "n": self.n,
                }
                for t in self.terms.values()
            ]
        )


def check_model_table(
    table: pd.DataFrame,
    count: str = "agreements",
    exposure: str = "population",
    shares: Sequence[str] = ("trump_share", "foreign_born_share"),
    min_states: int = MIN_STATES,
) -> pd.DataFrame:
    """The rows to fit, checked; raises :class:`ModelInputError` naming what is wrong and where.

    Checks: the columns exist; at least ``min_states`` rows; counts are whole numbers
    >= 0 and not all zero; exposure is a positive number; shares are numbers in [0, 1].
    Nothing is dropped silently: a bad row is an error, not a smaller sample.
    """
    label = (
        table["state"].astype(str)
        if "state" in table.columns
        else pd.Series(table.index.astype(str), index=table.index)
    )
    missing = [c for c in (count, exposure, *shares) if c not in table.columns]
    if missing:
        raise ModelInputError(f"model table lacks column(s) {missing}; it has {list(table.columns)}")
    if len(table) < min_states:
        raise ModelInputError(
            f"a rate model needs at least {min_states} states (about twice its parameters); got {len(table)}: "
            f"{', '.join(label)}"
        )

    def where(mask: pd.Series) -> str:
        names = list(label[mask])
        return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")

    for col in (count, exposure, *shares):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            raise ModelInputError(
                f"{col} is missing or not a number for {where(bad)}; fix the input table (no row is dropped)"
            )
    counts = table[count].astype(float)
    bad = (counts < 0) | (counts != np.round(counts))
    if bad.any():
        raise ModelInputError(f"{count} must be whole numbers >= 0; not so for {where(bad)}")
    if (counts == 0).all():
        raise ModelInputError(f"every state has 0 {count}: there is no rate to model")
    pop = table[exposure].astype(float)
    bad = ~(pop > 0) | ~np.isfinite(pop)
    if bad.any():
        raise ModelInputError(f"{exposure} must be positive (it is the log offset); not so for {where(bad)}")
    for col in shares:
        v = table[col].astype(float)
        bad = (v < 0) | (v > 1)
        if bad.any():
            raise ModelInputError(f"{col} must be a fraction between 0 and 1; not so for {where(bad)}")
    return table


def design(
    table: pd.DataFrame, fb_centre: float, trump: str = "trump_share", fb: str = "foreign_born_share"
) -> pd.DataFrame:
    """Model matrix: ``const``, centred shares per :data:`PER` and their product."""
    t = (table[trump].astype(float) - TRUMP_CENTRE) / PER
    f = (table[fb].astype(float) - fb_centre) / PER
    return pd.DataFrame({"const": 1.0, "trump": t, "foreign_born": f, "trump_x_foreign_born": t * f}, index=table.index)


def _terms(params: pd.Series, ci: pd.DataFrame, pvalues: pd.Series) -> dict[str, Term]:
    low, high = ci[0].astype(float), ci[1].astype(float)
    return {
        name: Term(
            name, float(np.exp(params[name])), float(np.exp(low[name])), float(np.exp(high[name])), float(pvalues[name])
        )
        for name in TERMS
    }


def _states(table: pd.DataFrame) -> tuple[str, ...]:
    return tuple(table["state"].astype(str)) if "state" in table.columns else tuple(str(i) for i in table.index)


def fit_negative_binomial(
    table: pd.DataFrame, fb_centre: float, count: str = "agreements", exposure: str = "population"
) -> CountFit:
    """Negative binomial (NB2) rate model with a log-population offset; ``alpha`` by joint ML.

    ``fb_centre`` is where the foreign-born share is centred (pass the same value to
    every refit so the terms keep their meaning).  Raises :class:`ModelInputError`
    for a bad table and when the optimiser does not converge.
    """
    from statsmodels.discrete.discrete_model import NegativeBinomial

    check_model_table(table, count, exposure)
    X = design(table, fb_centre)
    y = table[count].astype(float)
    offset = np.log(table[exposure].astype(float))
    model = NegativeBinomial(y, X, loglike_method="nb2", offset=offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, not left to a warning
        # BFGS finds the optimum from statsmodels' Poisson start; Newton then polishes it
        # (Newton alone can step out of the likelihood's domain from that start).
        start = model.fit(method="bfgs", maxiter=2000, disp=0)
        res = model.fit(start_params=start.params, method="newton", maxiter=100, disp=0)
    alpha = float(res.params["alpha"])
    converged = start.mle_retvals.get("converged", False) and res.mle_retvals.get("converged", False)
    if not converged or not np.all(np.isfinite(res.params)) or not np.all(np.isfinite(res.bse)):
        raise ModelInputError(
            f"the negative binomial fit did not converge on these {len(table)} states "
            "(too few non-zero counts or a separated design?)"
        )
    ci = res.conf_int(alpha=ALPHA)
    mu = res.predict(X, offset=offset)
    pearson = float((((y - mu) ** 2) / (mu + alpha * mu**2)).sum() / (len(y) - X.shape[1] - 1))
    return CountFit(
        model="negative binomial (NB2), alpha by maximum likelihood",
        terms=_terms(res.params, ci, res.pvalues),
        n=len(table),
        states=_states(table),
        fb_centre=float(fb_centre),
        alpha=alpha,
        pearson_dispersion=pearson,
    )


def fit_poisson_robust(
    table: pd.DataFrame, fb_centre: float, count: str = "agreements", exposure: str = "population"
) -> CountFit:
    """Poisson GLM with the same terms and offset, robust (:data:`ROBUST_COV`) standard errors.

    ``pearson_dispersion`` is the Pearson chi-squared over residual degrees of freedom of
    this Poisson fit: far above 1 means the counts are overdispersed for a Poisson model.
    """
    from statsmodels.genmod.families import Poisson  # not statsmodels.api: it imports every model (about 1 s)
    from statsmodels.genmod.generalized_linear_model import GLM

    check_model_table(table, count, exposure)
    X = design(table, fb_centre)
    y = table[count].astype(float)
    offset = np.log(table[exposure].astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = GLM(y, X, family=Poisson(), offset=offset).fit(cov_type=ROBUST_COV)
    if not res.converged or not np.all(np.isfinite(res.bse)):
        raise ModelInputError(f"the Poisson fit did not converge on these {len(table)} states")
    return CountFit(
        model=f"Poisson, {ROBUST_COV} robust standard errors",
        terms=_terms(res.params, res.conf_int(alpha=ALPHA), res.pvalues),
        n=len(table),
        states=_states(table),
        fb_centre=float(fb_centre),
        pearson_dispersion=float(res.pearson_chi2 / res.df_resid),
    )


def leave_out(table: pd.DataFrame, states: Sequence[str]) -> pd.DataFrame:
    """``table`` without ``states`` (column ``state``); raises if a name is not in the table."""
    unknown = sorted(set(states) - set(table["state"]))
    if unknown:
        raise ModelInputError(f"cannot leave out {unknown}: not in the table")
    return table[~table["state"].isin(states)]


def influence(
    table: pd.DataFrame,
    refits: Mapping[str, Sequence[str]],
    fb_centre: float,
    fit: Callable[..., CountFit] = fit_negative_binomial,
    count: str = "agreements",
) -> dict[str, CountFit]:
    """The model on every state (``"all states"``) and refitted without each set of ``refits``.

    ``refits`` maps a label (``"without Florida and Texas"``) to the states left out.
    The foreign-born centre stays ``fb_centre`` in every refit, so the terms keep their meaning.
    """
    out = {"all states": fit(table, fb_centre, count=count)}
    for label, states in refits.items():
        out[label] = fit(leave_out(table, states), fb_centre, count=count)
    return out


def influence_table(fits: Mapping[str, CountFit]) -> pd.DataFrame:
    """Long table of every fit's terms: sample, n, term, irr, ci_low, ci_high, p, alpha."""
    rows = []
    for label, f in fits.items():
        for t in f.terms.values():
            rows.append(
                {
                    "sample": label,
                    "n": f.n,
                    "term": t.name,
                    "irr": t.irr,
                    "ci_low": t.low,
                    "ci_high": t.high,
                    "p": t.p,
                    "alpha": f.alpha,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- 2 x 2 table


def two_by_two(
    table: pd.DataFrame,
    fb_centre: float,
    rate: str = "agreements_per_million",
    count: str = "agreements",
    exposure: str = "population",
    without: Sequence[str] = (),
    without_label: str = "",
) -> pd.DataFrame:
    """States split at a 50% Trump share and at ``fb_centre``; per cell, the median state rate and the pooled rate.

    ``pooled_per_million`` = the cell's agreements per million of the cell's residents.
    With ``without``, every summary is given again without those states (sample label
    ``without_label``).  Columns: sample, lean, immigrants, states, count, population,
    median_per_million, pooled_per_million.
    """
    check_model_table(table, count, exposure, min_states=1)
    samples = [("all states", table)]
    if without:
        samples.append((without_label or "without " + ", ".join(without), leave_out(table, without)))
    rows = []
    for label, part in samples:
        lean = np.where(
            part["trump_share"] > TRUMP_CENTRE, f"Trump > {TRUMP_CENTRE:.0%}", f"Trump ≤ {TRUMP_CENTRE:.0%}"
        )
        imm = np.where(part["foreign_born_share"] > fb_centre, "more foreign born", "fewer foreign born")
        grouped = part.assign(lean=lean, immigrants=imm).groupby(["lean", "immigrants"], sort=True)
        for (le, im), cell in grouped:
            rows.append(
                {
                    "sample": label,
                    "lean": le,
                    "immigrants": im,
                    "states": len(cell),
                    "count": int(cell[count].sum()),
                    "population": int(cell[exposure].sum()),
                    "median_per_million": float(cell[rate].median()),
                    "pooled_per_million": float(cell[count].sum() / cell[exposure].sum() * 1e6),
                }
            )
    return pd.DataFrame(rows)


def cell_leaders(grid: pd.DataFrame, lean: str) -> pd.DataFrame:
    """Within one ``lean`` row of :func:`two_by_two`: which immigrant cell has the higher rate, per summary.

    One row per (sample, summary): sample, summary (``median`` or ``pooled``),
    more (rate of the more-foreign-born cell), fewer, leader (``more foreign born``,
    ``fewer foreign born`` or ``tie``).
    """
    rows = []
    for sample, part in grid[grid["lean"] == lean].groupby("sample", sort=False):
        cells = part.set_index("immigrants")
        if not {"more foreign born", "fewer foreign born"} <= set(cells.index):
            continue
        for summary in ("median", "pooled"):
            per_million = cells[f"{summary}_per_million"].astype(float)
            more, fewer = float(per_million["more foreign born"]), float(per_million["fewer foreign born"])
            leader = (
                "tie" if np.isclose(more, fewer) else ("more foreign born" if more > fewer else "fewer foreign born")
            )
            rows.append({"sample": sample, "summary": summary, "more": more, "fewer": fewer, "leader": leader})
    return pd.DataFrame(rows, columns=["sample", "summary", "more", "fewer", "leader"])


# --------------------------------------------------------------------------- the verdict rule


@dataclass(frozen=True)
class Verdict:
    """The verdict on the conjunction and the words that explain it."""

    verdict: str
    wording: str
    conservative: str  # "robust", "full fit only" or "no"
    immigrant: str  # "pattern", "only through <states>", "only without <states>" or "no"

    @property
    def sentence(self) -> str:
        """``partly supported: strongly tied to Trump's share; ...``."""
        return f"{self.verdict}: {self.wording}"


def rule_text(without_label: str, alpha: float = ALPHA) -> str:
    """The verdict rule in words, with its values (for the notebook and the evidence)."""
    level = f"{1 - alpha:.0%}"
    return (
        f"A term holds in a fit when its rate ratio's {level} confidence interval lies entirely above 1. "
        f"Conservative-leaning: the Trump-share ratio (per {PER * 100:.0f} percentage points, Trump centred at "
        f"{TRUMP_CENTRE:.0%}) holds in the fit on every state ('strongly tied' when it also holds in every "
        "leave-out refit). With big immigrant populations (the conjunction): the Trump x foreign-born "
        f"interaction ratio holds in the fit on every state and in the refit {without_label} (a pattern), "
        "not only in one of them. "
        f"Both parts hold: {REPRODUCED}; neither term holds in the fit on every state: {DIFFERS}; "
        f"anything in between: {PARTLY}."
    )


def conjunction_verdict(fits: Mapping[str, CountFit], without_label: str, without_names: str) -> Verdict:
    """The verdict on "more popular in conservative-leaning states with big immigrant populations".

    ``fits`` come from :func:`influence` (must hold ``"all states"`` and ``without_label``);
    ``without_names`` names the left-out states for the wording ("Florida and Texas").
    The rule is :func:`rule_text`.
    """
    if "all states" not in fits or without_label not in fits:
        raise ValueError(f"conjunction_verdict needs the fits 'all states' and {without_label!r}; got {list(fits)}")
    full, rest = fits["all states"], fits[without_label]
    con_full = full.terms["trump"].above_one
    con_all = all(f.terms["trump"].above_one for f in fits.values())
    imm_full = full.terms["trump_x_foreign_born"].above_one
    imm_rest = rest.terms["trump_x_foreign_born"].above_one

    if con_all:
        conservative, con_words = "robust", "strongly tied to Trump's share"
    elif con_full:
        conservative, con_words = "full fit only", "tied to Trump's share, though not in every leave-out refit"
    else:
        conservative, con_words = "no", "not tied to Trump's share"
    if imm_full and imm_rest:
        immigrant, imm_words = "pattern", "the immigrant-population part holds as a pattern among the states"
    elif imm_full:
        immigrant = f"only through {without_names}"
        imm_words = (
            f"the immigrant-population part holds only through {without_names}, not as a pattern among the other states"
        )
    elif imm_rest:
        immigrant = f"only without {without_names}"
        imm_words = f"the immigrant-population part holds only once {without_names} are left out"
    else:
        immigrant, imm_words = "no", "the immigrant-population part does not hold"
    if con_full and immigrant == "pattern":
        verdict = REPRODUCED
    elif not con_full and not imm_full:
        verdict = DIFFERS
    else:
        verdict = PARTLY
    return Verdict(verdict, f"{con_words}; {imm_words}", conservative, immigrant)
