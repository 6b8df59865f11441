"""Handing a tip to a partner agency: what may leave (`shareable.py`) and the packet PDF."""
