"""`mnist` and `fashion_mnist` through `keras.datasets`, which downloads and caches them.

Keras is imported inside the loader, never at module import: the CLI chooses the Keras backend
after importing `vaekit.data`. Keras keeps its own cache (`~/.keras/datasets`, or `$KERAS_HOME`);
vaekit's `data_dir` and `download` options do not apply to these two datasets.
"""

from __future__ import annotations

import numpy as np

from vaekit.data.dataset import Source, as_images, as_labels
from vaekit.errors import DataError

MNIST_LABELS = [str(digit) for digit in range(10)]
FASHION_MNIST_LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
KERAS_DATASETS = {"mnist": MNIST_LABELS, "fashion_mnist": FASHION_MNIST_LABELS}


def load_keras_dataset(name: str, **_) -> Source:
    """Loads `keras.datasets.<name>` (60,000 training and 10,000 test 28x28 grey images).

    Args:
        name: `"mnist"` or `"fashion_mnist"`.

    Returns:
        A `Source` with train and test splits and int64 class labels.

    Raises:
        DataError: the download failed or Keras returned something unexpected.
    """
    import keras  # lazily: see the module docstring

    module = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except DataError:
        raise
    except Exception as error:  # urllib, HTTP, hash or archive errors from keras' get_file
        raise DataError(
            f"Could not load keras.datasets.{name}: {error}. Without internet, pass a path "
            "instead: a folder of MNIST-format IDX files (train-images-idx3-ubyte.gz, ...), "
            "an .npz file or an image folder."
        ) from error
    splits, eight_bit = {}, True
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        images, bits = as_images(np.asarray(x), f"keras.datasets.{name} x_{split}")
        eight_bit = eight_bit and bits
        splits[split] = (images, as_labels(y, len(images), f"keras.datasets.{name} y_{split}"))
    return Source(
        splits=splits,
        source=f"keras.datasets.{name}",
        label_names=list(KERAS_DATASETS[name]),
        eight_bit=eight_bit,
    )
