"""Write sample.png and model.json into the working folder with the installed unmask (CI's wheel check)."""

import dataclasses

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from unmask.features.spectrum import get_variant
from unmask.learn.classifiers import from_sklearn
from unmask.learn.domain import training_domain
from unmask.learn.model_file import Provenance, save_model

rng = np.random.default_rng(0)
cv2.imwrite("sample.png", rng.integers(0, 256, (64, 64), dtype=np.uint8))
model = from_sklearn(
    LogisticRegression().fit(rng.normal(size=(20, 80)), np.repeat([0, 1], 10)),
    "celeba",
    Provenance.current("ci", n_train=20, seed=0),
)
domain = training_domain([(64, 64)], ["PNG"], [], False, get_variant("celeba"))
save_model("model.json", dataclasses.replace(model, domain=domain))
