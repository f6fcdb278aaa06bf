"""Train the example churn model: deterministic, on generated data, in about a second.

    venv/bin/python examples/models/churn/train.py

Writes model.joblib next to this file: a scikit-learn pipeline (standard scaling, then
logistic regression) over four features of a subscription customer. Also writes
data/baseline.csv, the first 2000 training inputs, which model.yaml names as the baseline
dataset that build computes the data-quality baseline from. The data is generated
from a fixed seed, so the model's predictions, and the expected responses of the samples in
model.yaml, come out the same on every run with the same library versions. The script prints
those predictions so model.yaml can be updated when the model changes.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
FEATURES = ("tenure_months", "monthly_charges", "support_calls_90d", "contract_months")
SEED = 20240601
ROWS = 5000
BASELINE_ROWS = 2000

# The requests of model.yaml's samples, to print what the trained model answers.
SAMPLE_ROWS = {
    "new-customer-many-calls": [[2, 95.5, 4, 1]],
    "two-loyal-customers": [[48, 55.0, 0, 24], [30, 70.25, 1, 12]],
    "batch-csv": [[1, 110.0, 6, 1], [60, 40.0, 0, 24], [12, 80.0, 2, 12]],
}


def generate(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Customers whose churn odds fall with tenure and contract length, rise with price/calls."""
    tenure = rng.integers(0, 72, rows).astype(float)
    charges = rng.uniform(20, 120, rows).round(2)
    calls = rng.poisson(1.2, rows).astype(float)
    contract = rng.choice([1.0, 12.0, 24.0], rows, p=[0.5, 0.3, 0.2])
    logit = -0.5 - 0.05 * tenure + 0.025 * charges + 0.6 * calls - 0.09 * contract
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return np.column_stack([tenure, charges, calls, contract]), churned.astype(int)


def write_baseline(features: np.ndarray) -> None:
    """A sample of the training inputs, in the columns and order inference.py takes them."""
    lines = [",".join(FEATURES)]
    for tenure, charges, calls, contract in features[:BASELINE_ROWS]:
        lines.append(f"{int(tenure)},{charges:.2f},{int(calls)},{int(contract)}")
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "data" / "baseline.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    features, labels = generate(np.random.default_rng(SEED), ROWS)
    write_baseline(features)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    model.fit(features, labels)
    joblib.dump(model, HERE / "model.joblib", compress=3)
    print(f"accuracy on the training data: {model.score(features, labels):.3f}")
    for name, rows in SAMPLE_ROWS.items():
        probabilities = model.predict_proba(np.array(rows, dtype=float))[:, 1]
        print(name, [float(p) for p in probabilities])


if __name__ == "__main__":
    main()
