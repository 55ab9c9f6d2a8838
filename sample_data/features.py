"""Synthetic credit applicants and their true probability of default."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC_FEATURES: tuple[str, ...] = (
    "age",
    "income",
    "debt_to_income",
    "credit_history_months",
    "loan_amount",
    "num_open_accounts",
    "num_late_payments",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("employment_type", "region", "loan_purpose")
FEATURES: dict[str, str] = {
    **dict.fromkeys(NUMERIC_FEATURES, "numeric"),
    **dict.fromkeys(CATEGORICAL_FEATURES, "categorical"),
}
LABEL_COLUMN = "label"

MODEL_NAME = "credit-risk"
TASK = "binary"
POSITIVE_CLASS = 1

EMPLOYMENT_TYPES = ("salaried", "self_employed", "contractor", "unemployed", "retired")
REGIONS = ("north", "south", "east", "west", "central")
DRIFT_REGION = "islands"
LOAN_PURPOSES = ("home", "car", "education", "business", "personal")
_UNEMPLOYED = EMPLOYMENT_TYPES.index("unemployed")

# Employment mix for working-age applicants and for those past 60 (who are mostly retired).
_EMPLOYMENT_P_WORKING = np.array([0.66, 0.13, 0.12, 0.07, 0.02])
_EMPLOYMENT_P_SENIOR = np.array([0.25, 0.07, 0.03, 0.02, 0.63])
_REGION_P = np.array([0.23, 0.21, 0.2, 0.2, 0.16])
_DRIFT_REGION_SHARE = 0.10
_PURPOSE_P = np.array([0.14, 0.26, 0.1, 0.1, 0.4])

# log-income offsets and loan size medians by category, in the orders above.
_EMPLOYMENT_LOG_INCOME = np.array([0.0, 0.12, 0.05, -1.1, -0.45])
_PURPOSE_LOAN_MEDIAN = np.array([180_000.0, 22_000.0, 28_000.0, 55_000.0, 9_000.0])

# Log-odds contributions of the categories to the risk of default.
_EMPLOYMENT_RISK = np.array([0.0, 0.25, 0.35, 1.3, 0.1])
_PURPOSE_RISK = np.array([-0.45, 0.0, 0.15, 0.5, 0.25])
_REGION_RISK = np.array([-0.1, 0.15, 0.0, -0.05, 0.05])

# Income drift: reported incomes fall by a quarter (exp(-0.288) ~= 0.75).
INCOME_DRIFT_FACTOR = 0.75


def model_registration() -> dict[str, object]:
    """Body for `PUT /api/v1/models/credit-risk` that registers the demo model."""
    return {"task": TASK, "positive_class": POSITIVE_CLASS, "features": dict(FEATURES)}


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one category index per row of `probs` (n x k) by inverse CDF."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(len(probs))[:, None]
    return np.asarray((u > cdf).sum(axis=1))


def _categorical(codes: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Map integer codes to an object array of category strings."""
    return np.asarray(np.asarray(categories, dtype=object)[codes])


