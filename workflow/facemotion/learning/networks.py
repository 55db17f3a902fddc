"""The seed's two networks (Keras 3): a frames-as-channels CNN on face crops and an MLP on
per-frame geometric features.

Built under a mixed-precision dtype policy, the layers compute in float16 / bfloat16; the
softmax output stays float32 so that probabilities and the loss keep their precision.

The facts about the models (which one each feature type trains, for how many epochs by
default, with which z-scoring) are plain data here, and Keras is imported only by the functions that build or compile:
the configuration check, which runs at every workflow start, reads the facts without starting
TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# The seed's pairing: face-crop pixels train the CNN, landmark features the dense net.
MODEL_FOR_FEATURES = {"pixels": "seed_cnn", "landmarks": "seed_dense"}
MODELS = tuple(MODEL_FOR_FEATURES.values())
# The seed's epochs; under cv.protocol loso the most epochs, of which each fold picks its best.
DEFAULT_EPOCHS = {"seed_cnn": 10, "seed_dense": 30}
# The z-scorings each feature type allows, the seed's first: one mean/std over all pixels; one
# per landmark feature.
NORMALISATIONS = {"pixels": ("global", "per_pixel"), "landmarks": ("per_feature", "global")}


def seed_cnn(n_frames: int, face_size: int, n_classes: int, dropout: float = 0.8) -> keras.Model:
    """Input (face_size, face_size, n_frames): the N frames of a recording are the channels.
    ``n_classes`` 0: one linear output, a rating (``dimensions: regression``)."""
    import keras
    from keras import layers

    inputs = keras.Input((face_size, face_size, n_frames), name="frames")
    x = inputs
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 5, padding="same", activation="relu", name=f"conv{filters}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{filters}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(128, activation="relu", name="dense128")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    return keras.Model(inputs, _output(n_classes)(x), name="seed_cnn")


def seed_dense(
    n_frames: int, n_features: int, n_classes: int, dropout: float = 0.5, units: int = 128
) -> keras.Model:
    """Input (n_frames, n_features), flattened: the seed's landmark-geometry model (``n_classes``
    0: one linear output)."""
    import keras
    from keras import layers

    inputs = keras.Input((n_frames, n_features), name="features")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(units, activation="relu", name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(units, activation="relu", name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    return keras.Model(inputs, _output(n_classes)(x), name="seed_dense")


def _output(n_classes: int):
    """The softmax over ``n_classes``, or with 0 classes one linear unit (a rating); float32."""
    from keras import layers

    if n_classes == 0:
        return layers.Dense(1, dtype="float32", name="rating")
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")


def build_model(name: str, sample_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """Model ``name`` for one recording's feature array of shape ``sample_shape``.

    ``seed_cnn`` takes (n_frames, face_size, face_size) pixels; ``seed_dense`` takes
    (n_frames, ...) features, flattened per frame (6 geometry values or 68 x 2 landmarks).
    """
    if name == "seed_cnn":
        n_frames, height, width = sample_shape
        if height != width:
            raise ValueError(f"seed_cnn needs square faces, got {height}x{width}")
        return seed_cnn(n_frames, height, n_classes)
    if name == "seed_dense":
        n_features = 1
        for d in sample_shape[1:]:
            n_features *= d
        return seed_dense(sample_shape[0], n_features, n_classes)
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def compile_model(model: keras.Model, optimizer: str = "adam", learning_rate: float = 1e-4, loss=None):
    """Cross-entropy on integer labels; class weights arrive as per-sample weights. ``loss``: another
    loss instead (the regression targets'), without the accuracy metric."""
    import keras

    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(optimizers)}")
    model.compile(
        optimizer=optimizers[optimizer](learning_rate=learning_rate),
        loss=loss or "sparse_categorical_crossentropy",
        weighted_metrics=None if loss else ["accuracy"],
    )
    return model
