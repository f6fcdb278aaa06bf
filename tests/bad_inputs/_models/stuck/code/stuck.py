import time


def model_fn(model_dir):
    # Never returns, as a model stuck downloading weights would.
    while True:
        time.sleep(1)


def input_fn(body, content_type):
    return body


def predict_fn(data, model):
    return data


def output_fn(prediction, accept):
    return prediction
