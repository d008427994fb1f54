"""The per-pair face-swap autoencoders of DeepFaceLab's SAEHD, DF and LIAE, with learned masks.

Imports only torch and the constants leaf swapstream.common.choices (export and tests build models
from a checkpoint's ModelConfig dict).

Tensors: faces are float32 NCHW, channel order BGR, values in [0, 1]. The network codes faces
on a grid of `resolution` px; inputs are input_scale x that and outputs (faces and masks,
float32 (N, 1, H, W) in [0, 1]) output_scale x that. With output_scale 2 (DeepFaceLab's "-d"
decoders) each decoder ends in a depth-to-space step, a 3x3 conv to 4x the channels then pixel
shuffle, so the model renders twice its grid for the cost of one small convolution. With
input_scale 2 the encoder starts with the mirror step, space-to-depth (each 2x2 block of pixels
becomes 12 channels of one grid cell; YOLOv5's "Focus"), so it reads twice its grid for the cost
of a first conv with 4x the input channels: a blink or a lip gap of 1-2 px on the grid is 2-4
px in what it reads.

DF: one shared encoder + inter, one decoder per identity. Any face goes through the shared
path, so either decoder can render it: both directions swap.

LIAE: encoder, inter_AB (trained on both identities), inter_B (trained on B only) and one
decoder reading the concatenation of two inter codes. A is coded as [inter_AB, inter_AB],
B as [inter_B, inter_AB]. Rendering identity 'a' uses only inter_AB, which has seen both
people, so it works for any input: b2a swaps. Rendering identity 'b' needs inter_B, which has
only ever seen B, so for a face of A it yields no meaningful B: a2b is not supported, and
`render(x, 'b')` raises ValueError (use `reconstruct` for B's own faces during training).
Put the identity you want to appear in the output as -a when training LIAE.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from swapstream.common.choices import DIRECTIONS, INPUT_SCALES, OUTPUT_SCALES

IDENTITIES = ("a", "b")


class Downscale(nn.Module):
    """Strided conv halving H and W, as DeepFaceLab's encoder blocks."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=2, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), 0.1)


class Upscale(nn.Module):
    """Conv to 4x the channels then pixel shuffle (sub-pixel convolution): doubles H and W; it starts
    free of the period-2 checkerboard with `init_icnr`."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(F.leaky_relu(self.conv(x), 0.1), 2)


class ResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.leaky_relu(self.conv1(x), 0.2))
        return F.leaky_relu(x + y, 0.2)


class Encoder(nn.Module):
    """(N, 3, S*R, S*R) -> (N, 8 * e_dims * (R/16)^2) flattened features, S = input_scale: with
    S = 2 a space-to-depth step first folds each 2x2 block of pixels into the channels."""

    def __init__(self, e_dims: int, input_scale: int = 1):
        super().__init__()
        if input_scale not in INPUT_SCALES:
            raise ValueError(f"input_scale must be one of {INPUT_SCALES}, got {input_scale}")
        self.input_scale = input_scale
        chans = (3 * input_scale**2, e_dims, e_dims * 2, e_dims * 4, e_dims * 8)
        self.blocks = nn.Sequential(*(Downscale(i, o) for i, o in itertools.pairwise(chans)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_scale == 2:
            x = F.pixel_unshuffle(x, 2)
        return torch.flatten(self.blocks(x), 1)


class Inter(nn.Module):
    """Dense bottleneck: features -> ae_dims -> (N, out_ch, 2 * R/16, 2 * R/16)."""

    def __init__(self, in_features: int, ae_dims: int, out_ch: int, low_res: int):
        super().__init__()
        self.out_ch = out_ch
        self.low_res = low_res
        self.dense1 = nn.Linear(in_features, ae_dims)
        self.dense2 = nn.Linear(ae_dims, low_res * low_res * out_ch)
        self.upscale = Upscale(out_ch, out_ch)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dense2(self.dense1(features))
        x = x.reshape(-1, self.out_ch, self.low_res, self.low_res)
        return self.upscale(x)


def _out_conv(in_ch: int, out_ch: int, output_scale: int) -> nn.Conv2d:
    """The decoder's last conv: 1x1 to the outputs, or 3x3 to scale^2 x them for depth-to-space."""
    if output_scale == 1:
        return nn.Conv2d(in_ch, out_ch, 1)
    return nn.Conv2d(in_ch, out_ch * output_scale**2, 3, padding=1)


