"""Keyword spotting networks, sized for microcontrollers.

Every builder takes the feature shape ``(n_frames, n_mfcc)`` and the number of
labels and returns an uncompiled Keras model whose input is float MFCCs
``[batch, n_frames, n_mfcc]`` and whose output is a softmax over the labels.
Only ops TFLM's int8 kernels cover are used (Conv2D, DepthwiseConv2D,
AveragePool2D, FullyConnected, Softmax, Reshape); batch norm folds into the
convolutions at conversion.

- ``ds-cnn-s``: depthwise-separable CNN in the "Hello Edge" family, small size:
  a 10x4 stride-2 convolution with 64 channels, four depthwise-separable
  blocks, global average pooling, dense. About 24 k parameters, 2.7 M MACs.
- ``ds-cnn-xs``: the same with 32 channels and three blocks, for tighter boards.
- ``tiny-conv``: one strided convolution and a dense layer, like TFLM's
  micro_speech model: under 20 kB, fast, much less accurate.
- ``ds-tcn-s``: a streaming depthwise-separable temporal CNN. The MFCC coefficients are the
  channels and every convolution runs along time only, "valid" (no padding) with stride 1, so each
  output row depends on a fixed span of input frames and on nothing else: the board computes only
  the rows a stride adds (the native engine's streaming mode, :mod:`tinykws.export.native`) and gets
  the whole-window model's scores bit for bit. A 5-frame convolution with 128 channels, four blocks
  of a 5-frame depthwise and a 1x1 convolution, average pooling over the remaining 29 rows, dense:
  2.7 M MACs per window like DS-CNN-S, about 0.37 M per 100 ms stride when streaming.
- ``ds-tcn-l``: the same with 240 channels and five blocks: 10.2 M MACs per window, about 1.5 M
  per 100 ms stride when streaming (the headroom streaming buys, spent on capacity); its 680 KB of
  engine weights fill most of the Nano's flash budget.
"""

from __future__ import annotations

from typing import Callable


def _keras():
    import keras

    return keras


def ds_cnn(input_shape: tuple[int, int], n_labels: int, *, channels: int = 64, blocks: int = 4, dropout: float = 0.2):
    keras = _keras()
    L = keras.layers
    x_in = keras.Input(shape=input_shape, name="mfcc")
    x = L.Reshape((*input_shape, 1))(x_in)
    x = L.Conv2D(channels, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9)(x)
    x = L.ReLU()(x)
    x = L.Dropout(dropout)(x)
    for _ in range(blocks):
        x = L.DepthwiseConv2D((3, 3), padding="same", use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.ReLU()(x)
        x = L.Conv2D(channels, (1, 1), use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.ReLU()(x)
    x = L.Dropout(dropout)(x)
    # Pool over the whole remaining map; a fixed pool size converts to AVERAGE_POOL_2D.
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])))(x)
    x = L.Flatten()(x)
    out = L.Dense(n_labels, activation="softmax", name="scores")(x)
    return keras.Model(x_in, out, name=f"ds_cnn_{channels}x{blocks}")


def ds_tcn(input_shape: tuple[int, int], n_labels: int, *, channels: int = 128, blocks: int = 4, k_first: int = 5,
           k: int = 5, dropout: float = 0.2):
    """Streamable: time convolutions "valid" with stride 1, one row per frame (see the module docstring)."""
    keras = _keras()
    L = keras.layers
    n_frames, n_mfcc = input_shape
    x_in = keras.Input(shape=input_shape, name="mfcc")
    x = L.Reshape((n_frames, 1, n_mfcc))(x_in)  # coefficients as channels: a row is one frame
    x = L.Conv2D(channels, (k_first, 1), padding="valid", use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9)(x)
    x = L.ReLU()(x)
    x = L.Dropout(dropout)(x)
    for _ in range(blocks):
        x = L.DepthwiseConv2D((k, 1), padding="valid", use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.ReLU()(x)
        x = L.Conv2D(channels, (1, 1), use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.ReLU()(x)
    if int(x.shape[1]) < 1:
        raise ValueError(f"{n_frames} frames are fewer than the network's receptive field")
    x = L.Dropout(dropout)(x)
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), 1))(x)
    x = L.Flatten()(x)
    out = L.Dense(n_labels, activation="softmax", name="scores")(x)
    return keras.Model(x_in, out, name=f"ds_tcn_{channels}x{blocks}")


def tiny_conv(input_shape: tuple[int, int], n_labels: int, *, channels: int = 8, dropout: float = 0.2):
    keras = _keras()
    L = keras.layers
    x_in = keras.Input(shape=input_shape, name="mfcc")
    x = L.Reshape((*input_shape, 1))(x_in)
    x = L.Conv2D(channels, (10, 8), strides=(2, 2), padding="same", activation="relu")(x)
    x = L.Dropout(dropout)(x)
    x = L.Flatten()(x)
    out = L.Dense(n_labels, activation="softmax", name="scores")(x)
    return keras.Model(x_in, out, name="tiny_conv")


ARCHITECTURES: dict[str, Callable] = {
    "ds-cnn-s": lambda shape, n: ds_cnn(shape, n, channels=64, blocks=4),
    "ds-cnn-xs": lambda shape, n: ds_cnn(shape, n, channels=32, blocks=3),
    "tiny-conv": lambda shape, n: tiny_conv(shape, n),
    "ds-tcn-s": lambda shape, n: ds_tcn(shape, n, channels=128, blocks=4),
    "ds-tcn-l": lambda shape, n: ds_tcn(shape, n, channels=240, blocks=5),
}
#: Architectures whose int8 model the native engine can run in streaming mode (only new rows per stride).
STREAMING_ARCHITECTURES = ("ds-tcn-s", "ds-tcn-l")
DEFAULT_ARCH = "ds-cnn-s"


def build_model(arch: str, input_shape: tuple[int, int], n_labels: int):
    """Build the named architecture; :class:`UserError` for an unknown name."""
    from tinykws.errors import UserError

    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](tuple(input_shape), n_labels)


def count_macs(model) -> int:
    """Multiply-accumulates of one inference (conv, depthwise conv and dense layers)."""
    keras = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, cout = layer.output.shape
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            total += h * w * cout * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            total += int(layer.input.shape[-1]) * layer.units
    return int(total)
