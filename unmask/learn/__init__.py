"""Learning: the protocol, classifiers, the model file, calibration, metrics, final models, prediction."""
