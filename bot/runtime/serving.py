"""A Rasa server's numeric libraries on one thread each: TensorFlow's kernels and BLAS.

A served message is one short sentence, read by the one NLU worker thread
(`bot.runtime.nlu_worker`) while the event loop answers the others on the second core. Spread
over the libraries' own thread pools, such small products gained little and spun the cores
the rest of the server needs:
- TensorFlow's pools saved about 1 ms of the encoder's 17 ms a message and cost about 7 ms
  more CPU: the server's CPU a message fell from 49.5 to 39.6 ms at 10 msg/s with one thread.
- OpenBLAS's threads spin after each product: once the classifier read a message as one dense
  row (`TunedLogisticRegressionClassifier._create_X`), the server's CPU went to 146.8 ms a
  message until BLAS was kept to the calling thread (bench/README.md, 2026-12-03).

Training and evaluation embed batches and keep the libraries' defaults: only `rasa run` calls
`one_thread_each`, before the model is loaded (bot.runtime.rasa_fixes).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def one_thread_each() -> None:
    """Keeps TensorFlow and every loaded BLAS library to one thread, for the whole process.

    TensorFlow takes the setting only before its first operation; if one ran already, its
    default stays (with a warning). threadpoolctl limits the libraries loaded when it is
    called, so the classifier's (numpy's and scipy's, through scikit-learn) are loaded first.
    """
    import sklearn.linear_model  # noqa: F401 (loads the BLAS libraries the classifier calls)
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as error:  # TensorFlow's context exists already
        logger.warning("TensorFlow keeps its default threads: %s", error)
