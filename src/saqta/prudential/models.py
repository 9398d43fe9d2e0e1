"""Tables of the system of record that belong to `saqta.prudential` (on the shared `Base`)."""

from __future__ import annotations
