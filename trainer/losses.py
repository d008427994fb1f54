"""Training losses: masked DSSIM (kornia's SSIM) + masked MSE (+ optional gradient L1) with eyes/mouth
priority, mask MSE, patch GAN.

All inputs float32 NCHW at the model's output resolution R (the targets' size; twice the input
for depth-to-space models): faces (N, 3, R, R) and masks (N, 1, R, R) in [0, 1], eye/mouth regions
(N, 1, R, R) 0, 1 (eyes) or 2 (mouth); the regions are drawn from the landmarks at R
(trainer/data.py), so the weighting is per output pixel.
Computed in fp32 outside autocast: SSIM's variance terms lose too much in bf16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.losses import ssim_loss
from kornia.metrics import ssim


def ssim_window(resolution: int) -> int:
    """Odd SSIM window about 1/11.6 of the face, as DeepFaceLab uses (11 px at 128)."""
    return max(3, int(resolution / 11.6)) | 1


def face_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    region: torch.Tensor,
    dssim_weight: float,
    mse_weight: float,
    eyes_mouth_weight: float,
    eyes_dssim_weight: float = 0.0,
    edge_weight: float = 0.0,
) -> torch.Tensor:
    """Scalar: DSSIM (two scales from 256 px) + MSE of the masked face, eyes and mouth weighted up,
    + edge_weight x the L1 distance of the two faces' gradients (edge_loss).

    region: 0 elsewhere, REGION_EYES / REGION_MOUTH of trainer/data.py (1 / 2) inside them; both
    weigh eyes_mouth_weight, except that eyes_dssim_weight > 0 replaces it for DSSIM in the eyes.
    """
    inside = (region > 0).to(pred.dtype)
    weight = 1.0 + (eyes_mouth_weight - 1.0) * inside
    w_dssim = weight
    if eyes_dssim_weight > 0:
        w_dssim = weight + (eyes_dssim_weight - eyes_mouth_weight) * (region == 1).to(pred.dtype)
    pred_m, target_m = pred * mask, target * mask
    res = pred.shape[-1]
    dssim = (ssim_loss(pred_m, target_m, ssim_window(res), reduction="none") * w_dssim).mean()
    if res >= 256:
        # A second, coarser scale keeps large structures (face outline, hair) in view at high resolution.
        half_p, half_t = F.avg_pool2d(pred_m, 2), F.avg_pool2d(target_m, 2)
        dssim = 0.5 * dssim + 0.5 * ssim_loss(half_p, half_t, ssim_window(res // 2))
    mse = (((pred_m - target_m) ** 2) * weight).mean()
    total = dssim_weight * dssim + mse_weight * mse
    return total + edge_weight * edge_loss(pred_m, target_m, weight) if edge_weight > 0 else total


def edge_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Scalar: mean over pixels of weight x |d pred - d target|, summed over the horizontal and
    vertical neighbour differences d. pred, target: (N, C, R, R); weight: (N, 1, R, R).

    A squared error is least for the average of the faces a code could mean, which is a blur; an
    absolute error on the gradients is least for their median, which keeps edges (the "gradient
    difference loss" of Mathieu et al., 2016, against blurry video prediction)."""
    dx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return (dx.abs() * weight[..., :, 1:]).mean() + (dy.abs() * weight[..., 1:, :]).mean()


def mask_loss(pred_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred_mask, target_mask)


def masked_ssim(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N,) mean SSIM inside the mask of each face: the validation metric (1 = identical)."""
    ssim_map = ssim(pred, target, ssim_window(pred.shape[-1])).mean(1, keepdim=True)
    return (ssim_map * mask).sum((1, 2, 3)) / mask.sum((1, 2, 3)).clamp_min(1.0)


def gan_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))


def gan_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
    return 0.5 * (real + fake)
