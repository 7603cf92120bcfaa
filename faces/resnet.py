"""dlib's face recognition ResNet, run with numpy: the same weights, the same 128-d output.

Why: the prebuilt dlib wheel is compiled without BLAS, so its encoder costs ~90–145 ms a face
on this CPU — most of the face step. The network is small (29 conv layers, ~0.5 GFLOP a face);
as im2col + one float32 matrix product per layer through numpy's BLAS it costs ~16 ms a face
on one core, batched. Outputs match dlib's ``compute_face_descriptor`` to ~1e-6 (tested).

The weights are read from dlib's own model file (``dlib_face_recognition_resnet_model_v1.dat``)
in dlib's serialisation: layer names as length-prefixed strings, integers as a size byte
(low nibble, 0x80 = negative) then little-endian bytes, tensors as version 2 + 4 dims + raw
little-endian float32s. Each affine layer (the trained batch norm) is folded into the
convolution before it. The architecture is dlib's ``dnn_face_recognition_ex.cpp``:

    con 7×7/2 (32) · relu · max pool 3×3/2
    3 × res(32) · 4 × res(64, first /2) · 3 × res(128, first /2) · 3 × res(256, first /2)
    · res(256, /2) · global average · fc 256→128 (no bias)

where res = conv 3×3, relu, conv 3×3, + skip, relu; a down block's skip is a 2×2/2 average
pool, and dlib adds tensors of different shapes by zero-padding the smaller (channels and the
bottom/right border), which happens at the 8→3/4 and 4→1/2 steps.

Pure: no Django, no dlib needed at run time (only numpy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CHIP_SIZE = 150  # the aligned face chip the network takes (dlib: get_face_chip(..., 150, 0.25))
CHIP_PADDING = 0.25
# input_rgb_image_sized<150>: (pixel - mean) / 256 per channel.
_MEAN = np.array([122.782, 117.001, 104.298], dtype=np.float32)
# (filters, blocks, first block halves the size)
_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
_LAYER_NAMES = re.compile(rb"\x01\x05con_4|\x01\x07affine_|\x01\x04fc_2")


class ModelFormatError(ValueError):
    pass


@dataclass(frozen=True)
class _Conv:
    weights: np.ndarray  # (k*k*C, F), rows in (kh, kw, C) order to match NHWC windows
    bias: np.ndarray  # (F,)
    size: int
    stride: int
    padding: int


def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    head = data[pos]
    size = head & 0x0F
    value = int.from_bytes(data[pos + 1 : pos + 1 + size], "little")
    return (-value if head & 0x80 else value), pos + 1 + size


def _read_tensor(data: bytes, pos: int) -> tuple[np.ndarray, int]:
    version, pos = _read_int(data, pos)
    if version != 2:
        raise ModelFormatError(f"unsupported tensor version {version}")
    count = 1
    for _ in range(4):
        dim, pos = _read_int(data, pos)
        count *= dim
    values = np.frombuffer(data, dtype="<f4", count=count, offset=pos).astype(np.float32)
    return values, pos + 4 * count


class FaceEncoder:
    """Load once per process (~0.1 s, 22 MB of weights); ``encode`` is thread-safe."""

    def __init__(self, model_path: str | Path) -> None:
        data = Path(model_path).read_bytes()
        try:
            self.convs, self.fc = _parse(data)
        except (IndexError, ValueError, ZeroDivisionError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"{model_path} is not dlib's face recognition model") from exc

    def encode(self, chips: np.ndarray, *, batch: int = 16) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB face chips → (N, 128) float32 descriptors."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) chips, got {chips.shape}")
        if len(chips) == 0:
            return np.zeros((0, 128), dtype=np.float32)
        parts = [self._forward(chips[i : i + batch]) for i in range(0, len(chips), batch)]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - _MEAN) * np.float32(1 / 256)
        layers = iter(self.convs)
        x = _max_pool_3x3_s2(_relu(_conv(x, next(layers))))
        for _filters, blocks, halves in _LEVELS:
            for index in range(blocks):
                y = _relu(_conv(x, next(layers)))
                y = _conv(y, next(layers))
                skip = _avg_pool_2x2_s2(x) if index == 0 and halves else x
                x = _relu(_add_padded(y, skip))
        return x.mean(axis=(1, 2)) @ self.fc


def _parse(data: bytes) -> tuple[list[_Conv], np.ndarray]:
    convs: list[_Conv] = []
    pending: tuple[np.ndarray, np.ndarray, int, int] | None = None
    fc: np.ndarray | None = None
    # Layers are stored input first; only these three kinds carry weights.
    for match in _LAYER_NAMES.finditer(data):
        name, pos = match.group()[2:], match.end()
        if name == b"fc_2":
            outputs, pos = _read_int(data, pos)
            inputs, pos = _read_int(data, pos)
            values, pos = _read_tensor(data, pos)
            fc = values.reshape(inputs, outputs)
            continue
        values, pos = _read_tensor(data, pos)
        if name == b"con_4":
            fields = []
            for _ in range(7):
                value, pos = _read_int(data, pos)
                fields.append(value)
            filters, rows, cols, stride, _stride_x, padding, _padding_x = fields
            channels = (values.size - filters) // (filters * rows * cols)
            split = filters * channels * rows * cols
            kernel = values[:split].reshape(filters, channels, rows, cols)
            pending = (kernel, values[split:], stride, padding)
            continue
        if pending is None:  # an affine layer always follows its convolution
            raise ModelFormatError("affine layer without a convolution before it")
        kernel, bias, stride, padding = pending
        gamma, beta = np.split(values, 2)
        folded = (kernel * gamma[:, None, None, None]).transpose(2, 3, 1, 0)
        convs.append(
            _Conv(
                weights=np.ascontiguousarray(folded.reshape(-1, kernel.shape[0])),
                bias=(bias * gamma + beta).astype(np.float32),
                size=kernel.shape[2],
                stride=stride,
                padding=padding,
            )
        )
        pending = None
    expected = 1 + 2 * sum(blocks for _f, blocks, _h in _LEVELS)
    if fc is None or len(convs) != expected:
        raise ModelFormatError(f"expected {expected} convolutions and a fc layer")
    return convs, fc


def _conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    k, s, p = conv.size, conv.stride, conv.padding
    if p:
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    n, height, width, channels = x.shape
    out_h, out_w = (height - k) // s + 1, (width - k) // s + 1
    windows = sliding_window_view(x, (k, k), axis=(1, 2))
    windows = windows[:, : (out_h - 1) * s + 1 : s, : (out_w - 1) * s + 1 : s]
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * out_h * out_w, k * k * channels)
    out = columns @ conv.weights
    out += conv.bias
    return out.reshape(n, out_h, out_w, -1)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _max_pool_3x3_s2(x: np.ndarray) -> np.ndarray:
    _n, height, width, _c = x.shape
    out_h, out_w = (height - 3) // 2 + 1, (width - 3) // 2 + 1
    windows = sliding_window_view(x, (3, 3), axis=(1, 2))
    return windows[:, : (out_h - 1) * 2 + 1 : 2, : (out_w - 1) * 2 + 1 : 2].max(axis=(4, 5))


def _avg_pool_2x2_s2(x: np.ndarray) -> np.ndarray:
    n, height, width, channels = x.shape
    out_h, out_w = (height - 2) // 2 + 1, (width - 2) // 2 + 1
    x = x[:, : out_h * 2, : out_w * 2]
    return x.reshape(n, out_h, 2, out_w, 2, channels).mean(axis=(2, 4))


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b as dlib's add_prev does it: the smaller is zero-padded to the larger's shape."""
    if a.shape == b.shape:
        return a + b
    shape = tuple(max(i, j) for i, j in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out
