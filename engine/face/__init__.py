"""Faces: detection, landmarks, the alignment contract, masks, pose and smoothing."""