class Decoder(nn.Module):
    """Code (N, in_ch, R/8, R/8) -> face (N, 3, S*R, S*R) and mask (N, 1, S*R, S*R), both sigmoid.

    output_scale S = 1: a 1x1 conv to the outputs at R. S = 2: depth-to-space, a 3x3 conv to
    4x the output channels at R, then pixel shuffle to 2R (face and mask branch alike).
    """

    def __init__(self, in_ch: int, d_dims: int, d_mask_dims: int, output_scale: int = 1):
        super().__init__()
        if output_scale not in OUTPUT_SCALES:
            raise ValueError(f"output_scale must be one of {OUTPUT_SCALES}, got {output_scale}")
        d, m = d_dims, d_mask_dims
        self.output_scale = output_scale
        self.upscales = nn.ModuleList([Upscale(in_ch, d * 8), Upscale(d * 8, d * 4), Upscale(d * 4, d * 2)])
        self.residuals = nn.ModuleList([ResidualBlock(d * 8), ResidualBlock(d * 4), ResidualBlock(d * 2)])
        # (registration order kept as before the option existed: same seed, same initial weights)
        self.out_face = _out_conv(d * 2, 3, output_scale)
        self.mask = nn.Sequential(Upscale(in_ch, m * 8), Upscale(m * 8, m * 4), Upscale(m * 4, m * 2))
        self.out_mask = _out_conv(m * 2, 1, output_scale)

    def _out(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        y = conv(x)
        y = F.pixel_shuffle(y, 2) if self.output_scale == 2 else y
        # The sigmoid in fp32 even under bf16/fp16 autocast: in bf16 it rounds to exactly 1.0 from
        # x ~ 7.5 on, where its gradient is exactly 0, so a decoder pushed that far by one large step
        # could never come back; in fp32 the gradient lives to x ~ 15. fp32 (export) takes the plain path.
        if y.dtype == torch.float32:
            return torch.sigmoid(y)
        return torch.sigmoid(y.float()).to(y.dtype)

    def forward(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = code
        for up, res in zip(self.upscales, self.residuals, strict=True):
            x = res(up(x))
        return self._out(self.out_face, x), self._out(self.out_mask, self.mask(code))


class SwapAutoencoder(nn.Module):
    """DF or LIAE autoencoder built from a ModelConfig (see module docstring for the maths)."""

    def __init__(
        self,
        *,
        arch: str,
        resolution: int,
        ae_dims: int,
        e_dims: int,
        d_dims: int,
        d_mask_dims: int,
        output_scale: int = 1,
        input_scale: int = 1,
    ):
        super().__init__()
        if arch not in ("df", "liae"):
            raise ValueError(f"unknown arch {arch!r}")
        if resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16, got {resolution}")
        self.arch = arch
        self.resolution = resolution
        self.input_resolution = resolution * input_scale
        self.output_resolution = resolution * output_scale
        low_res = resolution // 16
        self.encoder = Encoder(e_dims, input_scale)
        features = e_dims * 8 * low_res * low_res
        if arch == "df":
            self.inter = Inter(features, ae_dims, ae_dims, low_res)
            self.decoder_a = Decoder(ae_dims, d_dims, d_mask_dims, output_scale)
            self.decoder_b = Decoder(ae_dims, d_dims, d_mask_dims, output_scale)
        else:
            self.inter_AB = Inter(features, ae_dims, ae_dims * 2, low_res)
            self.inter_B = Inter(features, ae_dims, ae_dims * 2, low_res)
            self.decoder = Decoder(ae_dims * 4, d_dims, d_mask_dims, output_scale)

    def swap_directions(self) -> tuple[str, ...]:
        """Directions this model can swap; 'a2b' means render(face_of_A, 'b')."""
        return DIRECTIONS if self.arch == "df" else ("b2a",)

    def render(self, x: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Face of `identity` ('a' | 'b') with x's pose and expression.

        x: float32 (N, 3, I, I) BGR in [0, 1], I = input_resolution. Returns (face (N, 3, O, O) BGR
        [0, 1], mask (N, 1, O, O) [0, 1]), O = output_resolution.
        LIAE cannot render identity 'b' from an arbitrary face (module docstring): ValueError.
        """
        if identity not in IDENTITIES:
            raise ValueError(f"identity must be 'a' or 'b', got {identity!r}")
        if self.arch == "liae" and identity == "b":
            raise ValueError("LIAE can only render identity 'a' (direction b2a); train with the target person as -a")
        return self.reconstruct(x, identity)

    def reconstruct(self, x: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Like render, but x must be a face of `identity` unless the arch can swap into it.

        Used for the training targets and previews (B->B in LIAE goes through inter_B).
        """
        if self.arch == "df":
            decoder = self.decoder_a if identity == "a" else self.decoder_b
            return decoder(self.inter(self.encoder(x)))
        features = self.encoder(x)
        ab = self.inter_AB(features)
        first = ab if identity == "a" else self.inter_B(features)
        return self.decoder(torch.cat([first, ab], dim=1))

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (face_aa, mask_aa, face_bb, mask_bb), each identity reconstructed from its own input.

        The shared encoder runs once over both batches (one larger matmul beats two small ones on CPU).
        """
        n = x_a.shape[0]
        features = self.encoder(torch.cat([x_a, x_b]))
        if self.arch == "df":
            code = self.inter(features)
            face_aa, mask_aa = self.decoder_a(code[:n])
            face_bb, mask_bb = self.decoder_b(code[n:])
            return face_aa, mask_aa, face_bb, mask_bb
        ab = self.inter_AB(features)
        code_a = torch.cat([ab[:n], ab[:n]], dim=1)
        code_b = torch.cat([self.inter_B(features[n:]), ab[n:]], dim=1)
        face, mask = self.decoder(torch.cat([code_a, code_b]))
        return face[:n], mask[:n], face[n:], mask[n:]

    def cycle(self, x_a: torch.Tensor) -> torch.Tensor:
        """A's faces x_a (as forward's) swapped to B and back (DF): face (N, 3, O, O) in [0, 1].
        The swapped face, rendered at the output resolution, is shrunk (area) to the input's."""
        if self.arch != "df":
            raise ValueError("the cycle needs both decoders (arch 'df')")
        swapped, _ = self.decoder_b(self.inter(self.encoder(x_a)))
        if swapped.shape[-1] != self.input_resolution:
            swapped = F.interpolate(swapped, size=self.input_resolution, mode="area")
        back, _ = self.decoder_a(self.inter(self.encoder(swapped)))
        return back

    def swap_module(self, direction: str) -> nn.Module:
        """A module whose forward(x) -> (face, mask) performs `direction` ('a2b' | 'b2a'), for ONNX export."""
        if direction not in self.swap_directions():
            raise ValueError(f"{self.arch} model cannot swap {direction!r}; supported: {self.swap_directions()}")
        return _Swap(self, direction[-1])


class _Swap(nn.Module):
    def __init__(self, model: SwapAutoencoder, identity: str):
        super().__init__()
        self.model = model
        self.identity = identity

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.render(x, self.identity)


class PatchDiscriminator(nn.Module):
    """Patch GAN critic: (N, 3, R, R) BGR [0, 1] -> (N, 1, R/8, R/8) logits, one per ~receptive-field patch."""

    def __init__(self, base_ch: int = 16):
        super().__init__()
        c = base_ch
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, c * 2, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c * 2, c * 4, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c * 4, c * 4, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c * 4, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def build_model(cfg) -> SwapAutoencoder:
    """SwapAutoencoder from a trainer.config.ModelConfig (or anything with its fields)."""
    return SwapAutoencoder(
        arch=cfg.arch,
        resolution=cfg.resolution,
        ae_dims=cfg.ae_dims,
        e_dims=cfg.e_dims,
        d_dims=cfg.d_dims,
        d_mask_dims=cfg.d_mask_dims,
        output_scale=getattr(cfg, "output_scale", 1),
        input_scale=getattr(cfg, "input_scale", 1),
    )


def icnr_(conv: nn.Conv2d, scale: int = 2) -> None:
    """ICNR initialisation (Aitken et al., 2017) of a conv feeding a pixel shuffle by `scale`: the
    scale^2 channels that become one output channel's sub-pixels start equal (PyTorch's default
    init for one of them), so the shuffle starts as a nearest-neighbour enlargement with no
    period-`scale` checkerboard for training to undo."""
    groups = scale**2
    with torch.no_grad():
        sub = torch.empty(conv.out_channels // groups, *conv.weight.shape[1:])
        nn.init.kaiming_uniform_(sub, a=5**0.5)  # PyTorch's default for Conv2d
        conv.weight.copy_(sub.repeat_interleave(groups, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[::groups].repeat_interleave(groups))


def init_icnr(model: nn.Module) -> int:
    """ICNR on every conv of `model` that feeds a pixel shuffle (each Upscale, and the decoders'
    last convs when they render at 2x); returns how many."""
    convs = [m.conv for m in model.modules() if isinstance(m, Upscale)]
    for dec in (m for m in model.modules() if isinstance(m, Decoder) and m.output_scale == 2):
        convs += [dec.out_face, dec.out_mask]
    for conv in convs:
        icnr_(conv)
    return len(convs)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
