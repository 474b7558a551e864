"""The project's policy network (PyTorch): small enough to train on 2 CPU cores in under an hour and
to answer a chunk in a few milliseconds, conditioned on the instruction throughout the image encoder.

    image [B, 3, H, W] (0..1) -> 4 conv blocks, each modulated by the instruction (FiLM: a scale
        and shift per channel, so "the red cup" and "the blue cup" look for different things)
        -> spatial softmax: where each of the last block's channels is strongest (x, y), and how
        strongly (its peak's mean activation)
    state [B, S] (normalised joints) -> linear
    instruction [B, 384] (MiniLM embedding) -> linear
    concatenated -> MLP -> actions [B, T, 33] (normalised)

Inputs and output are forma_vla.policy's ONNX signature, so the ONNX export of this network is a
policy the vla node runs like any user's.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from forma_vla.action_space import ACTION_DIM
from forma_vla.policy import INSTRUCTION_DIM

STATE_CLAMP = 5.0  # normalised state, in stds


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    state_dim: int
    horizon: int = 10  # actions per chunk
    image_size: tuple[int, int] = (80, 60)  # (W, H)
    channels: tuple[int, ...] = (32, 64, 64, 64)
    hidden: int = 512
    dropout: float = 0.1

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> NetworkConfig:
        d = dict(d)
        d["image_size"], d["channels"] = tuple(d["image_size"]), tuple(d["channels"])
        return cls(**d)


class _FilmBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(8, c_out)
        self.film = nn.Linear(INSTRUCTION_DIM, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(instruction).chunk(2, dim=1)
        x = self.norm(self.conv(x))
        return torch.relu(x * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None])


class PolicyNetwork(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        chans = (3, *config.channels)
        strides = (2, 2, 2, 1)
        self.blocks = nn.ModuleList(
            _FilmBlock(chans[i], chans[i + 1], strides[i] if i < len(strides) else 1) for i in range(len(chans) - 1)
        )
        width, height = config.image_size
        for s in strides[: len(config.channels)]:
            width, height = (width + 2 - 3) // s + 1, (height + 2 - 3) // s + 1
        xs = torch.linspace(-1.0, 1.0, width).repeat(height)
        ys = torch.linspace(-1.0, 1.0, height).repeat_interleave(width)
        self.register_buffer("grid_x", xs, persistent=False)
        self.register_buffer("grid_y", ys, persistent=False)
        c = config.channels[-1]
        self.state_in = nn.Linear(config.state_dim, 128)
        self.instruction_in = nn.Linear(INSTRUCTION_DIM, 128)
        self.head = nn.Sequential(
            nn.Linear(3 * c + 256, config.hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, config.horizon * ACTION_DIM),
        )

    def forward(self, image: torch.Tensor, state: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        state = state.clamp(-STATE_CLAMP, STATE_CLAMP)  # a state far outside the data says nothing more
        x = image - 0.5
        for block in self.blocks:
            x = block(x, instruction)
        b, c = x.shape[:2]
        flat = x.reshape(b, c, -1)
        attention = torch.softmax(flat, dim=2)
        keypoints = torch.cat([(attention * self.grid_x).sum(2), (attention * self.grid_y).sum(2),
                               flat.mean(2)], dim=1)
        features = torch.cat([keypoints, torch.relu(self.state_in(state)),
                              torch.relu(self.instruction_in(instruction))], dim=1)
        return self.head(features).reshape(b, self.config.horizon, ACTION_DIM)
