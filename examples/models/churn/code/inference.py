"""Inference handlers for the churn model, on the SageMaker scikit-learn container's contract.

The container calls model_fn once, then input_fn -> predict_fn -> output_fn per request.
Requests are customer rows with four features, in this order: tenure_months,
monthly_charges, support_calls_90d, contract_months.

- text/csv: one customer per line, four numbers per line;
- application/json: {"instances": [[...4 numbers...] or {"tenure_months": ..., ...}, ...]}.

Responses give each customer's churn probability:

- application/json: {"predictions": [{"churn_probability": 0.93, "churn": true}, ...]};
- text/csv: one probability per line, six decimals.
"""

import json
import os

import joblib
import numpy as np

FEATURES = ("tenure_months", "monthly_charges", "support_calls_90d", "contract_months")
THRESHOLD = 0.5


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type):
    if request_content_type == "text/csv":
        rows = [line.split(",") for line in request_body.splitlines() if line.strip()]
    elif request_content_type == "application/json":
        instances = json.loads(request_body)["instances"]
        rows = [[row[f] for f in FEATURES] if isinstance(row, dict) else row for row in instances]
    else:
        raise ValueError(f"unsupported content type {request_content_type!r}")
    data = np.asarray(rows, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(FEATURES):
        raise ValueError(f"expected rows of {len(FEATURES)} features: {', '.join(FEATURES)}")
    return data


def predict_fn(input_data, model):
    return model.predict_proba(input_data)[:, 1]


def output_fn(prediction, accept):
    if accept == "application/json":
        predictions = [
            {"churn_probability": float(p), "churn": bool(p >= THRESHOLD)} for p in prediction
        ]
        return json.dumps({"predictions": predictions}), accept
    if accept == "text/csv":
        return "".join(f"{p:.6f}\n" for p in prediction), accept
    raise ValueError(f"unsupported accept type {accept!r}")
