"""Rasa's logistic regression intent classifier with its regularisation strength configurable.

Rasa 3.6's LogisticRegressionClassifier fixes scikit-learn's C at 1.0. Beside sentence
embeddings, a weaker regularisation (C=10) placed more of the blind set's messages correctly
(bench/README.md); everything else, balanced class weights included, is Rasa's.

Speed: a served message comes alone, and Rasa stacks its sparse word counts and dense sentence
features with scipy's `hstack`/`vstack`, whose format checks cost more than the prediction
(2.9 ms a message). One message's features are joined as a dense row instead; scikit-learn
computes the same probabilities from it. Several messages at once (training's own pass over
its examples) keep Rasa's sparse matrix, which a dense copy would multiply in memory.
A dense row's product goes to OpenBLAS, whose worker threads spin between calls: a server keeps
BLAS to the calling thread (bot.runtime.serving), which kept about 90 ms of CPU a message from
being spun away on this 2-core machine (bench/README.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TunedLogisticRegressionClassifier(LogisticRegressionClassifier):
    """LogisticRegressionClassifier with `C` (inverse regularisation strength) in its config."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Rasa's defaults plus `C`."""
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))

    def _create_X(self, messages: list[Message]) -> Any:  # noqa: N802 (Rasa's name)
        """One message: its sentence features as one dense row; several: Rasa's sparse matrix."""
        if len(messages) != 1:
            return super()._create_X(messages)
        sparse = messages[0].get_sparse_features(attribute=TEXT)[1]
        dense = messages[0].get_dense_features(attribute=TEXT)[1]
        parts = [
            np.asarray(sparse.features.toarray()) if sparse else np.zeros((1, 0)),
            np.asarray(dense.features).reshape(1, -1) if dense else np.zeros((1, 0)),
        ]
        return np.hstack(parts)
