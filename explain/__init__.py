"""Explanations of the trained model: Grad-CAM per clip and per class (see gradcam.py)."""
