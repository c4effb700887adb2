"""Micro- and macro-expression spotting in long videos, and its MEGC-style evaluation."""
