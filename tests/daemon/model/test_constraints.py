"""Constrained sampling: what replacement inpainting and the loop impose at each Euler step,
and that the hook leaves the official loop alone when there is no constraint."""

from __future__ import annotations

import pytest
import torch

from motionbridge.daemon.model import constraints as C
from motionbridge.daemon.model import sampling


def known(length=20, frames=(0, 1, 7), channels=slice(0, 201), seed=0) -> C.Known:
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(length, 201, generator=g)
    mask = torch.zeros(length, 201, dtype=torch.bool)
    for f in frames:
        mask[f, channels] = True
    return C.Known(values, mask)


def test_known_entries_sit_on_the_models_noise_to_data_path():
    k = known()
    g = torch.Generator().manual_seed(1)
    x, x_hat = torch.randn(2, 30, 201, generator=g), torch.randn(2, 30, 201, generator=g)
    t = torch.tensor(0.3)
    out = C.impose_known(x, t, k, x_hat)
    m = k.mask
    eps = (x[:, :20] - t * x_hat[:, :20]) / (1 - t)  # the noise of the straight path through x towards x_hat
    want = (1 - t) * eps + t * k.values
    assert torch.allclose(out[:, :20][:, m], want[:, m], atol=1e-5)
    assert torch.equal(out[:, :20][:, ~m], x[:, :20][:, ~m])  # everything else untouched
    assert torch.equal(out[:, 20:], x[:, 20:])  # frames past the constraint window too
    done = C.impose_known(x_hat, torch.tensor(1.0), k, x_hat)  # at t = 1 the state is its prediction
    assert torch.allclose(done[:, :20][:, m], k.values.expand(2, 20, 201)[:, m], atol=1e-6)


def test_euler_with_a_projection_lands_on_the_known_values():
    k = known(channels=slice(3, 60))
    y0 = torch.randn(1, 20, 201, generator=torch.Generator().manual_seed(2))
    grid = sampling.time_grid(50)

    def velocity(t, x):  # any field: the free part goes where it likes
        return torch.sin(3 * x) - x

    out = sampling.euler(velocity, y0, grid, project=C.projection(k))
    assert torch.allclose(out[0][k.mask], k.values[k.mask], atol=1e-6)
    free = sampling.euler(velocity, y0, grid)
    assert not torch.allclose(free[0][k.mask], k.values[k.mask], atol=0.1)


def test_no_constraint_no_projection_and_the_loop_is_untouched():
    y0 = torch.randn(2, 12, 201, generator=torch.Generator().manual_seed(3))
    assert C.projection() is None
    grid = sampling.time_grid(10)
    velocity = lambda t, x: torch.cos(x) * (1 + t)  # noqa: E731
    assert torch.equal(sampling.euler(velocity, y0, grid), sampling.euler(velocity, y0, grid, None, None))


def gp_velocity(length: int, scale: float = 8.0):
    """The exact flow-matching velocity of a Gaussian-process prior over frames (squared-
    exponential kernel, every channel alike): a model whose samples are smooth, so seams can
    be measured. E[x1 | x_t] = t K (t^2 K + (1-t)^2 I)^-1 x_t; v = (E[x1 | x_t] - x_t) / (1 - t)."""
    i = torch.arange(length, dtype=torch.float64)
    kernel = torch.exp(-((i[:, None] - i[None]) ** 2) / (2 * scale**2)) + 1e-4 * torch.eye(length, dtype=torch.float64)
    eye = torch.eye(length, dtype=torch.float64)

    def velocity(t, x):
        t = float(t)
        gain = (t * kernel @ torch.linalg.inv(t * t * kernel + (1 - t) ** 2 * eye)).float()
        return (torch.einsum("ij,bjd->bid", gain, x) - x) / (1 - t)

    return velocity


def seam(seq: torch.Tensor, at: int) -> tuple[float, float]:
    """Largest velocity and acceleration at the join before frame `at`, each over the sequence's own p95."""
    vel = (seq[1:] - seq[:-1]).norm(dim=-1)
    acc = (seq[2:] - 2 * seq[1:-1] + seq[:-2]).norm(dim=-1)  # acc[k] is at frame k + 1
    return float(vel[at - 1 : at + 1].max() / vel.quantile(0.95)), float(acc[at - 2 : at + 1].max() / acc.quantile(0.95))


