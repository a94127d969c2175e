"""The parts of bench/quota.py (issue 9's benchmark): scales, the stage each part runs on, and
one module per measured property."""