def sample_applicants(rng: np.random.Generator, drifted: np.ndarray) -> pd.DataFrame:
    """Draw one applicant per entry of `drifted` (bool array: row is in the drifted period)."""
    n = len(drifted)
    age = np.clip(np.rint(rng.normal(41.0, 12.5, n)), 18, 85).astype(np.int64)
    senior = (age >= 60)[:, None]
    emp_p = np.where(senior, _EMPLOYMENT_P_SENIOR, _EMPLOYMENT_P_WORKING)
    employment = _choice(rng, emp_p)

    log_income = (
        10.85
        + _EMPLOYMENT_LOG_INCOME[employment]
        + 0.012 * (np.minimum(age, 55) - 40)
        + rng.normal(0.0, 0.42, n)
    )
    true_income = np.exp(log_income)
    reported_income = np.where(drifted, true_income * INCOME_DRIFT_FACTOR, true_income)

    region_p = np.broadcast_to(np.append(_REGION_P, 0.0), (n, len(REGIONS) + 1)).copy()
    region_p[drifted] = np.append(_REGION_P * (1 - _DRIFT_REGION_SHARE), _DRIFT_REGION_SHARE)
    region = _choice(rng, region_p)

    purpose = _choice(rng, np.broadcast_to(_PURPOSE_P, (n, len(LOAN_PURPOSES))))
    loan = _PURPOSE_LOAN_MEDIAN[purpose] * np.exp(rng.normal(0.0, 0.5, n))
    dti = np.clip(rng.beta(2.2, 6.0, n) + 0.1 * (employment == _UNEMPLOYED), 0.0, 0.95)
    history_years = (age - 18) * rng.uniform(0.25, 1.0, n)
    late_rate = 0.15 + 1.8 * dti + 0.6 * (employment == _UNEMPLOYED)

    return pd.DataFrame(
        {
            "age": age,
            "income": np.round(reported_income, -2),
            "debt_to_income": np.round(dti, 3),
            "credit_history_months": np.rint(history_years * 12).astype(np.int64),
            "loan_amount": np.round(loan, -2),
            "num_open_accounts": rng.poisson(3.5 + 0.04 * (age - 18)),
            "num_late_payments": rng.poisson(late_rate),
            "employment_type": _categorical(employment, EMPLOYMENT_TYPES),
            "region": _categorical(region, (*REGIONS, DRIFT_REGION)),
            "loan_purpose": _categorical(purpose, LOAN_PURPOSES),
        }
    )


def default_probability(frame: pd.DataFrame, drifted: np.ndarray) -> np.ndarray:
    """True probability of default; the relationship changes for drifted rows."""
    employment = _codes(frame["employment_type"], EMPLOYMENT_TYPES)
    purpose = _codes(frame["loan_purpose"], LOAN_PURPOSES)
    region = _codes(frame["region"], REGIONS)
    income = frame["income"].to_numpy(dtype=float)
    # Drifted incomes are reported 25% low; risk follows the true income.
    true_income = np.where(drifted, income / INCOME_DRIFT_FACTOR, income)
    dti = frame["debt_to_income"].to_numpy(dtype=float)
    late = frame["num_late_payments"].to_numpy(dtype=float)
    history_years = frame["credit_history_months"].to_numpy(dtype=float) / 12
    loan_to_income = frame["loan_amount"].to_numpy(dtype=float) / np.maximum(true_income, 1.0)

    logit = (
        -2.9
        + 4.5 * (dti - 0.27)
        + 0.55 * np.minimum(late, 6)
        - 0.9 * np.log(true_income / 50_000)
        + 0.35 * np.log1p(loan_to_income)
        - 0.05 * np.minimum(history_years, 25)
        - 0.012 * (frame["age"].to_numpy(dtype=float) - 40)
        + _EMPLOYMENT_RISK[employment]
        + _PURPOSE_RISK[purpose]
        + np.where(region >= 0, _REGION_RISK[region], 0.0)
    )
    islands = (frame["region"] == DRIFT_REGION).to_numpy()
    # A new economic shock: many open credit lines now signal over-extension, past late
    # payments matter less than before, and islands applicants default far more often.
    accounts = frame["num_open_accounts"].to_numpy(dtype=float)
    shock = 1.0 + 2.0 * islands + 0.45 * (accounts - 4.5) - 0.35 * np.minimum(late, 6)
    logit = np.where(drifted, logit + shock, logit)
    return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def draw_labels(rng: np.random.Generator, probability: np.ndarray) -> np.ndarray:
    """Bernoulli outcomes (1 = default) for the given probabilities."""
    return (rng.random(len(probability)) < probability).astype(np.int64)


def _codes(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Category index per value; -1 for values outside `categories`."""
    return pd.Categorical(values, categories=list(categories)).codes.astype(np.int64)
