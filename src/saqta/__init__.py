"""Saqta: the information system of Kazakhstan's Social Health Insurance Fund and the prudential
reporting of branches of non-resident insurers."""

__version__ = "0.1.0"
