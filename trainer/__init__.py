"""Training side: facesets, extraction, models and the training loop.

Importing this package imports nothing heavy; only the model, loss and loop modules import torch.
"""
