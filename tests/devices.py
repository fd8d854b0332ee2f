"""The one place tests ask for CUDA: ``needs_cuda`` skips a test where torch finds no CUDA device."""
import pytest
import torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA device (torch.cuda.is_available() is False here)")