def test_seams_on_a_smooth_prior(record_property):
    """A take continued from the last 3 frames of another, under a smooth (Gaussian-process)
    prior: the seam with the model's own noise on the known frames, against the seed's noise
    there (plain replacement) and against plain concatenation."""
    length = 120
    velocity, grid = gp_velocity(length), sampling.time_grid(50)
    noise = [torch.randn(1, length, 201, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    before = sampling.euler(velocity, noise[0], grid)[0]
    k = torch.zeros(length, 201)
    k[:3] = before[-3:]
    mask = torch.zeros(length, 201, dtype=torch.bool)
    mask[:3] = True
    imposed = C.Known(k, mask)

    def seed_noise(t, x, x_hat):  # the alternative: the known frames on their path from the seed's noise
        return torch.where(mask, (1 - t) * noise[1][:, :length] + t * k, x)

    ours = sampling.euler(velocity, noise[1], grid, project=C.projection(imposed))[0]
    plain = sampling.euler(velocity, noise[1], grid, project=seed_noise)[0]
    free = sampling.euler(velocity, noise[1], grid)[0]
    figures = {
        "model_noise": seam(torch.cat([before[:-3], ours]), length),
        "seed_noise": seam(torch.cat([before[:-3], plain]), length),
        "concatenated": seam(torch.cat([before, free]), length),
    }
    record_property("seam_velocity_acceleration_over_p95", figures)
    print("seam (velocity, acceleration) / p95:", figures)
    assert torch.allclose(ours[:3], before[-3:], atol=1e-5)
    assert figures["model_noise"][0] <= 1.5  # velocity carries over
    assert figures["model_noise"][1] < 0.5 * figures["seed_noise"][1] < figures["concatenated"][1]
    assert figures["seed_noise"][0] > 1.5  # what the seed's noise would have cost


def test_loop_repeats_the_first_frames_moved_by_the_travel():
    loop = C.Loop(period=10, frames=3)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 16, 201, generator=g)
    x_hat = torch.randn(1, 16, 201, generator=g)
    x_hat[0, :, 0] = 0.5 * torch.arange(16.0)  # the root walks 0.5 per frame in x, 0 in z
    x_hat[0, :, 2] = 1.0
    t = torch.tensor(0.6)
    out = C.impose_loop(x, t, x_hat, loop)
    assert torch.allclose(C.loop_travel(x_hat, loop), torch.tensor([[5.0, 0.0]]))  # 10 frames x 0.5
    others = [c for c in range(201) if c not in range(201)[C.ROOT_XZ]]
    assert torch.equal(out[0, 10:13][:, others], x[0, :3][:, others])
    assert torch.allclose(out[0, 10:13, 0], x[0, :3, 0] + 0.6 * 5.0) and torch.equal(out[0, 10:13, 2], x[0, :3, 2])
    assert torch.equal(out[0, :10], x[0, :10]) and torch.equal(out[0, 13:], x[0, 13:])


def test_pinned_frames_skip_the_smoothing():
    k = known(length=12, frames=(2,), channels=slice(0, 9))  # frame 2: translation and root rotation only
    pinned = C.pinned_from_mask(k.mask)
    assert pinned.translation.tolist() == [[f == 2] * 3 for f in range(12)]
    assert pinned.rotations[2].tolist() == [True] + [False] * 21 and not pinned.rotations[[0, 1, 3]].any()
    rot6d = torch.randn(1, 12, 22, 6, generator=torch.Generator().manual_seed(5))
    halve = lambda r: r / 2  # noqa: E731 - a stand-in smoother
    out = C.keep_pinned_rotations(halve, pinned)(rot6d)
    assert torch.equal(out[0, 2, 0], rot6d[0, 2, 0]) and torch.equal(out[0, 2, 1:], rot6d[0, 2, 1:] / 2)
    assert torch.equal(out[0, 3], rot6d[0, 3] / 2)
    transl = torch.randn(1, 12, 3)
    out_t = C.keep_pinned_translation(halve, pinned)(transl)
    assert torch.equal(out_t[0, 2], transl[0, 2]) and torch.equal(out_t[0, 5], transl[0, 5] / 2)
    path = C.pinned_from_mask(known(length=12, frames=(4,), channels=[0, 2]).mask)  # x and z only
    out_p = C.keep_pinned_translation(halve, path)(transl)
    assert torch.equal(out_p[0, 4, [0, 2]], transl[0, 4, [0, 2]]) and torch.equal(out_p[0, 4, 1], transl[0, 4, 1] / 2)


@pytest.mark.parametrize("bad", ["shape", "dtype", "nan"])
def test_malformed_known_values_are_refused(bad):
    values, mask = torch.zeros(5, 201), torch.ones(5, 201, dtype=torch.bool)
    if bad == "shape":
        values = torch.zeros(5, 200)
    elif bad == "dtype":
        mask = mask.float()
    else:
        values[2, 7] = float("nan")
    with pytest.raises(ValueError):
        C.Known(values, mask)


def test_reconstruction_guidance_pulls_the_clean_prediction_towards_the_known_values():
    k = known(length=20, frames=(0, 5), channels=slice(0, 201), seed=7)
    y0 = torch.randn(1, 20, 201, generator=torch.Generator().manual_seed(8))
    grid = sampling.time_grid(20)
    velocity = lambda t, x: torch.tanh(x) - x  # noqa: E731 - a field that ignores the constraint

    def error(out):
        return float(((out[0] - k.values) ** 2)[k.mask].mean())

    free = error(sampling.euler(velocity, y0, grid))
    guided = error(sampling.euler(C.reconstruction_guidance(velocity, k, 0.5), y0, grid))
    assert guided < 0.5 * free  # soft: closer, not exact (replacement is exact)
    unmasked = ~k.mask.any(-1)  # frames without constraints follow the field alone
    assert torch.allclose(
        sampling.euler(C.reconstruction_guidance(velocity, k, 0.5), y0, grid)[0, unmasked], sampling.euler(velocity, y0, grid)[0, unmasked],
    )
