"""Shared test setup: one torch thread per pytest worker (two workers share the 2-core machine)."""
import torch

torch.set_num_threads(1)
